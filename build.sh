#!/usr/bin/env bash
# ngx_turso_members: build, test and run.
#
#   ./build.sh          build build/ngx_turso_members_module.so for the
#                       packaged nginx (installs what is missing first)
#   ./build.sh test     build, then run the unit tests and the t/ suite
#   ./build.sh run      build, then serve the gateway on 127.0.0.1:8080
#   ./build.sh test --asan [--nginx 1.22|1.26]
#                       the suite under nginx built from source with
#                       AddressSanitizer and UBSan (--valgrind: valgrind)
#   ./build.sh fuzz [SECONDS]
#                       run the JSON validator's libFuzzer target
#   ./build.sh bench    benchmark against plain proxy_pass, Lua and njs
#   ./build.sh deb      build the Debian package
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"
nginx_src=/usr/share/nginx/src

packages=(nginx nginx-dev libjansson-dev libssl-dev gcc make curl wrk
          openssl procps libtest-tcp-perl libhttp-daemon-perl chromium)

say() { printf '%s\n' "build.sh: $*" >&2; }

deps() {
    local missing=() p
    for p in "${packages[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        say "not root: run as root or install: apt-get install ${missing[*]}"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    deps
    mkdir -p "$build"
    local objs="$build/nginx"
    if [ ! -f "$objs/Makefile" ] || [ "$top/config" -nt "$objs/Makefile" ]
    then
        say "configuring against $(/usr/sbin/nginx -v 2>&1)"
        (
            cd "$nginx_src"
            # shellcheck disable=SC1091
            . ./conf_flags
            ./configure \
                --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
                --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" \
                "${NGX_CONF_FLAGS[@]}" \
                --add-dynamic-module="$top" --builddir="$objs"
        ) > "$build/configure.log" 2>&1 || {
            cat "$build/configure.log" >&2; exit 1; }
    fi
    make -s -f "$objs/Makefile" -C "$nginx_src" modules >&2
    # a new file renamed into place: a loaded .so must not change under
    # the workers that mapped it
    cp "$objs/ngx_turso_members_module.so" "$build/.module.so.new"
    mv -f "$build/.module.so.new" "$build/ngx_turso_members_module.so"
    say "built $build/ngx_turso_members_module.so"
}

run_tests() {
    build
    make -s -C "$top/t/unit" test
    cd "$top"
    chmod 0755 "$top" "$top/t"
    prove -r t/
}

run_gateway() {
    build
    local prefix="$build/run" mock_pid="" upstream tls=""
    mkdir -p "$prefix/logs" "$prefix/conf"
    chmod 0755 "$build" "$prefix"
    if [ -n "${TURSO_API_TOKEN:-}" ]; then
        say "proxying to https://api.turso.tech with \$TURSO_API_TOKEN"
        upstream="server api.turso.tech:443;"
        tls="proxy_ssl_server_name on; proxy_ssl_name api.turso.tech;
             proxy_ssl_verify on; proxy_ssl_verify_depth 3;
             proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
             proxy_set_header Host api.turso.tech;"
        scheme=https
        token_directive="turso_members_token_env TURSO_API_TOKEN;"
    else
        say "TURSO_API_TOKEN is not set: proxying to the bundled Turso mock"
        say "(users alice bob carol dave erin frank, organization acme)"
        printf 'mock-token\n' > "$prefix/conf/token"
        chmod 0640 "$prefix/conf/token"
        node "$top/t/mock/turso-mock.js" --port 8081 --token mock-token &
        mock_pid=$!
        trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null' EXIT
        upstream="server 127.0.0.1:8081;"
        scheme=http
        token_directive="turso_members_token_file $prefix/conf/token;"
    fi
    cat > "$prefix/conf/nginx.conf" <<CONF
load_module $build/ngx_turso_members_module.so;
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log logs/access.log;
    upstream turso_api { $upstream keepalive 16; }
    server {
        listen 127.0.0.1:8080;
        $token_directive
        turso_members_cors_origins http://127.0.0.1:8082;
        location / {
            turso_members on;
            proxy_pass $scheme://turso_api\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            $tls
        }
    }
    server {
        # the example portal (examples/portal), on an origin of its own
        listen 127.0.0.1:8082;
        root $top/examples/portal;
        default_type text/html;
    }
}
CONF
    say "gateway on http://127.0.0.1:8080 (logs in $prefix/logs); try:"
    say "  curl -s -XPOST http://127.0.0.1:8080/v1/organizations/acme/members -d '{\"username\":\"bob\"}'"
    say "example portal: http://127.0.0.1:8082/ (docs/portals.md)"
    /usr/sbin/nginx -p "$prefix" -c conf/nginx.conf -e logs/error.log
}

case "${1:-build}" in
    build) build ;;
    test)
        if [ $# -gt 1 ]; then
            shift
            exec "$top/tools/sanitize.sh" "$@"
        fi
        run_tests ;;
    bench) build; shift; exec "$top/bench/run.sh" "$@" ;;
    deb) shift; exec "$top/tools/deb.sh" "$@" ;;
    run) run_gateway ;;
    fuzz) deps clang libclang-rt-14-dev; exec "$top/fuzz/run.sh" "${2:-60}" ;;
    *) say "usage: $0 [build|test [--asan|--valgrind]|run|fuzz [SECONDS]|bench|deb]"
       exit 2 ;;
esac
