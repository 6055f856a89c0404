#!/usr/bin/env bash
# The test suite under nginx built from source with the module built in,
# under AddressSanitizer + UndefinedBehaviorSanitizer or under valgrind.
#
#   tools/sanitize.sh --asan     [--nginx 1.22|1.26] [prove arguments...]
#   tools/sanitize.sh --valgrind [--nginx 1.22|1.26] [prove arguments...]
#   tools/sanitize.sh --asan --nginx 1.26 --build-only
#
# (./build.sh test --asan ... runs this.)  --nginx 1.22 (the default) is
# Debian's 1.22.1 source, the one /usr/sbin/nginx is built from; 1.26 is
# upstream 1.26.3 (tools/nginx-source.sh).  Prove arguments default to
# every t/*.t but t/*-deb.t.  Builds are cached in
# build/nginx-<version>-<mode>/ and only remade when the module's sources
# change.  See docs/testing.md.
#
# Any sanitizer report, valgrind error, or master process exiting with the
# sanitizer's exit code fails the test file (see t/lib/TursoMembers/Test.pm,
# TEST_NGINX_SANITIZE / TEST_NGINX_VALGRIND).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
say() { printf '%s\n' "sanitize.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

mode=asan
version=1.22
build_only=
while [ $# -gt 0 ]; do
    case "$1" in
        --asan) mode=asan; shift ;;
        --valgrind) mode=valgrind; shift ;;
        --nginx) version=${2:?--nginx needs 1.22 or 1.26}; shift 2 ;;
        --nginx=*) version=${1#--nginx=}; shift ;;
        --build-only) build_only=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
case "$version" in
    1.22|1.22.1) version=1.22 ;;
    1.26|1.26.3) version=1.26 ;;
    *) say "unknown nginx version $version (1.22 or 1.26)"; exit 2 ;;
esac

# --- packages ---------------------------------------------------------------

packages=(gcc make libc6-dev libpcre2-dev zlib1g-dev libssl-dev
          libjansson-dev dpkg-dev curl perl libtest-tcp-perl
          libhttp-daemon-perl)
[ "$mode" = valgrind ] && packages+=(valgrind)
# shellcheck disable=SC2046,SC2119
install_missing "${packages[@]}" $(node_packages)

# --- nginx with the module built in -----------------------------------------

src=$("$top/tools/nginx-source.sh" "$version")
objs="$build/nginx-$version-$mode"

case "$mode" in
    asan)
        cc_opt="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
        # nginx's core passes NULL with length 0 to memcpy() and accesses
        # unaligned integers: those checks recover, so that tools/ubsan.supp
        # can suppress them in nginx's files (not in the module's)
        cc_opt="$cc_opt -fno-sanitize-recover=undefined"
        cc_opt="$cc_opt -fsanitize-recover=nonnull-attribute,alignment"
        ld_opt="-fsanitize=address,undefined"
        ;;
    valgrind)
        cc_opt="-O0 -g -fno-omit-frame-pointer"
        ld_opt=""
        ;;
esac

conf_args=(
    --prefix="$objs/prefix"
    --builddir="$objs"
    --with-debug
    --with-threads
    --with-http_ssl_module
    --with-http_v2_module
    --with-http_auth_request_module
    --with-http_realip_module
    --with-http_sub_module
    --with-http_addition_module
    --with-http_slice_module
    --with-http_stub_status_module
    --with-cc-opt="$cc_opt"
    --with-ld-opt="$ld_opt"
    --add-module="$top"
)

# reconfigure when the flags, the module's config or nginx's source change
stamp=$(printf '%s\n' "$src" "${conf_args[@]}" | sha256sum | cut -c1-16)
old_stamp=$(cat "$objs/.stamp" 2>/dev/null || true)
if [ ! -f "$objs/Makefile" ] || [ "$old_stamp" != "$stamp" ] \
   || [ "$top/config" -nt "$objs/Makefile" ]
then
    say "configuring nginx $version ($mode) in $objs"
    # other flags or another source: start afresh
    [ "$old_stamp" = "$stamp" ] || rm -rf "$objs"
    mkdir -p "$objs"
    (cd "$src" && ./configure "${conf_args[@]}") > "$objs/configure.log" 2>&1 || {
        tail -40 "$objs/configure.log" >&2
        say "configure failed: $objs/configure.log"
        exit 1
    }
    echo "$stamp" > "$objs/.stamp"
fi

say "building nginx $version ($mode)"
make -s -j"$(nproc)" -f "$objs/Makefile" -C "$src" > "$objs/make.log" 2>&1 || {
    tail -60 "$objs/make.log" >&2
    say "make failed: $objs/make.log"
    exit 1
}
say "built $objs/nginx: $("$objs/nginx" -v 2>&1)"

[ -n "$build_only" ] && exit 0

# --- the suite --------------------------------------------------------------

# every test file but those about the Debian package, which test the packaged
# /usr/sbin/nginx with the packaged module (TEST_NGINX_STATIC=1 would have
# the module twice); the plain ./build.sh test runs them
if [ $# -eq 0 ]; then
    mapfile -t files < <(cd "$top" && find t -name '*.t' \
        -not -path 't/servroot*' -not -path '*/node_modules/*' \
        -not -name '*-deb.t' | sort)
    set -- "${files[@]}"
fi

cd "$top"
# workers run as nobody when root: every directory on the way readable
chmod 0755 "$top" "$top/t" "$build"

# reports of nginx started outside the harness's per-instance log paths,
# where the workers (nobody) can write them even when the checkout is in a
# folder they cannot enter
reports=$(mktemp -d "${TMPDIR:-/tmp}/turso-members-reports.XXXXXX")
chmod 1777 "$reports"
# the suppression files too: LeakSanitizer reads them in each worker when
# it exits, as nobody
supp=$(mktemp -d "${TMPDIR:-/tmp}/turso-members-supp.XXXXXX")
cp "$top"/tools/*.supp "$supp/"
chmod 0755 "$supp"
chmod 0644 "$supp"/*.supp
trap 'rm -rf "$reports" "$supp"' EXIT

export TEST_NGINX_BINARY="$objs/nginx"
export TEST_NGINX_STATIC=1

case "$mode" in
    asan)
        make -s -C "$top/t/unit" test
        export TEST_NGINX_SANITIZE=1
        export TEST_NGINX_TIMEOUT_FACTOR=${TEST_NGINX_TIMEOUT_FACTOR:-2}
        # 86: the exit code the harness looks for (a worker's death is
        # only a [notice] in error.log); the harness adds a log_path per
        # nginx prefix, these are for anything else
        asan=detect_leaks=1:exitcode=86:halt_on_error=1
        asan=$asan:check_initialization_order=1:strict_init_order=1
        asan=$asan:detect_stack_use_after_return=1
        export ASAN_OPTIONS="$asan:log_path=$reports/asan"
        # halt_on_error=0: only the recoverable checks (nonnull-attribute,
        # alignment) go on after a report; everything else aborts
        ubsan=print_stacktrace=1:halt_on_error=0:exitcode=86
        ubsan=$ubsan:suppressions=$supp/ubsan.supp
        export UBSAN_OPTIONS="$ubsan:log_path=$reports/ubsan"
        export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
        ;;
    valgrind)
        export TEST_NGINX_VALGRIND=1
        export TEST_NGINX_VALGRIND_OPTS="--suppressions=$supp/valgrind.supp ${TEST_NGINX_VALGRIND_OPTS:-}"
        export TEST_NGINX_TIMEOUT_FACTOR=${TEST_NGINX_TIMEOUT_FACTOR:-10}
        ;;
esac

say "prove $* with $TEST_NGINX_BINARY ($mode)"
status=0
prove "$@" || status=$?

if [ -n "$(ls -A "$reports")" ]; then
    say "sanitizer reports outside the harness's prefixes:"
    head -c 20000 "$reports"/* >&2
    status=1
fi
exit "$status"
