#!/usr/bin/env bash
# What the loaded module costs a location that does not use it: callgrind
# instructions per request of a plain proxy_pass location, in an nginx
# without the module, with the module loaded but used nowhere, and with the
# module loaded and used by another server (the usual case).
#
#   ./build.sh && bench/idle.sh [REQUESTS]     (default 2000 per run)
#
# BENCH_IDLE_PORT (default 28180) chooses the ports: +0 the plain location,
# +1 the module's location, +10 the upstream.  Writes build/bench-idle/:
# the configurations, the callgrind files, summary.txt (bench/callgrind.pl
# on each run) and results.md, the table of docs/performance.md, printed.
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$bench")
work="$top/build/bench-idle"
module="$top/build/ngx_turso_members_module.so"
nginx=/usr/sbin/nginx
requests=${1:-2000}
port=${BENCH_IDLE_PORT:-28180}
p_plain=$port
p_module=$((port + 1))
p_up=$((port + 10))

say() { printf '%s\n' "idle.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[ -f "$module" ] || die "no $module: run ./build.sh first"
command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"

rm -rf "$work"
mkdir -p "$work/conf" "$work/logs" "$work/cg"
chmod 0755 "$top/build" "$work"
printf 'idle-token\n' > "$work/conf/token"
chmod 0644 "$work/conf/token"

cat > "$work/conf/upstream.conf" <<CONF
worker_processes 1;
daemon off;
error_log logs/upstream-error.log warn;
pid logs/upstream.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$p_up;
        location / {
            return 200 '{"member":"bob","role":"admin"}';
        }
    }
}
CONF

# $1: the load_module line or nothing; $2: the module's server or nothing
config() {
    cat <<CONF
$1
master_process off;
daemon off;
error_log logs/cg-error.log warn;
pid logs/cg.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 10000000;
    upstream up {
        server 127.0.0.1:$p_up;
        keepalive 16;
        keepalive_requests 10000000;
    }
    server {
        listen 127.0.0.1:$p_plain;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    $2
}
CONF
}

used="server {
        listen 127.0.0.1:$p_module;
        location / {
            turso_members on;
            turso_members_token_file $work/conf/token;
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"

config "" "" > "$work/conf/none.conf"
config "load_module $module;" "" > "$work/conf/loaded.conf"
config "load_module $module;" "$used" > "$work/conf/used.conf"

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
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
wait_port "$p_up"

summary="$work/summary.txt"
: > "$summary"

for run in none loaded used; do
    say "$run: $requests requests under callgrind"
    out="$work/cg/$run.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        --collect-atstart=no --toggle-collect=ngx_process_events_and_timers \
        "$nginx" -p "$work" -c "conf/$run.conf" -e logs/cg-error.log \
        2> "$work/cg/$run.valgrind.log" &
    cg=$!
    wait_port "$p_plain"
    perl "$bench/drive.pl" "$p_plain" 50 valid
    callgrind_control -z "$cg" >/dev/null 2>&1
    perl "$bench/drive.pl" "$p_plain" "$requests" valid
    callgrind_control -d "$run" "$cg" >/dev/null 2>&1
    kill -TERM "$cg"
    wait "$cg" || true
    {
        printf '== %s\n' "$run"
        perl "$bench/callgrind.pl" "$out.1" "$requests" 25
    } >> "$summary"
done

# per run: the whole process; the same without glibc's allocator
# (malloc.c: its cost moves with the heap's layout, which any change to
# the configuration moves, by a few hundred instructions either way); the
# module's own functions; nginx's phase engine calling phase handlers
perl -e '
    my ($dir, $n) = @ARGV;
    my %name = (none => "without the module",
                loaded => "module loaded, used nowhere",
                used => "module loaded, used by another server");
    my (%all, %nomalloc, %mod, %phase, %self);
    for my $r (qw(none loaded used)) {
        # self cost per function, by file; callgrind compresses names as
        # "(id) name", then "(id)"
        my (%names, $fl, $fn, $call);
        open my $fh, "<", "$dir/$r.out.1" or die "$dir/$r.out.1: $!\n";
        while (my $l = <$fh>) {
            if ($l =~ /^(fl|fi|fe|fn|cfn|cfi|cfl|ob|cob)=\((\d+)\)(?: (.*))?$/) {
                my ($k, $id, $v) = ($1, $2, $3);
                my $kind = $k =~ /fn/ ? "fn" : $k =~ /ob/ ? "ob" : "fl";
                $names{$kind}{$id} = $v if defined $v;
                $v = $names{$kind}{$id};
                $fl = $v if $k =~ /^f[lie]$/;
                $fn = $v if $k eq "fn";
                next;
            }
            if ($l =~ /^calls=/) { $call = 1; next }
            if ($l =~ /^[+\-*]?\d*\s+(\d+)/ || $l =~ /^[+\-*]\S*\s+(\d+)/) {
                my $c = $1;
                if ($call) { $call = 0; next }
                $all{$r} += $c;
                $nomalloc{$r} += $c unless $fl =~ m{/malloc/malloc\.c$};
                if ($fn =~ /^ngx_turso_members_/) {
                    $mod{$r} += $c;
                    $self{$r}{$fn} += $c;
                }
                $phase{$r} += $c
                    if $fn =~ /^ngx_http_core_(generic_phase|run_phases)$/;
            }
        }
    }
    printf "| nginx | whole process | without malloc | module functions |"
        . " phase engine |\n|---|---:|---:|---:|---:|\n";
    for my $r (qw(none loaded used)) {
        printf "| %s | %.0f (%+.0f) | %.0f (%+.0f) | %.0f | %.0f (%+.0f) |\n",
            $name{$r}, $all{$r} / $n, ($all{$r} - $all{none}) / $n,
            $nomalloc{$r} / $n, ($nomalloc{$r} - $nomalloc{none}) / $n,
            ($mod{$r} // 0) / $n,
            $phase{$r} / $n, ($phase{$r} - $phase{none}) / $n;
    }
    print "\nThe module\x27s functions, module used by another server:\n\n";
    for my $f (sort { $self{used}{$b} <=> $self{used}{$a} }
               keys %{ $self{used} })
    {
        printf "    %5.0f  %s\n", $self{used}{$f} / $n, $f;
    }
' "$work/cg" "$requests" | tee "$work/results.md"
say "details: $summary"
