#!/usr/bin/env bash
# What turso_members_cors_origins costs, on loopback, with wrk: one nginx,
# one worker, in front of a fixed upstream (a server block of the same
# nginx answering {"members":[]}), the runs interleaved.
#
#   bench/cors.sh [ROUNDS] [SECONDS] [CG_REQUESTS]
#                         (default 5 rounds of 2 s, 2000 requests per case
#                         under callgrind; 0 skips callgrind)
#
# needs build/ngx_turso_members_module.so (./build.sh) and wrk.  Prints the
# median requests/s of each case over the rounds:
#   list        GET .../members, no directive, no Origin: the reference
#   list+origin the same with an Origin header, no directive
#   list+cors   the same with the directive and a listed Origin (access
#               handler, header filter, four more headers): its difference
#               with list+origin is what the directive costs
#   preflight   OPTIONS with Origin and Access-Control-Request-Method:
#               answered by the gateway, never proxied
#   404         GET of a path that is no route, no directive: the
#               gateway's cheapest answer of its own, for the preflight
# BENCH_PORT (default 29080) and +1, +2 are used.  Loopback only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
secs=${2:-2}
cg_requests=${3:-2000}
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
    keepalive_requests 1000000;
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
    [list+origin]="wrk -t1 -c32 -d${secs}s -H Origin:$origin http://127.0.0.1:$port$members"
    [list+cors]="wrk -t1 -c32 -d${secs}s -H Origin:$origin http://127.0.0.1:$((port + 1))$members"
    [preflight]="wrk -t1 -c32 -d${secs}s -s $dir/preflight.lua -H Origin:$origin -H Access-Control-Request-Method:POST http://127.0.0.1:$((port + 1))$members"
    [404]="wrk -t1 -c32 -d${secs}s http://127.0.0.1:$port/v1/organizations/acme/databases"
)
cases=(list list+origin list+cors preflight 404)

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
              END { printf "%-11s %10.0f req/s (median of %d)\n", c,
                    v[int((NR + 1) / 2)], NR }'
done

[ "$cg_requests" -gt 0 ] || exit 0

# --- callgrind: one process, dumps after each case ------------------------

/usr/sbin/nginx -p "$dir/" -c conf/nginx.conf -e logs/error.log -s stop
trap - EXIT
sleep 0.5
sed -e 's/^worker_processes 1;/master_process off;\ndaemon off;/' \
    "$dir/conf/nginx.conf" > "$dir/conf/callgrind.conf"

cat > "$dir/drive.pl" <<'PERL'
# drive.pl PORT COUNT STATUS METHOD PATH [HEADER...]: COUNT requests on one
# keep-alive connection, each answer's status checked
use strict; use warnings; use IO::Socket::IP;
my ($port, $count, $want, $method, $path, @h) = @ARGV;
my $req = join("\r\n", "$method $path HTTP/1.1", 'Host: 127.0.0.1', @h)
          . "\r\n\r\n";
my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port)
    or die "connect: $@\n";
my $buf = '';
for my $i (1 .. $count) {
    print $s $req or die "write: $!\n";
    while (1) {
        if ($buf =~ /\A(.*?\r\n)\r\n/s) {
            my $head = $1;
            my ($st) = $head =~ m{\AHTTP/1\.1 (\d+)};
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            my $total = length($head) + 2 + ($len // 0);
            if (length $buf >= $total) {
                die "request $i: $st, want $want\n" if $st != $want;
                substr($buf, 0, $total) = '';
                last;
            }
        }
        sysread($s, $buf, 65536, length $buf) or die "read: $!\n";
    }
}
PERL

out="$dir/callgrind.out"
valgrind --tool=callgrind --callgrind-out-file="$out" \
    --collect-atstart=no --toggle-collect=ngx_process_events_and_timers \
    /usr/sbin/nginx -p "$dir/" -c conf/callgrind.conf -e logs/error.log \
    2> "$dir/valgrind.log" &
cg_pid=$!
trap 'kill -TERM $cg_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.2
done

drive() {
    local n=$1 st=$2 p=$3 method=$4 path=$5
    shift 5
    perl "$dir/drive.pl" "$p" "$n" "$st" "$method" "$path" "$@"
}
declare -A cg=(
    [list]="200 $port GET $members"
    [list+origin]="200 $port GET $members Origin:$origin"
    [list+cors]="200 $((port + 1)) GET $members Origin:$origin"
    [preflight]="204 $((port + 1)) OPTIONS $members Origin:$origin Access-Control-Request-Method:POST"
    [404]="404 $port GET /v1/organizations/acme/databases"
)
for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    drive 20 ${cg[$c]}                       # warm-up
done
callgrind_control -z "$cg_pid" > /dev/null 2>&1
files=()
n=0
for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    drive "$cg_requests" ${cg[$c]}
    n=$((n + 1))
    if [ "$n" -lt "${#cases[@]}" ]; then
        # dumped (and zeroed) when the next case's requests wake nginx
        callgrind_control -d "$c" "$cg_pid" > /dev/null 2>&1 &
        file="$out.$n"
    else
        # the last one: the dump at exit (outside the event loop, where
        # nothing is collected)
        kill -TERM "$cg_pid"
        wait "$cg_pid" || true
        file="$out"
    fi
    files+=("$file")
done
wait
n=0
for c in "${cases[@]}"; do
    printf '%-11s %10s instructions/request (callgrind, %d requests)\n' \
        "$c" "$(perl "$top/bench/callgrind.pl" "${files[$n]}" "$cg_requests" 0 \
                | awk '/^CG/ { print $2 }')" "$cg_requests"
    n=$((n + 1))
done
