#!/usr/bin/env bash
# ngx_turso_members benchmark: the module against plain proxy_pass, the same
# gateway in Lua (lua-nginx-module + lua-cjson) and in njs, on loopback.
#
#   ./build.sh bench [options]      (builds the module, then runs this)
#   bench/run.sh [options]          (with build/ngx_turso_members_module.so)
#
#   --rounds N        wrk rounds per gateway and path (default 3)
#   --duration S      whole seconds per wrk run (default 1)
#   --connections C   wrk connections, one thread (default 32)
#   --mem-requests N  requests of the memory check (default 500000, 0: skip)
#   --cg-requests N   requests per path under callgrind (default 2000,
#                     0: skip)
#   --interleave N    interleaved runs of each set (default 10, 0: skip)
#   --pairs N         then N more pairs of 1-second runs, plain proxy_pass
#                     and the module back to back, on the valid and the 409
#                     paths: the median of the pairs' ratios (default 0)
#   --docs            copy the chart to docs/performance.png
#
# BENCH_PORT (default 28080) chooses the ports: BENCH_PORT+1..+4 for the
# gateways, +5..+7 for callgrind, +8 for the interleaved runs, +10 for the
# upstream.  Everything is written to build/bench/; the table is also left
# in build/bench/results.md.
#
# One nginx, one worker, serves the four side by side:
#   A plain    proxy_pass with no checks: the limit
#   B module   turso_members on
#   C lua      bench/gateway.lua in access_by_lua, lua-cjson
#   D njs      bench/gateway.js, js_content + subrequest
# in front of one upstream: another nginx, one worker, answering fixed
# bodies with "return" (200 for organization acme, 409 for taken), over
# keep-alive connections.  wrk runs A B C D, A B C D, ... so that drift
# hits all alike, and the medians are compared.  Then the interleaved runs:
# plain proxy_pass, the module and plain proxy_pass again (the control)
# share one port and take turns in 10 ms slices within each 2-second wrk
# run (bench/interleave.lua), on the valid path (with the module's
# rejections) and the 409 path: the machine's swings, 10% between
# 1-second runs, hit them alike there, and the targets against plain
# proxy_pass and the rejection target are judged on those runs.
set -euo pipefail

started=$SECONDS
bench=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$bench")
work="$top/build/bench"
module="$top/build/ngx_turso_members_module.so"
nginx=/usr/sbin/nginx
mods=/usr/lib/nginx/modules

rounds=3
interleave=10
duration=1
connections=32
mem_requests=500000
cg_requests=2000
pairs=0
docs=0

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --mem-requests) mem_requests=$2; shift 2 ;;
        --cg-requests) cg_requests=$2; shift 2 ;;
        --interleave) interleave=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --docs) docs=1; shift ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "$*"; exit 1; }

port=${BENCH_PORT:-28080}
p_plain=$((port + 1))
p_module=$((port + 2))
p_lua=$((port + 3))
p_njs=$((port + 4))
p_cg=$((port + 5))
p_cg_plain=$((port + 6))
p_cg_var=$((port + 7))
p_mix=$((port + 8))
p_up=$((port + 10))

gateways=(plain module lua njs)
declare -A gw_port=([plain]=$p_plain [module]=$p_module [lua]=$p_lua
                    [njs]=$p_njs)
paths=(valid reject conflict)


# --- what the benchmark needs, from Debian ---------------------------------

deps() {
    local missing=() p
    for p in nginx wrk curl valgrind gnuplot-nox perl libnginx-mod-http-ndk \
             libnginx-mod-http-lua lua-cjson libnginx-mod-http-js
    do
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

deps

[ -f "$module" ] || die "$module is missing: run ./build.sh bench"

for p in $p_plain $p_module $p_lua $p_njs $p_cg $p_cg_plain $p_cg_var $p_mix \
         $p_up
do
    if ss -Hltn "sport = :$p" | grep -q .; then
        die "port $p is in use: choose others with BENCH_PORT"
    fi
done


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

# the servers of A and B, also in the interleaved runs' port
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

    # the interleaved runs: A, B and A again (the control) on one port,
    # told apart by the Host header
    server {
        listen 127.0.0.1:$p_mix backlog=4096;
        server_name plain;
        $plain_server
    }
    server {
        listen 127.0.0.1:$p_mix;
        server_name module;
        $module_server
    }
    server {
        listen 127.0.0.1:$p_mix;
        server_name control;
        $plain_server
    }
}
CONF

# callgrind: the module (and plain proxy_pass for reference) alone, one
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
    # what a variable in proxy_pass costs by itself
    server {
        listen 127.0.0.1:$p_cg_var;
        location / {
            proxy_pass http://bench_up\$uri;
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

"$nginx" -p "$work" -c conf/upstream.conf -e logs/upstream-error.log &
pids+=($!)
"$nginx" -p "$work" -c conf/gateways.conf -e logs/error.log &
gw_master=$!
pids+=($gw_master)

for p in $p_up $p_plain $p_module $p_lua $p_njs $p_mix; do
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

# the interleaved runs' port: each Host reaches its own gateway
for h in plain:200 module:400 control:200; do
    IFS=: read -r name want <<< "$h"
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
          -H "Host: $name" -H 'Content-Type: application/json' \
          --data-binary '{"username":"bob","role":"superuser"}' \
          "http://127.0.0.1:$p_mix$acme" || true)
    [ "$got" = "$want" ] \
        || die "port $p_mix, Host $name: answered $got, not $want"
done


# --- throughput and latency: alternating rounds -----------------------------

say "wrk: $rounds rounds x ${#paths[@]} paths x ${#gateways[@]} gateways," \
    "${duration}s each, 1 thread, $connections connections"

raw="$work/raw.tsv"
printf 'round\tpath\tgateway\trequests\tseconds\trps\tp50_us\tp99_us\tnon2xx\terrors\n' \
    > "$raw"

run_wrk() {
    # run_wrk PORT KIND SECONDS: prints the RESULT fields
    BENCH_WRK_KIND=$2 wrk -t1 -c"$connections" -d"${3}s" --timeout 5s \
        -s "$bench/wrk.lua" "http://127.0.0.1:$1" -- "$2" \
        | awk '/^RESULT/ { $1 = ""; sub(/^ /, ""); print }'
}

# a short warm-up of every gateway (LuaJIT traces, keep-alive pools)
for g in "${gateways[@]}"; do
    run_wrk "${gw_port[$g]}" valid 1 >/dev/null
done

for r in $(seq 1 "$rounds"); do
    for path in "${paths[@]}"; do
        line=""
        for g in "${gateways[@]}"; do
            res=$(run_wrk "${gw_port[$g]}" "$path" "$duration")
            [ -n "$res" ] || die "wrk gave no result for $g $path"
            printf '%s\t%s\t%s\t%s\n' "$r" "$path" "$g" \
                "$(tr ' ' '\t' <<< "$res")" >> "$raw"
            line+=" $g $(awk '{ printf "%.0f", $3 }' <<< "$res")"
        done
        say "round $r $path:$line req/s"
    done
done


# --- interleaved: gateways in turns of 10 ms on one port -------------------

mix="$work/interleave.tsv"
printf '%s\t' run set slot requests seconds rps run_requests run_non2xx \
    > "$mix"
printf 'run_errors\n' >> "$mix"

# the valid path's set also holds the module's rejections (that target
# compares the two); each slot is a host of port $p_mix and a path
declare -A mix_slots=(
    [valid]="plain/valid module/valid control/valid module/reject"
    [conflict]="plain/conflict module/conflict control/conflict"
)

if [ "$interleave" -gt 0 ]; then
    say "interleaved: $interleave runs of 2s for each set, slots in turns of" \
        "${BENCH_SLICE_MS:-10} ms"
    for set in valid conflict; do
        for i in $(seq 1 "$interleave"); do
            # shellcheck disable=SC2086
            res=$(wrk -t1 -c"$connections" -d2s --timeout 5s \
                      -s "$bench/interleave.lua" "http://127.0.0.1:$p_mix" \
                      -- ${mix_slots[$set]} | grep '^SLOTS' || true)
            [ -n "$res" ] || die "wrk gave no interleaved result ($set)"
            # SLOTS seconds requests non2xx errors SLOT COUNT ...: each
            # slot has its share of the time; the whole run's answers
            rows=$(awk -v run="$i" -v set="$set" '{
                    n = (NF - 5) / 2
                    for (k = 6; k < NF; k += 2) {
                        printf "%s\t%s\t%s\t%d\t%.3f\t%.1f\t%d\t%d\t%d\n",
                            run, set, $k, $(k + 1), $2 / n,
                            $(k + 1) / ($2 / n), $3, $4, $5
                    }
                }' <<< "$res")
            printf '%s\n' "$rows" >> "$mix"
            say "interleaved $i $set: $(awk -F '\t' '{
                    printf "%s %.0f ", $3, $6 }' <<< "$rows")req/s"
        done
    done
fi


# --- memory: the worker's RSS over mixed requests ---------------------------

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$gw_worker/status"; }

# --- pairs: plain and module back to back, the ratio of each pair ----------

pairs_line=""
if [ "$pairs" -gt 0 ]; then
    say "pairs: $pairs x (plain, module) on valid and conflict, 1s each"
    for path in valid conflict; do
        ratios=()
        for i in $(seq 1 "$pairs"); do
            a=$(run_wrk "$p_plain" "$path" 1 | awk '{ print $3 }')
            b=$(run_wrk "$p_module" "$path" 1 | awk '{ print $3 }')
            ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')")
        done
        line=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '
            { r[NR] = $1 }
            END {
                m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
                printf "median %.3f (lowest %.3f, highest %.3f)", m, r[1], r[NR]
            }')
        pairs_line+="$path path, module ÷ plain proxy_pass over $pairs pairs:"
        pairs_line+=" $line"$'\n'
    done
    say "$pairs_line"
fi


mem_line=""
if [ "$mem_requests" -gt 0 ]; then
    say "memory: warm-up, then $mem_requests mixed requests to the module"
    BENCH_WRK_KIND=mix run_wrk "$p_module" mix 2 >/dev/null
    rss_before=$(rss)
    done_requests=0
    while [ "$done_requests" -lt "$mem_requests" ]; do
        res=$(run_wrk "$p_module" mix 2)
        done_requests=$((done_requests + $(awk '{ print $1 }' <<< "$res")))
    done
    rss_after=$(rss)
    growth=$((rss_after - rss_before))
    verdict=MISS
    [ "$growth" -lt 1024 ] && verdict=PASS
    mem_line="worker RSS $rss_before KiB after warm-up, $rss_after KiB after"
    mem_line+=" $done_requests mixed requests: $growth KiB"
    mem_line+=" (target < 1024 KiB) $verdict"
    say "$mem_line"
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

    # warm-up: keep-alive connections to the upstream, first allocations
    for p in $p_cg $p_cg_plain $p_cg_var; do
        for path in "${paths[@]}"; do
            want=$path
            [ "$p" != "$p_cg" ] && [ "$path" = reject ] && want=reject-proxied
            perl "$bench/drive.pl" "$p" 20 "$want"
        done
    done
    callgrind_control -z "$cg_pid" >/dev/null 2>&1

    n=0
    for run in module:valid:$p_cg module:reject:$p_cg \
               module:conflict:$p_cg plain:valid:$p_cg_plain \
               plain:conflict:$p_cg_plain plainvar:valid:$p_cg_var
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


# --- report ----------------------------------------------------------------

perl "$bench/report.pl" "$raw" "$cg_out" "$work" "$mem_line" \
    "rounds=$rounds duration=${duration}s connections=$connections" \
    "$mix" "$connections" "$pairs_line" | tee "$work/results.md"

gnuplot -e "dir='$work'" "$bench/chart.gp"
say "chart: $work/performance.png"
say "took $((SECONDS - started)) s"

if [ "$docs" = 1 ]; then
    cp "$work/performance.png" "$top/docs/performance.png"
    say "copied to docs/performance.png"
fi
