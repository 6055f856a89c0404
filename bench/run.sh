#!/usr/bin/env bash
# ngx_turso_members benchmark: what the module costs the nginx worker per
# request, against plain proxy_pass, the same gateway in Lua
# (lua-nginx-module + lua-cjson) and in njs, on loopback.
#
#   ./build.sh bench [options]      (builds the module, then runs this)
#   bench/run.sh [options]          (with build/ngx_turso_members_module.so)
#
#   --rounds N        alternating rounds per attempt (default 21)
#   --duration S      whole seconds per wrk run (default 1)
#   --connections C   wrk connections, one thread (default 32)
#   --attempts N      attempts when the control strays (default 2)
#   --mem-requests N  requests of the memory check (default 300000, 0: skip)
#   --cg-requests N   requests per path under callgrind (default 2000,
#                     0: skip)
#   --docs            also draw the chart into docs/performance.png
#
# Exit status: 0 every verdict PASS, 1 a FAIL, 3 no FAIL but a verdict
# INCONCLUSIVE (the control strayed in every attempt), 2 the bench could
# not run.  BENCH_PORT (default 28080) chooses the ports: +1..+4 for the
# gateways, +5 and +6 for callgrind, +10 for the upstream.  Everything is
# written to build/bench/; the report is also build/bench/results.md.
#
# One nginx, one worker, serves the four side by side:
#   A plain    proxy_pass with no checks: the limit
#   B module   turso_members on
#   C lua      bench/gateway.lua in access_by_lua, lua-cjson
#   D njs      bench/gateway.js, js_content + subrequest
# in front of one upstream: another nginx, one worker, answering fixed
# bodies with "return" (200 for organization acme, 409 for taken), over
# keep-alive connections.  The measure is the gateway worker's CPU time
# over a wrk run (user + system: utime + stime of /proc/PID/stat, read in
# nanoseconds from the process's CPU clock rather than in 10 ms ticks),
# divided by the requests of the run: time another process takes from the
# worker on the shared cores is not counted, unlike in requests per
# second.  Each round runs plain proxy_pass, the module, plain proxy_pass
# again (the control) on the valid path, the same on the 409 path, then
# the module's rejected body, Lua and njs on the valid path; each ratio is
# taken within a round, and its median over the rounds is judged.
# When the control (plain again ÷ plain) is more than 2% from 1 on either
# path, the machine moved too much for a verdict: the rounds run again
# (--attempts), and the CPU verdicts are INCONCLUSIVE if it never settles.
set -euo pipefail

started=$SECONDS
bench=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$bench")
work="$top/build/bench"
module="$top/build/ngx_turso_members_module.so"
nginx=/usr/sbin/nginx
mods=/usr/lib/nginx/modules

rounds=21
duration=1
connections=32
attempts=2
mem_requests=300000
cg_requests=2000
docs=0

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --attempts) attempts=$2; shift 2 ;;
        --mem-requests) mem_requests=$2; shift 2 ;;
        --cg-requests) cg_requests=$2; shift 2 ;;
        --docs) docs=1; shift ;;
        *) sed -n '2,22p' "$0" >&2; exit 2 ;;
    esac
done

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "$*"; exit 2; }

port=${BENCH_PORT:-28080}
p_plain=$((port + 1))
p_module=$((port + 2))
p_lua=$((port + 3))
p_njs=$((port + 4))
p_cg=$((port + 5))
p_cg_plain=$((port + 6))
p_up=$((port + 10))

declare -A gw_port=([plain]=$p_plain [control]=$p_plain [module]=$p_module
                    [lua]=$p_lua [njs]=$p_njs)

# one round: each run is a gateway on a path; "control" is plain proxy_pass
# again.  The module's run sits between the two plain runs it is compared
# with; njs, whose runs leave the worker slower for a second, comes last.
round=(plain/valid module/valid control/valid plain/conflict module/conflict
       control/conflict module/reject lua/valid njs/valid)


# --- what the benchmark needs, from Debian ---------------------------------

deps() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "not root: apt-get install ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

deps nginx wrk curl valgrind perl libnginx-mod-http-ndk \
     libnginx-mod-http-lua lua-cjson libnginx-mod-http-js
[ "$docs" = 0 ] || deps gnuplot-nox

[ -f "$module" ] || die "$module is missing: run ./build.sh bench"

for p in $p_plain $p_module $p_lua $p_njs $p_cg $p_cg_plain $p_up; do
    if ss -Hltn "sport = :$p" | grep -q .; then
        die "port $p is in use: choose others with BENCH_PORT"
    fi
done


# --- where each process runs -----------------------------------------------

# With two CPUs or more the gateway worker has the last one to itself, and
# wrk and the upstream share the first: left to the scheduler, three busy
# processes on two cores sit differently from run to run, and the worker's
# CPU time per request moves with them.
cpus=()
for part in $(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status \
              | tr , ' '); do
    cpus+=($(seq "${part%-*}" "${part#*-}"))
done
pin=()
affinity=""
if [ ${#cpus[@]} -ge 2 ]; then
    pin=(taskset -c "${cpus[0]}")
    affinity="worker_cpu_affinity 1$(printf '%*s' "${cpus[-1]}" '' \
                                      | tr ' ' 0);"
fi


# --- configuration -----------------------------------------------------------

rm -rf "$work"
mkdir -p "$work/conf" "$work/logs" "$work/cg"
chmod 0755 "$top/build" "$work"

token="bench-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" > "$work/conf/token"
chmod 0640 "$work/conf/token"
printf 'proxy_set_header Authorization "Bearer %s";\n' "$token" \
    > "$work/conf/njs-token.conf"
chmod 0640 "$work/conf/njs-token.conf"

cat > "$work/conf/upstream.conf" <<CONF
# the upstream: fixed answers, never the bottleneck
worker_processes 1;
daemon off;
error_log logs/upstream-error.log warn;
pid logs/upstream.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    default_type application/json;
    log_format echo escape=json
        '\$request_method \$request_uri|\$http_content_type|\$http_authorization|'
        '\$http_x_request_id|\$request_body';
    server {
        listen 127.0.0.1:$p_up backlog=4096;
        location = /v1/organizations/acme/members {
            return 200 '{"member":"bob","role":"admin"}';
        }
        location = /v1/organizations/taken/members {
            return 409 '{"error":"user [username] is already a member of organization [organizationSlug]"}';
        }
        # what a gateway forwarded, for the equivalence check
        location = /v1/organizations/echo/members {
            access_log logs/echo.log echo;
            proxy_pass http://127.0.0.1:$p_up/__sink;
        }
        location = /__sink {
            return 200 '{"member":"bob","role":"admin"}';
        }
    }
}
CONF

proxy_common='proxy_http_version 1.1; proxy_set_header Connection "";'

# the servers of A and B
plain_server="location / {
            proxy_pass http://bench_up;
            $proxy_common
        }"
module_server="turso_members_token_file $work/conf/token;
        location / {
            turso_members on;
            proxy_pass http://bench_up;
            $proxy_common
        }"

cat > "$work/conf/gateways.conf" <<CONF
load_module $mods/ndk_http_module.so;
load_module $mods/ngx_http_lua_module.so;
load_module $mods/ngx_http_js_module.so;
load_module $module;
worker_processes 1;
$affinity
daemon off;
error_log logs/error.log warn;
pid logs/gateways.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    default_type application/octet-stream;

    upstream bench_up {
        server 127.0.0.1:$p_up;
        keepalive 64;
        keepalive_requests 10000000;
    }

    lua_package_path "$bench/?.lua;;";
    init_by_lua_block { require("gateway").init("$work/conf/token") }

    js_import gw from $bench/gateway.js;
    js_var \$njs_request_id;

    # A: plain proxy_pass, no checks
    server {
        listen 127.0.0.1:$p_plain backlog=4096;
        $plain_server
    }

    # B: this module, in its variable-free form (docs/directives.md)
    server {
        listen 127.0.0.1:$p_module backlog=4096;
        $module_server
    }

    # C: lua-nginx-module + lua-cjson
    server {
        listen 127.0.0.1:$p_lua backlog=4096;
        client_body_buffer_size 16k;
        location / {
            set \$lua_upstream_uri "";
            access_by_lua_block { require("gateway").access() }
            header_filter_by_lua_block {
                require("gateway").header_filter()
            }
            body_filter_by_lua_block { require("gateway").body_filter() }
            proxy_pass http://bench_up\$lua_upstream_uri;
            $proxy_common
        }
    }

    # D: njs, js_content and a subrequest to an internal proxy location
    server {
        listen 127.0.0.1:$p_njs backlog=4096;
        client_body_buffer_size 16k;
        location / {
            js_content gw.handle;
        }
        location /_njs_upstream/ {
            internal;
            proxy_pass http://bench_up/;
            $proxy_common
            proxy_set_header Content-Type application/json;
            proxy_set_header X-Request-Id \$njs_request_id;
            include njs-token.conf;
        }
    }
}
CONF

# callgrind: the module and plain proxy_pass, one
# process; collection only inside the event loop, not at start-up
cat > "$work/conf/callgrind.conf" <<CONF
load_module $module;
master_process off;
daemon off;
error_log logs/cg-error.log warn;
pid logs/cg.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 10000000;
    upstream bench_up {
        server 127.0.0.1:$p_up;
        keepalive 64;
        keepalive_requests 10000000;
    }
    # each in a server of its own, as in the throughput runs: the same
    # request line, the same location lookup
    server {
        listen 127.0.0.1:$p_cg;
        turso_members_token_file $work/conf/token;
        location / {
            turso_members on;
            proxy_pass http://bench_up;
            $proxy_common
        }
    }
    server {
        listen 127.0.0.1:$p_cg_plain;
        location / {
            proxy_pass http://bench_up;
            $proxy_common
        }
    }
}
CONF


# --- processes ---------------------------------------------------------------

pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -QUIT "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" \
            2>/dev/null || true
    done
}
trap cleanup EXIT

wait_port() {
    local i
    for i in $(seq 1 300); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    die "nothing listens on port $1 (see $work/logs)"
}

"${pin[@]}" "$nginx" -p "$work" -c conf/upstream.conf \
    -e logs/upstream-error.log &
pids+=($!)
"$nginx" -p "$work" -c conf/gateways.conf -e logs/error.log &
gw_master=$!
pids+=($gw_master)

for p in $p_up $p_plain $p_module $p_lua $p_njs; do
    wait_port "$p"
done

gw_worker=$(pgrep -P "$gw_master" | head -n1)
[ -n "$gw_worker" ] || die "no gateway worker"


# --- equivalence: the same answers, the same upstream requests --------------

say "checking that the gateways answer alike"

post() {
    # post PORT PATH BODY [X-REQUEST-ID]: prints "STATUS BODY"
    curl -s -o "$work/out" -w '%{http_code}' --max-time 5 \
         -H 'Content-Type: text/plain;charset=UTF-8' \
         -H 'Authorization: Bearer portal-credential-not-for-turso' \
         -H "X-Request-Id: ${4:-bench-check-1}" \
         --data-binary "$3" "http://127.0.0.1:$1$2" || true
    printf ' %s\n' "$(cat "$work/out")"
}

differ=0
check() {
    # check NAME PATH BODY [known difference]
    local ref g out
    ref=$(post "$p_module" "$2" "$3")
    printf '  %-22s module %s\n' "$1" "$ref" >&2
    for g in lua njs; do
        out=$(post "${gw_port[$g]}" "$2" "$3")
        if [ "$out" != "$ref" ]; then
            printf '  %-22s %-6s %s%s\n' "" "$g" "$out" \
                "${4:+   (known: $4)}" >&2
            [ -n "${4:-}" ] || differ=1
        fi
    done
}

acme=/v1/organizations/acme/members
check valid "$acme" '{"username":"bob","role":" Admin "}'
check reject "$acme" '{"username":"bob","role":"superuser"}'
check conflict /v1/organizations/taken/members \
      '{"username":"bob","role":"member"}'
check default-role "$acme" '{"username":"bob","extra":[1,2]}'
check role-null "$acme" '{"username":"bob","role":null}'
check owner "$acme" '{"username":"bob","role":"OWNER"}'
check role-number "$acme" '{"username":"bob","role":1}'
check no-username "$acme" '{"role":"admin"}'
check bad-username "$acme" '{"username":"bo b"}'
check unicode-space "$acme" '{"username":"bo\u3000b"}'
check dot-dot "$acme" '{"username":".."}'
check case-key "$acme" '{"username":"bob","Role":"admin"}'
check long-s-key "$acme" '{"uſername":"bob"}'
check kelvin-key "$acme" '{"username":"bob","\u212aey":1,"ROLE":"x"}'
check array "$acme" '[{"username":"bob"}]'
check scalar "$acme" '"bob"'
check bad-org /v1/organizations/ac%21me/members '{"username":"bob"}'
check duplicate "$acme" '{"username":"bob","role":"admin","role":"owner"}' \
      "lua-cjson and JSON.parse keep the last duplicate"
check syntax "$acme" '{"username":' "syntax error messages differ"

: > "$work/logs/echo.log"
for g in module lua njs; do
    post "${gw_port[$g]}" /v1/organizations/echo/members \
         '{"role":" Admin ","username":"bob","Extra":1}' 'not valid!' \
         >/dev/null
done
sleep 0.2
# an invalid client id is replaced by nginx's $request_id
mapfile -t echo < <(sed -E 's/\|[0-9a-f]{32}\|/|<$request_id>|/' \
                    "$work/logs/echo.log")
say "what the upstream received (module, lua, njs):"
for l in "${echo[@]}"; do
    printf '  %s\n' "${l//$token/<token>}" >&2
done
if [ ${#echo[@]} -ne 3 ] || [ "${echo[0]}" != "${echo[1]}" ] \
   || [ "${echo[0]}" != "${echo[2]}" ]
then
    say "the upstream requests differ"
    differ=1
fi
[ "$differ" = 0 ] || say "WARNING: the gateways do not behave alike (above)"

# --- CPU time per request: alternating rounds --------------------------------

# the gateway worker's CPU time so far (utime + stime), in microseconds:
# its process CPU clock, which /proc/PID/stat rounds to clock ticks
cpu() {
    perl -MTime::HiRes=clock_gettime -e '
        my $id = ((~(0 + $ARGV[0]) << 3) | 2) & 0xffffffff;
        $id -= 2**32 if $id >= 2**31;
        my $t = clock_gettime($id);
        $t >= 0 or die "no CPU clock for process $ARGV[0]\n";
        printf "%.0f\n", $t * 1e6' "$gw_worker"
}

run_wrk() {
    # run_wrk PORT KIND SECONDS: prints the RESULT fields
    BENCH_WRK_KIND=$2 "${pin[@]}" wrk -t1 -c"$connections" -d"${3}s" \
        --timeout 5s \
        -s "$bench/wrk.lua" "http://127.0.0.1:$1" -- "$2" \
        | awk '/^RESULT/ { $1 = ""; sub(/^ /, ""); print }'
}

measure() {
    # measure GATEWAY KIND: the RESULT fields, then the worker's CPU µs
    local t0 t1 res
    t0=$(cpu) || die "cannot read the gateway worker's CPU time"
    res=$(run_wrk "${gw_port[$1]}" "$2" "$duration")
    # the worker closes the run's connections before it is read
    sleep 0.1
    t1=$(cpu) || die "cannot read the gateway worker's CPU time"
    [ -n "$res" ] || die "wrk gave no result for $1 $2"
    printf '%s %s\n' "$res" "$((t1 - t0))"
}

raw="$work/raw.tsv"
printf '%s\t' attempt round gateway path requests seconds rps p50_us \
    p99_us non2xx errors > "$raw"
printf 'cpu_us\n' >> "$raw"

# a warm-up of every gateway (LuaJIT traces, keep-alive pools)
for g in plain module lua njs; do
    run_wrk "${gw_port[$g]}" valid 1 >/dev/null
done

say "$rounds rounds of ${#round[@]} wrk runs, ${duration}s each, 1 thread," \
    "$connections connections; the worker's CPU µs per request:"

play() {
    # play ATTEMPT ROUNDS RUN...: the rounds, into raw.tsv
    local a=$1 n=$2 r run g path res line
    shift 2
    for r in $(seq 1 "$n"); do
        # an unmeasured second first: the run after njs's took a few
        # percent more CPU per request than the same run later
        run_wrk "$p_plain" valid 1 >/dev/null
        line=""
        for run in "$@"; do
            IFS=/ read -r g path <<< "$run"
            res=$(measure "$g" "$path")
            printf '%s\t%s\t%s\t%s\t%s\n' "$a" "$r" "$g" "$path" \
                "$(tr ' ' '\t' <<< "$res")" >> "$raw"
            line+=" $(awk -v n="$run" '{
                    printf "%s %.1f", n, $8 / ($1 > 0 ? $1 : 1) }' <<< "$res")"
        done
        say "attempt $a round $r:$line"
    done
}

judged=0
for a in $(seq 1 "$attempts"); do
    play "$a" "$rounds" "${round[@]}"
    if perl "$bench/report.pl" --control "$raw" "$a"; then
        judged=$a
        break
    fi
done

# for the report's table only: the gateways on the paths the rounds leave
# out, against the module in the same round
play info 3 module/reject plain/reject lua/reject njs/reject \
     module/conflict lua/conflict njs/conflict


# --- memory: the worker's RSS over mixed requests ---------------------------

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$gw_worker/status"; }

mem_line=""
if [ "$mem_requests" -gt 0 ]; then
    say "memory: warm-up, then $mem_requests mixed requests to the module"
    run_wrk "$p_module" mix 2 >/dev/null
    rss_before=$(rss)
    done_requests=0
    while [ "$done_requests" -lt "$mem_requests" ]; do
        res=$(run_wrk "$p_module" mix 2)
        done_requests=$((done_requests + $(awk '{ print $1 }' <<< "$res")))
    done
    mem_line="$rss_before $(rss) $done_requests"
fi


# --- stop the gateways; callgrind ---------------------------------------------

kill -QUIT "$gw_master"
timeout 10 tail --pid="$gw_master" -f /dev/null || true

cg_out="$work/cg/summary.txt"
: > "$cg_out"

if [ "$cg_requests" -gt 0 ]; then
    say "callgrind: $cg_requests requests per path"
    # one process; callgrind_control dumps (and zeroes) after each batch
    out="$work/cg/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        --collect-atstart=no --toggle-collect=ngx_process_events_and_timers \
        "$nginx" -p "$work" -c conf/callgrind.conf -e logs/cg-error.log \
        2> "$work/cg/valgrind.log" &
    cg_pid=$!
    pids+=($cg_pid)
    wait_port "$p_cg"
    wait_port "$p_cg_plain"

    # warm-up: keep-alive connections to the upstream, first allocations
    for path in valid reject conflict; do
        perl "$bench/drive.pl" "$p_cg" 20 "$path"
    done
    for path in valid conflict; do
        perl "$bench/drive.pl" "$p_cg_plain" 20 "$path"
    done
    callgrind_control -z "$cg_pid" >/dev/null 2>&1

    n=0
    for run in module:valid:$p_cg module:reject:$p_cg \
               module:conflict:$p_cg plain:valid:$p_cg_plain \
               plain:conflict:$p_cg_plain
    do
        IFS=: read -r g path p <<< "$run"
        perl "$bench/drive.pl" "$p" "$cg_requests" "$path"
        callgrind_control -d "$g-$path" "$cg_pid" >/dev/null 2>&1
        n=$((n + 1))
        {
            printf '== %s %s\n' "$g" "$path"
            perl "$bench/callgrind.pl" "$out.$n" "$cg_requests" 12
        } >> "$cg_out"
    done

    kill -TERM "$cg_pid"
    wait "$cg_pid" || true
fi


# --- report -----------------------------------------------------------------

status=0
perl "$bench/report.pl" "$raw" "$judged" "$cg_out" "$work" \
    "$differ" "$mem_line" \
    "rounds=$rounds duration=${duration}s connections=$connections" \
    > "$work/results.md" || status=$?
cat "$work/results.md"

if [ "$docs" = 1 ]; then
    gnuplot -e "dir='$work'" "$bench/chart.gp"
    cp "$work/performance.png" "$top/docs/performance.png"
    say "chart: docs/performance.png"
fi
say "took $((SECONDS - started)) s"
exit "$status"
