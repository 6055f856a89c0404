#!/usr/bin/perl
# The report of bench/run.sh: the worker's CPU time per request, the ratios
# taken round by round and their medians, the verdicts, callgrind and
# memory, as Markdown on stdout; the chart's data in DIR/chart.dat.  The
# exit status is run.sh's: 0 every verdict PASS, 1 a FAIL, 3 no FAIL but
# an INCONCLUSIVE.
#
#   report.pl RAW.tsv ATTEMPT CALLGRIND.txt DIR DIFFER MEMORY SETTINGS
#       ATTEMPT is the attempt whose control held (0: none did; the last
#       one is shown, its CPU verdicts INCONCLUSIVE); DIFFER is 1 when the
#       gateways did not answer alike; MEMORY is "RSS_BEFORE RSS_AFTER
#       REQUESTS" or empty
#   report.pl --control RAW.tsv ATTEMPT
#       prints the attempt's controls; exit 0 when both are within 2% of 1

use strict;
use warnings;
use List::Util qw(sum);

my $tolerance = 0.02;

my @gateways = qw(plain module lua njs);
my @paths = qw(valid reject conflict);
my %label = (plain => 'plain proxy_pass', module => 'ngx_turso_members',
             control => 'plain proxy_pass again (control)',
             lua => 'Lua (lua-cjson)', njs => 'njs');
my %path_label = (
    valid => 'valid Add Member (proxied, 200)',
    reject => 'rejected body (bad role, 400, not proxied)',
    conflict => 'upstream 409, normalized',
);

# the answers each run must get: non-2xx for all its requests, or none
my %non2xx = (reject => { module => 1, lua => 1, njs => 1 },
              conflict => { map { $_ => 1 } @gateways, 'control' });

my $control_mode = @ARGV && $ARGV[0] eq '--control' ? shift @ARGV : 0;
my ($raw, $attempt, $cg, $dir, $differ, $mem, $settings) = @ARGV;
die "usage: see the head of $0\n" unless defined $attempt;

sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# %run{attempt}{round}{"gateway/path"}: a wrk run and the worker's CPU time per request
my (%run, @problems);

open my $fh, '<', $raw or die "$raw: $!\n";
<$fh>;
while (<$fh>) {
    chomp;
    my ($at, $r, $g, $p, $req, $sec, $rps, $p50, $p99, $bad, $err, $us)
        = split /\t/;
    $run{$at}{$r}{"$g/$p"} = { req => $req, rps => $rps, p99 => $p99,
                              cpu => $req ? $us / $req : 0 };
    my $want = $non2xx{$p}{$g} ? $req : 0;
    if ($bad != $want || $err) {
        push @problems, "attempt $at round $r, $g $p: $bad non-2xx answers"
            . " of $req (expected $want), $err socket errors";
    }
}
close $fh;

# the round-by-round ratio of CPU per request: A over B, or over the mean
# of B and C; its median, lowest and highest over the attempt's rounds
sub ratio {
    my ($at, $num, @den) = @_;
    my @q;
    for my $r (sort { $a <=> $b } keys %{ $run{$at} || {} }) {
        my $x = $run{$at}{$r};
        next if grep { !$x->{$_} || !$x->{$_}{cpu} } $num, @den;
        push @q, $x->{$num}{cpu} / (sum(map { $x->{$_}{cpu} } @den) / @den);
    }
    return unless @q;
    @q = sort { $a <=> $b } @q;
    return { med => median(@q), lo => $q[0], hi => $q[-1], n => scalar @q };
}

sub controls {
    my ($at) = @_;
    return (ratio($at, 'control/valid', 'plain/valid'),
            ratio($at, 'control/conflict', 'plain/conflict'));
}

sub holds {
    my ($c) = @_;
    return $c && abs($c->{med} - 1) <= $tolerance;
}

sub range {
    my ($c) = @_;
    return sprintf '%.3f (%.2f–%.2f)', $c->{med}, $c->{lo}, $c->{hi};
}

if ($control_mode) {
    my ($cv, $cc) = controls($attempt);
    my $ok = holds($cv) && holds($cc);
    printf STDERR "bench: attempt %d, control (plain again ÷ plain): "
        . "valid %s, 409 %s: %s\n", $attempt, $cv ? range($cv) : '-',
        $cc ? range($cc) : '-',
        $ok ? 'within 2%, judged' : 'more than 2% off, not judged';
    exit($ok ? 0 : 1);
}

my @attempts = sort { $a <=> $b } grep { /^\d+$/ } keys %run;
my $shown = $attempt || $attempts[-1] || 1;
my $n_rounds = scalar keys %{ $run{$shown} || {} };

# --- the verdicts ---------------------------------------------------------

my (@verdicts, $fail, $inconclusive);

sub verdict {
    my ($what, $measured, $ok, $note) = @_;
    my $v = !defined $ok ? 'INCONCLUSIVE' : $ok ? 'PASS' : 'FAIL';
    $v = 'SKIPPED' if $ok && $ok eq 'skip';
    $fail = 1 if $v eq 'FAIL';
    $inconclusive = 1 if $v eq 'INCONCLUSIVE';
    push @verdicts, [ $what, $measured, $v, $note // '' ];
}

my ($cv, $cc) = controls($shown);
my $steady = $attempt && holds($cv) && holds($cc);

# a CPU target: undecided (undef) unless the control held
my $cpu = sub {
    my ($what, $c, $max, $min, $note) = @_;
    return verdict($what, 'no measure', 0) unless $c;
    my $ok = (defined $max ? $c->{med} <= $max : 1)
             && (defined $min ? $c->{med} >= $min : 1);
    verdict($what, range($c), $steady ? $ok : undef, $note);
};

my $valid = ratio($shown, 'module/valid', 'plain/valid', 'control/valid');
my $conflict = ratio($shown, 'module/conflict', 'plain/conflict',
                     'control/conflict');

$cpu->('valid path: module ≤ 1.08 × plain proxy_pass', $valid, 1.08, undef,
       $valid ? sprintf('aim 1.05: %s', $valid->{med} <= 1.05 ? 'met'
                                                              : 'not met')
              : '');
$cpu->('409 path: module ≤ 1.08 × plain proxy_pass (409 passed through)',
       $conflict, 1.08, undef,
       $conflict ? sprintf('aim 1.05: %s', $conflict->{med} <= 1.05
                                           ? 'met' : 'not met')
                 : '');
$cpu->('valid path: Lua ≥ 1.4 × the module',
       ratio($shown, 'lua/valid', 'module/valid'), undef, 1.4);
$cpu->('valid path: njs ≥ 2 × the module',
       ratio($shown, 'njs/valid', 'module/valid'), undef, 2);
$cpu->('rejected body ≤ 0.5 × a valid one (module)',
       ratio($shown, 'module/reject', 'module/valid'), 0.5);

# callgrind: "CG total module module+jansson" per gateway and path
my (%cgv, %detail, @cg_order);
if ($cg && -s $cg) {
    open my $c, '<', $cg or die "$cg: $!\n";
    my $cur;
    while (<$c>) {
        if (/^== (\S+) (\S+)/) {
            $cur = "$1 $2";
            push @cg_order, $cur;
        } elsif (/^CG (\d+) (\d+) (\d+)/) {
            $cgv{$cur} = [ $1, $2, $3 ];
        } else {
            $detail{$cur} .= $_;
        }
    }
    close $c;
}

for my $t ([ 'valid', 15 ], [ 'conflict', 18 ]) {
    my ($p, $max) = @$t;
    my $what = sprintf 'instructions, %s path: module ≤ +%d%% over plain '
        . 'proxy_pass', $p eq 'valid' ? 'valid' : '409', $max;
    my ($m, $pl) = ($cgv{"module $p"}, $cgv{"plain $p"});
    if (!$m || !$pl) {
        verdict($what, 'not run', 'skip');
        next;
    }
    my $x = 100 * ($m->[0] - $pl->[0]) / $pl->[0];
    verdict($what, sprintf('%+.1f%% (%d ÷ %d)', $x, $m->[0], $pl->[0]),
            $x <= $max);
}

if ($mem) {
    my ($before, $after, $req) = split ' ', $mem;
    verdict('worker RSS grows < 1024 KiB over mixed requests',
            sprintf('%+d KiB after %d requests (%d KiB)', $after - $before,
                    $req, $after), $after - $before < 1024);
} else {
    verdict('worker RSS grows < 1024 KiB over mixed requests', 'not run',
            'skip');
}

verdict('the gateways answer alike (19 bodies, the upstream request)',
        $differ ? 'they differ (see the run\'s output)' : 'alike',
        !$differ);
verdict('every run got the answers it should',
        @problems ? scalar(@problems) . ' runs did not' : 'all',
        !@problems);

# --- the report ------------------------------------------------------------

print "### Verdicts\n\n";
if ($attempt) {
    printf "Attempt %d: the control (plain proxy_pass again ÷ plain "
        . "proxy_pass, the same way) came within 2%% of 1 (valid %s, 409 "
        . "%s), so the CPU targets are judged.\n\n", $attempt, range($cv),
        range($cc);
} else {
    printf "**No attempt's control came within 2%% of 1** (the last: valid "
        . "%s, 409 %s): the machine moved too much for the CPU targets to "
        . "be judged; they are INCONCLUSIVE.  Run it again on a quieter "
        . "machine.\n\n", $cv ? range($cv) : '-', $cc ? range($cc) : '-';
}
print "| target | measured | verdict | |\n|---|---|---|---|\n";
printf "| %s | %s | %s | %s |\n", @$_ for @verdicts;

print "\nCPU ratios: the median over the rounds of the ratio taken in each "
    . "round (lowest–highest in brackets); the module against the mean of "
    . "the two plain proxy_pass runs around it.\n";

print "\n### CPU time per request\n\n";
printf "Attempt %d, medians of %d alternating rounds (%s), one nginx "
    . "worker: its CPU time (user + system) over each wrk run, divided by "
    . "the run's requests.  Requests/s and p99 are for information: they "
    . "move with whatever else the machine runs.\n\n", $shown, $n_rounds,
    $settings // '';
print "| path | gateway | CPU µs/request | CPU ÷ module | req/s | p99 ms |\n"
    . "|---|---|---:|---:|---:|---:|\n";

my (%cpu_med, %rps_med, %p99_med);
for my $p (@paths) {
    my $first = 1;
    for my $g (@gateways, 'control') {
        # what the rounds leave out, from the information rounds
        my $from = grep({ $_->{"$g/$p"} } values %{ $run{$shown} || {} })
                   ? $shown : 'info';
        my @x = grep { $_ } map { $_->{"$g/$p"} }
                values %{ $run{$from} || {} };
        next unless @x;
        $cpu_med{$p}{$g} = median(map { $_->{cpu} } @x);
        $rps_med{$p}{$g} = median(map { $_->{rps} } @x);
        $p99_med{$p}{$g} = median(map { $_->{p99} } @x);
        my $q = $g eq 'module' ? undef : ratio($from, "$g/$p", "module/$p");
        printf "| %s | %s%s | %.2f | %s | %.0f | %.2f |\n",
            $first ? $path_label{$p} : '', $label{$g},
            $from eq 'info' ? ' *' : '', $cpu_med{$p}{$g},
            $g eq 'module' ? '1' : $q ? sprintf('%.2f', $q->{med}) : '',
            $rps_med{$p}{$g}, $p99_med{$p}{$g} / 1000;
        $first = 0;
    }
}
print "\n", $run{info} ? "\\* from 3 more rounds of their own, against "
    . "the module in the same round: information, not judged.  " : '',
    "plain proxy_pass does no checks: on the rejected-body path it "
    . "proxies the body and gets a 200, on the 409 path it passes the "
    . "upstream's answer through.\n";

my @other = grep { $_ != $shown } @attempts;
if (@other) {
    print "\nThe other attempts' controls (not judged):";
    for my $at (@other) {
        my ($x, $y) = controls($at);
        printf " attempt %d: valid %s, 409 %s;", $at,
            $x ? range($x) : '-', $y ? range($y) : '-';
    }
    print "\n";
}

if (@problems) {
    print "\n**Unexpected answers:**\n\n";
    print "- $_\n" for @problems;
}

if (%cgv) {
    print "\n### Instructions per request (callgrind)\n\n";
    print "| gateway | path | whole nginx process | module functions only "
        . "| module + jansson |\n|---|---|---:|---:|---:|\n";
    for my $k (@cg_order) {
        my ($g, $p) = split / /, $k;
        my $x = $cgv{$k} or next;
        printf "| %s | %s | %d | %s | %s |\n", $label{$g}, $p, $x->[0],
            $g eq 'module' ? ($x->[1], $x->[2]) : ('–', '–');
    }
    print "\nTop functions (instructions per request, self cost):\n";
    for my $k (@cg_order) {
        my ($g, $p) = split / /, $k;
        print "\n$label{$g}, $p:\n\n```\n" . ($detail{$k} // '') . "```\n";
    }
}

if ($dir) {
    open my $d, '>', "$dir/chart.dat" or die "$dir/chart.dat: $!\n";
    print $d "# path", (map { " ${_}_cpu_us" } @gateways),
        (map { " ${_}_rps" } @gateways), "\n";
    my %short = (valid => '"valid Add Member"', reject => '"rejected body"',
                 conflict => '"upstream 409"');
    for my $p (@paths) {
        print $d $short{$p};
        printf $d " %.3f", $cpu_med{$p}{$_} // 0 for @gateways;
        printf $d " %.0f", $rps_med{$p}{$_} // 0 for @gateways;
        print $d "\n";
    }
    close $d;
}

exit($fail ? 1 : $inconclusive ? 3 : 0);
