#!/usr/bin/env bash
# The module built the way the README tells users of other nginx versions
# to build it (./build.sh build --nginx-src DIR: configure --with-compat,
# make modules), loaded with load_module into an nginx built from the same
# source with --with-compat (as nginx.org builds its packages), and the
# suite run against the pair.
#
#   tools/compat.sh [1.26|1.22|1.30] [prove arguments...]
#
# The nginx source comes from tools/nginx-source.sh (1.26: pristine
# upstream 1.26.3).  nginx is built in build/nginx-<version>-bin/ (once;
# about a minute), the module in build/nginx-<version>/.
#
# 1.30 is Debian sid's packaged nginx 1.30.6 instead (tools/nginx-sid.sh):
# its binary, run from a private root with sid's libraries, and the module
# built against its nginx-dev source tree with sid's own configure
# arguments (conf_flags), then pointed at the root's libjansson.
#
# Prove arguments default to every t/*.t but the Debian package's
# (t/*-deb.t).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
say() { printf '%s\n' "compat.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

# The suite (or the prove arguments) with nginx $1 loading module $2.
run_suite() {
    local files
    export TEST_NGINX_BINARY=$1
    export TEST_NGINX_MODULE=$2
    shift 2
    if [ $# -eq 0 ]; then
        mapfile -t files < <(cd "$top" && find t -maxdepth 1 -name '*.t' \
                                 -not -name '*-deb.t' | sort)
        set -- "${files[@]}"
    fi
    cd "$top"
    say "nginx: $("$TEST_NGINX_BINARY" -V 2>&1 | grep -E 'version|arguments' | tr '\n' ' ')"
    say "prove $* with $TEST_NGINX_BINARY and load_module $TEST_NGINX_MODULE"
    exec prove "$@"
}

version=${1:-1.26}
[ $# -eq 0 ] || shift

# shellcheck disable=SC2046,SC2119
install_missing gcc make libc6-dev libpcre2-dev zlib1g-dev libssl-dev \
                libjansson-dev curl perl libtest-tcp-perl \
                libhttp-daemon-perl $(node_packages)

if [ "$version" = 1.30 ]; then
    sid="$top/tools/nginx-sid.sh"
    nginx=$("$sid" nginx)
    src=$("$sid" src)
    mapfile -t flags < <("$sid" flags)
    "$top/build.sh" build --nginx-src "$src" -- "${flags[@]}"
    full=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$src/src/core/nginx.h")
    # a copy with the root's rpath: sid's libjansson, libc
    module="$build/sid/ngx_turso_members_module.so"
    cp "$build/nginx-$full/ngx_turso_members_module.so" "$module.new"
    "$sid" patch "$module.new"
    mv -f "$module.new" "$module"
    run_suite "$nginx" "$module" "$@"
fi

src=$("$top/tools/nginx-source.sh" "$version")
full=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$src/src/core/nginx.h")
objs="$build/nginx-$full-bin"

# nginx as a distribution would ship it: --with-compat and the usual
# modules; --with-debug for t/130-secrets.t (which reads the debug log)
conf_args=(
    --prefix="$objs/prefix"
    --builddir="$objs"
    --with-compat
    --with-debug
    --with-threads
    --with-http_ssl_module
    --with-http_v2_module
    --with-http_realip_module
    --with-http_auth_request_module
    --with-http_sub_module
    --with-http_addition_module
    --with-http_slice_module
    --with-http_stub_status_module
)
stamp=$(printf '%s\n' "$src" "${conf_args[@]}" | sha256sum | cut -c1-16)
if [ ! -x "$objs/nginx" ] || [ "$(cat "$objs/.stamp" 2>/dev/null)" != "$stamp" ]
then
    say "building nginx $full (--with-compat) in $objs"
    rm -rf "$objs"
    mkdir -p "$objs"
    (cd "$src" && ./configure "${conf_args[@]}") > "$objs/configure.log" 2>&1 || {
        tail -30 "$objs/configure.log" >&2; exit 1; }
    make -s -j"$(nproc)" -f "$objs/Makefile" -C "$src" > "$objs/make.log" 2>&1 || {
        tail -40 "$objs/make.log" >&2; exit 1; }
    echo "$stamp" > "$objs/.stamp"
fi

# the module, exactly as the README says
"$top/build.sh" build --nginx-src "$src"
run_suite "$objs/nginx" "$build/nginx-$full/ngx_turso_members_module.so" "$@"
