#!/usr/bin/perl
# The report of bench/run.sh: medians of the wrk rounds, ratios to the
# module, the targets, memory and callgrind, as Markdown on stdout; the
# chart's data in DIR/chart.dat.
#
#   report.pl RAW.tsv CALLGRIND.txt DIR MEMORY-LINE SETTINGS INTERLEAVED.tsv
#             CONNECTIONS [PAIRS-LINES]

use strict;
use warnings;

my ($raw, $cg, $dir, $mem, $settings, $mix, $conns, $pairs) = @ARGV;

my @gateways = qw(plain module lua njs);
my @paths = qw(valid reject conflict);
my %label = (plain => 'plain proxy_pass', module => 'ngx_turso_members',
             plainvar => 'proxy_pass with a variable in the URI',
             lua => 'Lua (lua-cjson)', njs => 'njs');
my %path_label = (
    valid => 'valid Add Member (proxied, 200)',
    reject => 'rejected body (bad role, 400, not proxied)',
    conflict => 'upstream 409, normalized',
);

# the answer each gateway must give: non-2xx for all requests, or none
my %want_non2xx = (valid => {}, reject => { module => 1, lua => 1, njs => 1 },
                   conflict => { map { $_ => 1 } @gateways });

my (%v, @rounds_seen);

open my $fh, '<', $raw or die "$raw: $!\n";
<$fh>;
while (<$fh>) {
    chomp;
    my ($round, $path, $g, $req, $sec, $rps, $p50, $p99, $non2xx, $err)
        = split /\t/;
    push @{ $v{$path}{$g}{rps} }, $rps;
    push @{ $v{$path}{$g}{p50} }, $p50;
    push @{ $v{$path}{$g}{p99} }, $p99;
    $v{$path}{$g}{req} += $req;
    $v{$path}{$g}{non2xx} += $non2xx;
    $v{$path}{$g}{err} += $err;
    $v{$path}{$g}{n}++;
}
close $fh;

sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my %m;
my @problems;

for my $p (@paths) {
    for my $g (@gateways) {
        my $x = $v{$p}{$g} or next;
        $m{$p}{$g} = { map { $_ => median(@{ $x->{$_} }) } qw(rps p50 p99) };
        my $want = $want_non2xx{$p}{$g} ? $x->{req} : 0;
        if ($x->{non2xx} != $want || $x->{err}) {
            push @problems, "$p $g: $x->{non2xx} non-2xx answers of"
                . " $x->{req} (expected $want), $x->{err} socket errors";
        }
    }
}

# the interleaved runs: slots (a gateway and a path) in turns on one port

my (%iv, %ireq);

if ($mix && -s $mix) {
    open my $ih, '<', $mix or die "$mix: $!\n";
    <$ih>;
    my %run;
    while (<$ih>) {
        chomp;
        my ($n, $set, $slot, $req, $sec, $rps, $rreq, $rnon2xx, $rerr)
            = split /\t/;
        push @{ $iv{$set}{$slot} }, $rps;
        my $x = $run{"$set $n"} ||= { non2xx => $rnon2xx, err => $rerr,
                                      req => $rreq, want => 0 };
        $x->{want} += $req unless $slot =~ m{/valid$};
    }
    close $ih;
    # a request is counted in the slot it is sent in; wrk does not count
    # the last ones still in flight (one per connection), nor a request
    # cut short when a connection is opened again
    for my $k (sort keys %run) {
        my $x = $run{$k};
        my $d = $x->{want} - $x->{non2xx};
        if ($d < 0 || $d > 2 * ($conns || 0) || $x->{err}) {
            push @problems, "interleaved $k: $x->{non2xx} non-2xx answers"
                . " of $x->{req} (expected $x->{want}), $x->{err} socket"
                . " errors";
        }
    }
}

# a slot of a set against another, or against the mean of several, run
# by run: the median of the ratios, and their range
my $iratio = sub {
    my ($set, $sa, @sb) = @_;
    my $x = $iv{$set}{$sa};
    my @y = map { $iv{$set}{$_} } @sb;
    return unless $x && @y == grep { $_ && @$_ == @$x } @y;
    my @d = map {
                my $i = $_;
                my $d = 0;
                $d += $_->[$i] / @y for @y;
                $d
            } 0 .. $#$x;
    my @q = sort { $a <=> $b } map { $x->[$_] / $d[$_] } 0 .. $#$x;
    # and, for comparison, the ratio of the medians over the runs
    return (median(@q), sprintf('%.2f–%.2f', $q[0], $q[-1]),
            median(@$x) / (median(@d) || 1));
};

my ($first) = values %{ $v{valid} || {} };
my $n = $first ? $first->{n} : 0;

print "### Throughput and latency\n\n";
print "Medians of $n alternating rounds ($settings), one nginx worker.\n\n";
print "| path | gateway | req/s | p50 ms | p99 ms | req/s ÷ module |\n";
print "|---|---|---:|---:|---:|---:|\n";

for my $p (@paths) {
    next unless $m{$p} && $m{$p}{module};
    my $ref = $m{$p}{module}{rps} || 1;
    for my $g (@gateways) {
        my $x = $m{$p}{$g} or next;
        printf "| %s | %s | %.0f | %.2f | %.2f | %.2f |\n",
            $g eq 'plain' ? $path_label{$p} : '', $label{$g}, $x->{rps},
            $x->{p50} / 1000, $x->{p99} / 1000, $x->{rps} / $ref;
    }
}

print "\nplain proxy_pass does no checks: on the rejected-body path it "
    . "proxies the body and gets a 200.\n";

my %slot_label = (
    'plain/valid' => 'plain proxy_pass, valid',
    'module/valid' => 'ngx_turso_members, valid',
    'control/valid' => 'plain proxy_pass again (control), valid',
    'module/reject' => 'ngx_turso_members, rejected body',
    'plain/conflict' => 'plain proxy_pass, 409 passed through',
    'module/conflict' => 'ngx_turso_members, 409 normalized',
    'control/conflict' => 'plain proxy_pass again (control), 409',
    'plain/valid control/valid' => 'the mean of the two plain proxy_pass',
    'plain/conflict control/conflict' =>
        'the mean of the two plain proxy_pass',
);
# the module against plain proxy_pass measured in two slots of every run
# (their mean), the control against the first
my @interleaved = (
    [ 'valid', 'module/valid', 'plain/valid', 'control/valid' ],
    [ 'valid', 'control/valid', 'plain/valid' ],
    [ 'valid', 'module/reject', 'module/valid' ],
    [ 'conflict', 'module/conflict', 'plain/conflict', 'control/conflict' ],
    [ 'conflict', 'control/conflict', 'plain/conflict' ],
);

if (%iv) {
    my ($runs) = map { scalar @$_ } values %{ $iv{valid} || {} };
    print "\n### Interleaved runs\n\n";
    print "One port, servers told apart by Host: plain proxy_pass, the "
        . "module and plain proxy_pass again (the control).  Within each "
        . "2-second wrk run (bench/interleave.lua) the slots (a server and "
        . "a path) take turns in 10 ms slices, so that the machine's swings "
        . "hit them alike; a slot's req/s is its requests over its share of "
        . "the run.  " . ($runs // 0) . " runs of each set: the medians, and "
        . "each ratio taken run by run (its median, lowest and highest).  "
        . "The module is compared with the mean of the two plain "
        . "proxy_pass slots of each run; the control's ratio to the first "
        . "shows what the method itself gets wrong.  The last column "
        . "divides the medians over the runs instead, which lets the "
        . "swings between runs back in.\n\n";
    print "| slot | req/s | ratio | run by run | of | ratio of medians |\n"
        . "|---|---:|---:|---:|---|---:|\n";
    for my $set (qw(valid conflict)) {
        my @order = map { "$_/$set" } qw(plain module control);
        push @order, 'module/reject' if $set eq 'valid';
        for my $slot (grep { $iv{$set}{$_} } @order) {
            printf "| %s | %.0f |", $slot_label{$slot} // $slot,
                median(@{ $iv{$set}{$slot} });
            my ($c) = grep { $_->[0] eq $set && $_->[1] eq $slot }
                      @interleaved;
            if ($c) {
                my ($med, $range, $rom) = $iratio->(@$c);
                printf " %.3f | %s | ÷ %s | %.3f |\n", $med, $range,
                    $slot_label{ join ' ', @$c[2 .. $#$c] }, $rom;
            } else {
                print " | | | |\n";
            }
        }
    }
}

# plain proxy_pass against itself: how far off the method was in this run
for my $set (qw(valid conflict)) {
    my ($med) = $iratio->($set, "control/$set", "plain/$set");
    next unless defined $med;
    if (abs($med - 1) > 0.02) {
        printf "\n**The control is %.3f × plain proxy_pass on the %s set:** "
            . "the machine moved too much during this run for the "
            . "interleaved ratios to be read to 2%%; run it again.\n",
            $med, $set;
    }
}

if (@problems) {
    print "\n**Unexpected answers:**\n\n";
    print "- $_\n" for @problems;
}

my $r = sub {
    my ($p, $a, $b) = @_;
    return 0 unless $m{$p}{$a} && $m{$p}{$b} && $m{$p}{$b}{rps};
    return $m{$p}{$a}{rps} / $m{$p}{$b}{rps};
};

# one ratio taken round by round: its median, and "min-max"
my $spread = sub {
    my ($pa, $ga, $pb, $gb) = @_;
    my $x = $v{$pa}{$ga} && $v{$pa}{$ga}{rps};
    my $y = $v{$pb}{$gb} && $v{$pb}{$gb}{rps};
    return '' unless $x && $y && @$x == @$y;
    my @q = sort { $a <=> $b } map { $y->[$_] ? $x->[$_] / $y->[$_] : 0 }
            0 .. $#$x;
    my $med = @q % 2 ? $q[$#q / 2] : ($q[@q / 2 - 1] + $q[@q / 2]) / 2;
    return sprintf '%.3f (%.2f–%.2f)', $med, $q[0], $q[-1];
};

my @targets = (
    [ 'valid path: module ≥ 0.95 × plain proxy_pass', $r->('valid', 'module', 'plain'), 0.95,
      $spread->('valid', 'module', 'valid', 'plain'),
      [ $iratio->('valid', 'module/valid', 'plain/valid',
                  'control/valid') ] ],
    [ 'valid path: module ≥ 1.4 × Lua', $r->('valid', 'module', 'lua'), 1.4,
      $spread->('valid', 'module', 'valid', 'lua') ],
    [ 'valid path: module ≥ 2 × njs', $r->('valid', 'module', 'njs'), 2,
      $spread->('valid', 'module', 'valid', 'njs') ],
    [ '409 path: module ≥ 0.95 × plain proxy_pass (409 passed through)',
      $r->('conflict', 'module', 'plain'), 0.95,
      $spread->('conflict', 'module', 'conflict', 'plain'),
      [ $iratio->('conflict', 'module/conflict', 'plain/conflict',
                  'control/conflict') ] ],
    [ 'rejection ≥ 2 × the valid path (module)',
      ($m{reject}{module}{rps} // 0) / ($m{valid}{module}{rps} || 1), 2,
      $spread->('reject', 'module', 'valid', 'module'),
      [ $iratio->('valid', 'module/reject', 'module/valid') ] ],
);

print "\n### Targets (ratios of medians)\n\n";
print "The targets against plain proxy_pass and the rejection target are "
    . "judged on the interleaved runs (the median of the run-by-run "
    . "ratios), when there are any, the others on the rounds' ratio of "
    . "medians.  The last two columns are the rounds' "
    . "ratio of medians and the same ratio taken round by round (each "
    . "round runs the gateways back to back): its median, then its lowest "
    . "and highest, how much the machine moved during the run.\n\n";
print "| target | judged on | measured | | rounds | round by round |\n"
    . "|---|---|---:|---|---:|---:|\n";
for my $t (@targets) {
    my ($on, $x) = ('rounds', $t->[1]);
    if ($t->[4] && defined $t->[4][0]) {
        ($on, $x) = ('interleaved', $t->[4][0]);
    }
    printf "| %s | %s | %.3f | %s | %.3f | %s |\n", $t->[0], $on, $x,
        $x >= $t->[2] ? 'PASS' : 'MISS', $t->[1], $t->[3];
}

if ($pairs) {
    print "\n### Pairs (1-second runs back to back)\n\n";
    print "- $_\n" for split /\n/, $pairs;
}

if ($mem) {
    print "\n### Memory\n\n$mem\n";
}

if (-s $cg) {
    open my $c, '<', $cg or die "$cg: $!\n";
    my ($cur, %cgv, %detail, @order);
    while (<$c>) {
        if (/^== (\S+) (\S+)/) {
            $cur = "$1 $2";
            push @order, $cur;
            next;
        }
        if (/^CG (\d+) (\d+) (\d+)/) {
            $cgv{$cur} = [ $1, $2, $3 ];
            next;
        }
        $detail{$cur} .= $_;
    }
    close $c;

    print "\n### Instructions per request (callgrind)\n\n";
    print "| gateway | path | whole nginx process | module functions only "
        . "| module + jansson |\n|---|---|---:|---:|---:|\n";
    for my $k (@order) {
        my ($g, $p) = split / /, $k;
        my $x = $cgv{$k} or next;
        printf "| %s | %s | %d | %s | %s |\n", $label{$g}, $p, $x->[0],
            $g eq 'module' ? ($x->[1], $x->[2]) : ('–', '–');
    }
    for my $p (qw(valid conflict)) {
        my ($a, $b) = ($cgv{"module $p"}, $cgv{"plain $p"});
        next unless $a && $b;
        printf "\n%s path: the module's request costs %d instructions more "
            . "than plain proxy_pass's (%+.1f%%).\n", $p, $a->[0] - $b->[0],
            100 * ($a->[0] - $b->[0]) / $b->[0];
    }
    print "\nTop functions (instructions per request, self cost):\n";
    for my $k (@order) {
        print "\n$label{(split / /, $k)[0]}, " . (split / /, $k)[1]
            . ":\n\n```\n$detail{$k}```\n";
    }
}

open my $d, '>', "$dir/chart.dat" or die "$dir/chart.dat: $!\n";
print $d "# path";
print $d " ${_}_rps" for @gateways;
print $d " ${_}_p99ms" for @gateways;
print $d "\n";
my %short = (valid => '"valid Add Member"', reject => '"rejected body"',
             conflict => '"upstream 409"');
for my $p (@paths) {
    print $d $short{$p};
    printf $d " %.0f", $m{$p}{$_}{rps} // 0 for @gateways;
    printf $d " %.3f", ($m{$p}{$_}{p99} // 0) / 1000 for @gateways;
    print $d "\n";
}
close $d;
