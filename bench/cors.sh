#!/usr/bin/env bash
# What turso_members_cors_origins costs, on loopback, with wrk: one nginx,
# one worker, in front of a fixed upstream (a server block of the same
# nginx answering {"members":[]}), the runs interleaved.
#
#   bench/cors.sh [ROUNDS] [SECONDS]      (default 5 rounds of 2 s)
#
# needs build/ngx_turso_members_module.so (./build.sh) and wrk.  Prints the
# median requests/s of each case over the rounds:
#   list        GET .../members, no directive, no Origin: the reference
#   list+cors   the same with the directive and a listed Origin (access
#               handler, header filter, four more headers)
#   preflight   OPTIONS with Origin and Access-Control-Request-Method:
#               answered by the gateway, never proxied
#   404         GET of a path that is no route, no directive: the
#               gateway's cheapest answer of its own, for the preflight
# BENCH_PORT (default 29080) and +1, +2 are used.  Loopback only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
secs=${2:-2}
port=${BENCH_PORT:-29080}
dir="$top/build/bench-cors"
origin="http://portal.test:8082"

mkdir -p "$dir/logs" "$dir/conf"
chmod 0755 "$top/build" "$dir"
printf 'bench-token\n' > "$dir/conf/token"
chmod 0640 "$dir/conf/token"

cat > "$dir/conf/nginx.conf" <<CONF
load_module $top/build/ngx_turso_members_module.so;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    upstream fixed { server 127.0.0.1:$((port + 2)); keepalive 32; }
    server {
        listen 127.0.0.1:$port;
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $dir/conf/token;
            proxy_pass http://fixed;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:$((port + 1));
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $dir/conf/token;
            turso_members_cors_origins https://admin.example.com $origin;
            proxy_pass http://fixed;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:$((port + 2));
        default_type application/json;
        location / { return 200 '{"members":[]}'; }
    }
}
CONF

cat > "$dir/preflight.lua" <<'LUA'
wrk.method = "OPTIONS"
LUA

/usr/sbin/nginx -p "$dir/" -c conf/nginx.conf -e logs/error.log
trap '/usr/sbin/nginx -p "$dir/" -c conf/nginx.conf -e logs/error.log -s stop' EXIT
sleep 0.5

members=/v1/organizations/acme/members
declare -A cmd=(
    [list]="wrk -t1 -c32 -d${secs}s http://127.0.0.1:$port$members"
    [list+cors]="wrk -t1 -c32 -d${secs}s -H Origin:$origin http://127.0.0.1:$((port + 1))$members"
    [preflight]="wrk -t1 -c32 -d${secs}s -s $dir/preflight.lua -H Origin:$origin -H Access-Control-Request-Method:POST http://127.0.0.1:$((port + 1))$members"
    [404]="wrk -t1 -c32 -d${secs}s http://127.0.0.1:$port/v1/organizations/acme/databases"
)
cases=(list list+cors preflight 404)

# each answer checked once before measuring
curl -sf -o /dev/null "http://127.0.0.1:$port$members"
curl -sf -o /dev/null -H "Origin: $origin" "http://127.0.0.1:$((port + 1))$members"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS -H "Origin: $origin" \
     -H 'Access-Control-Request-Method: POST' \
     "http://127.0.0.1:$((port + 1))$members")" = 204 ]

for ((i = 1; i <= rounds; i++)); do
    for c in "${cases[@]}"; do
        rps=$(${cmd[$c]} | awk '/^Requests\/sec/ { print $2 }')
        echo "$c $rps" >> "$dir/rounds.txt.new"
    done
done
mv "$dir/rounds.txt.new" "$dir/rounds.txt"

for c in "${cases[@]}"; do
    awk -v c="$c" '$1 == c { print $2 }' "$dir/rounds.txt" | sort -n \
        | awk -v c="$c" '{ v[NR] = $1 }
              END { printf "%-10s %10.0f req/s (median of %d)\n", c,
                    v[int((NR + 1) / 2)], NR }'
done
