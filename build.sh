#!/usr/bin/env bash
# ngx_turso_members: build, test and run.
#
#   ./build.sh          build build/ngx_turso_members_module.so for the
#                       packaged nginx (installs what is missing first)
#   ./build.sh build --nginx-src DIR [-- CONFIGURE-ARGS...]
#                       build build/nginx-<version>/ngx_turso_members_module.so
#                       for another nginx, from its source tree DIR
#                       (configure --with-compat, make modules)
#   ./build.sh test     build, then run the unit tests and the t/ suite
#   ./build.sh run      build, then serve the gateway on 127.0.0.1:8080 in
#                       front of the Turso mock on 8081 (Ctrl-C stops both)
#   ./build.sh test --asan [--nginx 1.22|1.26]
#                       the suite under nginx built from source with
#                       AddressSanitizer and UBSan (--valgrind: valgrind)
#   ./build.sh fuzz [SECONDS]
#                       run the libFuzzer targets (JSON validator, log
#                       masking), SECONDS split between them
#   ./build.sh bench    benchmark against plain proxy_pass, Lua and njs
#                       (bench/run.sh installs what it alone uses)
#   ./build.sh deb      build the Debian package
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"
nginx_src=/usr/share/nginx/src

# What each command installs from Debian when missing (the README's
# "What the commands install" lists the same):
#   build (every command): the packaged nginx, its module build tree, the
#   compiler and the libraries the module links
build_packages=(nginx nginx-dev libjansson-dev libssl-dev gcc make)
#   run: Node.js for the Turso mock (unless TURSO_API_TOKEN is set), the CA
#   bundle for api.turso.tech (when it is)
#   test: what the t/ suite uses besides: curl and Node's HTTP/2 clients,
#   openssl (test certificates), ps, wrk (t/120's load), the Perl modules
#   of the harness, npm (the pinned Node client, playwright-core) and
#   chromium (t/166, the portal in a browser)
test_packages=(curl openssl procps wrk ca-certificates libtest-tcp-perl
               libhttp-daemon-perl chromium)

say() { printf '%s\n' "build.sh: $*" >&2; }

# install_missing, node_packages
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

build() {
    install_missing "${build_packages[@]}"
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

# The module for the nginx whose source tree is $1 (any version built with
# --with-compat: nginx.org's packages, most distributions'): nginx's own
# configure --with-compat --add-dynamic-module, then make modules.  Extra
# arguments go to configure.
build_for_source() {
    local src version objs out stamp
    if [ ! -d "$1" ]; then
        say "--nginx-src $1: no such directory"
        exit 2
    fi
    src=$(cd "$1" && pwd)
    shift
    if [ ! -x "$src/configure" ] || [ ! -f "$src/src/core/nginx.h" ]; then
        say "$src is not an nginx source tree (no configure, src/core/nginx.h)"
        exit 2
    fi
    version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
                  "$src/src/core/nginx.h")

    # what nginx's configure and the module need; on other systems,
    # configure says what is missing
    if command -v dpkg-query >/dev/null; then
        install_missing gcc make libc6-dev libjansson-dev libssl-dev \
                        libpcre2-dev zlib1g-dev
    fi

    objs="$build/nginx-$version"
    out="$objs/ngx_turso_members_module.so"
    stamp=$(printf '%s\n' "$src" "$@" | sha256sum | cut -c1-16)
    if [ ! -f "$objs/Makefile" ] || [ "$top/config" -nt "$objs/Makefile" ] \
       || [ "$(cat "$objs/.stamp" 2>/dev/null)" != "$stamp" ]
    then
        say "configuring against nginx $version in $src (--with-compat)"
        rm -rf "$objs"
        mkdir -p "$objs"
        (cd "$src" && ./configure --with-compat --add-dynamic-module="$top" \
                         --builddir="$objs" "$@") \
            > "$build/configure-$version.log" 2>&1 || {
            tail -30 "$build/configure-$version.log" >&2
            say "configure failed: $build/configure-$version.log"
            exit 1
        }
        echo "$stamp" > "$objs/.stamp"
    fi
    make -s -f "$objs/Makefile" -C "$src" modules >&2
    cp "$objs/ngx_turso_members_module.so" "$objs/.module.so.new"
    mv -f "$objs/.module.so.new" "$out"
    say "built $out for nginx $version"
    say "install it in nginx's modules directory, then in nginx.conf's main context:"
    say "  load_module modules/ngx_turso_members_module.so;"
}

# The unit tests and the t/ suite.  Nothing outside build/ and the
# temp folder is written, but for t/node/node_modules/ (npm ci of the
# pinned Node packages, git-ignored): the nginx prefixes go to
# build/servroot/ when nginx's workers (nobody, when root) can reach it,
# otherwise the harness makes a 0755 directory in the temp folder
# (docs/testing.md) -- no mode is changed here; npm keeps its cache and
# logs in build/npm; the Debian package's test installs it in a private
# mount namespace, never into the system.
run_tests() {
    # shellcheck disable=SC2046
    install_missing "${test_packages[@]}" $(node_packages npm)
    build
    make -s -C "$top/t/unit" test
    cd "$top"
    export npm_config_cache="$build/npm"
    mkdir -p "$build/servroot"
    if [ -z "${TEST_NGINX_SERVROOT:-}" ] \
       && { [ "$(id -u)" != 0 ] || others_can_enter "$build/servroot"; }
    then
        export TEST_NGINX_SERVROOT="$build/servroot"
    fi
    # t/*.t only: not the copies in a servroot kept after a failure
    prove t/
}

# --- ./build.sh run ----------------------------------------------------------
#
# nginx and the mock run in the background while the script waits for them,
# so that a TERM to the script runs its trap at once (bash defers traps
# until a foreground child ends); the EXIT trap stops whatever was started
# and waits until it is gone, so the ports are free when the script ends.
# The configuration is made of one function per server block, listed in
# run_servers: to serve something more, add a function and its name.

# (the environment can move it all, for t/172-run.t on a busy machine)
run_dir=${TURSO_MEMBERS_RUN_DIR:-$build/run}
run_gateway_port=${TURSO_MEMBERS_RUN_PORT:-8080}
run_mock_port=${TURSO_MEMBERS_RUN_MOCK_PORT:-8081}
run_portal_port=${TURSO_MEMBERS_RUN_PORTAL_PORT:-8082}
run_servers=(run_server_gateway run_server_portal)
run_pids=()
run_www=""
run_www_tmp=""

# Stops what run_gateway started (nginx first, then the mock), waits for it.
run_stop() {
    local pid
    trap - INT TERM EXIT
    for pid in "${run_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ ${#run_pids[@]} -eq 0 ] || say "stopped"
    run_pids=()
    [ -z "$run_www_tmp" ] || rm -rf "$run_www_tmp"
    run_www_tmp=""
}

# True when another user (nginx's workers: nobody, when started by root)
# can reach $1: every directory from / down to it lets others through.
others_can_enter() {
    local dir
    dir=$(cd "$1" && pwd -P) || return 1
    while :; do
        [ -n "$(find "$dir" -maxdepth 0 -perm -o=x)" ] || return 1
        [ "$dir" != / ] || return 0
        dir=$(dirname "$dir")
    done
}

# What nginx's workers read and write: the portal's files and the temp
# directories.  In the run directory when the workers can reach it,
# otherwise (as root, in a checkout under /root or in a 0700 folder) in a
# 0755 directory of the system temp folder, removed when the run stops;
# no mode of the checkout is changed.
run_workers_dir() {
    local tmp
    if [ "$(id -u)" != 0 ] || others_can_enter "$run_dir"; then
        run_www="$run_dir/www"
        rm -rf "$run_www"
        mkdir -p "$run_www"
    else
        for tmp in "${TMPDIR:-/tmp}" /tmp; do
            others_can_enter "$tmp" || continue
            run_www_tmp=$(mktemp -d "$tmp/turso-members-run.XXXXXX")
            break
        done
        if [ -z "$run_www_tmp" ]; then
            say "no directory nginx's workers (nobody) can reach: set TMPDIR"
            exit 1
        fi
        run_www="$run_www_tmp"
    fi
    chmod 0755 "$run_www"
    mkdir -p "$run_www/client_body_temp" "$run_www/proxy_temp"
    # a copy: the portal as it was when the run started
    cp -R "$top/examples/portal" "$run_www/portal"
    chmod -R a+rX "$run_www/portal"
}

# True when something accepts connections on 127.0.0.1:$1.
port_taken() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {
    local i
    for i in $(seq 1 100); do
        port_taken "$1" && return 0
        sleep 0.05
    done
    return 1
}

# The gateway's server block: the bundled mock or api.turso.tech upstream.
run_server_gateway() {
    cat <<CONF
    upstream turso_api {
        $run_upstream
        keepalive 16;
    }

    server {
        listen 127.0.0.1:$run_gateway_port;

        # the example portal's origin (docs/portals.md)
        turso_members_cors_origins http://127.0.0.1:$run_portal_port;

        # the metrics page (docs/operations.md); keep it local in production
        location = /metrics {
            turso_members_status;
        }

        # everything else: the gateway, /v1 and /v2 in one location
        location / {
            turso_members on;
            $run_token
            access_log logs/audit.log turso_audit;

            proxy_pass $run_scheme://turso_api\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
$run_tls
        }
    }
CONF
}

# The example browser portal (examples/portal), on an origin of its own.
run_server_portal() {
    cat <<CONF

    server {
        listen 127.0.0.1:$run_portal_port;
        root $run_www/portal;
        default_type text/html;
    }
CONF
}

run_config() {
    local server
    cat <<CONF
load_module $build/ngx_turso_members_module.so;
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log logs/access.log;
    client_body_temp_path $run_www/client_body_temp;
    proxy_temp_path $run_www/proxy_temp;

    # the audit log (docs/operations.md): one JSON object per request
    log_format turso_audit escape=json
        '{"time":"\$time_iso8601","client":"\$remote_addr",'
        '"user":"\$remote_user","client_dn":"\$ssl_client_s_dn",'
        '"request_id":"\$turso_members_request_id",'
        '"trace_id":"\$turso_members_trace_id",'
        '"operation":"\$turso_members_operation","org":"\$turso_members_org",'
        '"username":"\$turso_members_username","email":"\$turso_members_email",'
        '"role":"\$turso_members_role",'
        '"requested_role":"\$turso_members_requested_role",'
        '"code":"\$turso_members_code",'
        '"status":\$status,"upstream_status":"\$upstream_status",'
        '"token_id":"\$turso_members_token_id"}';

CONF
    for server in "${run_servers[@]}"; do
        "$server"
    done
    echo "}"
}

run_gateway() {
    # Node.js for the mock, or the CA bundle for api.turso.tech
    if [ -n "${TURSO_API_TOKEN:-}" ]; then
        install_missing ca-certificates
    else
        # shellcheck disable=SC2046
        install_missing $(node_packages)
    fi
    build

    local port pid status=0
    for port in "$run_gateway_port" "$run_mock_port" "$run_portal_port"; do
        if port_taken "$port"; then
            pid=$(cat "$run_dir/logs/nginx.pid" 2>/dev/null || true)
            say "127.0.0.1:$port is in use${pid:+ (an earlier ./build.sh run? its nginx had pid $pid)}"
            say "stop that first (Ctrl-C in its terminal, or kill its process)"
            exit 1
        fi
    done

    mkdir -p "$run_dir/logs" "$run_dir/conf"

    trap run_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    run_workers_dir

    if [ -n "${TURSO_API_TOKEN:-}" ]; then
        say "proxying to https://api.turso.tech with \$TURSO_API_TOKEN"
        run_upstream="server api.turso.tech:443;"
        run_scheme=https
        run_token="turso_members_token_env TURSO_API_TOKEN;"
        run_tls="            proxy_set_header Host api.turso.tech;
            proxy_ssl_server_name on;
            proxy_ssl_name api.turso.tech;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 3;
            proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"
    else
        printf 'mock-token\n' > "$run_dir/conf/token"
        chmod 0640 "$run_dir/conf/token"
        node "$top/t/mock/turso-mock.js" --port "$run_mock_port" \
             --token mock-token > "$run_dir/logs/mock.log" 2>&1 &
        run_pids=("$!")
        wait_port "$run_mock_port" || {
            cat "$run_dir/logs/mock.log" >&2
            say "the mock did not start"
            exit 1
        }
        run_upstream="server 127.0.0.1:$run_mock_port;"
        run_scheme=http
        run_token="turso_members_token_file $run_dir/conf/token;"
        run_tls=""
    fi

    run_config > "$run_dir/conf/nginx.conf"

    : > "$run_dir/logs/error.log"
    /usr/sbin/nginx -p "$run_dir" -c conf/nginx.conf -e logs/error.log &
    run_pids=("$!" "${run_pids[@]}")

    if ! wait_port "$run_gateway_port"; then
        grep -E '\[(emerg|alert|crit)\]' "$run_dir/logs/error.log" >&2 || true
        say "nginx did not start: $run_dir/logs/error.log"
        exit 1
    fi

    if [ -n "${TURSO_API_TOKEN:-}" ]; then
        say "gateway on http://127.0.0.1:$run_gateway_port -> https://api.turso.tech"
    else
        say "gateway on http://127.0.0.1:$run_gateway_port -> the bundled Turso mock on 127.0.0.1:$run_mock_port"
        say "  the mock's organization acme: alice (owner), carol (admin);"
        say "  users bob, dave, erin, frank exist and can be added or invited"
    fi
    say "try:  curl -s -XPOST http://127.0.0.1:$run_gateway_port/v1/organizations/acme/members -d '{\"username\":\"bob\"}'"
    say "      curl -s http://127.0.0.1:$run_gateway_port/metrics"
    say "example portal: http://127.0.0.1:$run_portal_port/ (docs/portals.md), a copy in $run_www/portal"
    say "logs: $run_dir/logs/audit.log (one JSON line per request), error.log"
    say "stop: Ctrl-C (or kill $$)"

    # returns when nginx exits, or at once on INT/TERM (the traps)
    wait "${run_pids[0]}" || status=$?
    # 0: stopped by a signal (Ctrl-C reaches nginx too)
    [ "$status" -eq 0 ] || say "nginx exited (status $status): $run_dir/logs/error.log"
    exit "$status"
}


case "${1:-build}" in
    build)
        if [ "${2:-}" = --nginx-src ]; then
            src=${3:?--nginx-src needs a directory}
            shift 3
            [ "${1:-}" != -- ] || shift
            build_for_source "$src" "$@"
        elif [ $# -gt 1 ]; then
            say "usage: $0 build [--nginx-src DIR [-- CONFIGURE-ARGS...]]"
            exit 2
        else
            build
        fi ;;
    test)
        if [ $# -gt 1 ]; then
            shift
            exec "$top/tools/sanitize.sh" "$@"
        fi
        run_tests ;;
    bench) build; shift; exec "$top/bench/run.sh" "$@" ;;
    deb) shift; exec "$top/tools/deb.sh" "$@" ;;
    run) run_gateway ;;
    fuzz) install_missing gcc make libjansson-dev clang libclang-rt-14-dev
          exec "$top/fuzz/run.sh" "${2:-60}" ;;
    *) say "usage: $0 [build [--nginx-src DIR]|test [--asan|--valgrind]|run|fuzz [SECONDS]|bench|deb]"
       exit 2 ;;
esac
