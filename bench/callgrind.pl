#!/usr/bin/perl
# Reads a callgrind output file of bench/run.sh and prints the instructions
# per request spent in the module:
#   - "module": the self cost of the functions named ngx_turso_members_*;
#   - "module + jansson": that, plus the inclusive cost of every call those
#     functions make into libjansson (jansson's static functions and the
#     malloc/free it calls included: libjansson is stripped, so its internals
#     are only reachable through the call edges);
#   - the whole process per request, and the top functions by self cost.
#
#   callgrind.pl FILE REQUESTS [TOP]
# prints "CG total module module_jansson" first, then the tables.

use strict;
use warnings;

my ($file, $requests, $top) = @ARGV;
die "usage: $0 FILE REQUESTS [TOP]\n" unless $requests;
$top ||= 12;

open my $fh, '<', $file or die "$file: $!\n";

my (%names, %self, %edge, %objof);
my ($ob, $fn, $cob, $cfn, $in_call, $total) = ('', '', '', '', 0, 0);

# callgrind's name compression: "(id) name" defines, "(id)" refers
sub name {
    my ($kind, $v) = @_;
    if ($v =~ /^\((\d+)\)\s*(.*)$/) {
        my ($id, $n) = ($1, $2);
        $names{$kind}{$id} = $n if length $n;
        return $names{$kind}{$id} // "?$id";
    }
    return $v;
}

while (my $l = <$fh>) {
    chomp $l;

    if ($l =~ /^ob=(.*)/) { $ob = name('ob', $1); next }
    if ($l =~ /^fn=(.*)/) {
        $fn = name('fn', $1);
        $objof{$fn} //= $ob;
        $cob = '';
        next;
    }
    if ($l =~ /^cob=(.*)/) { $cob = name('ob', $1); next }
    if ($l =~ /^cfn=(.*)/) { $cfn = name('fn', $1); next }
    if ($l =~ /^calls=/) { $in_call = 1; next }
    if ($l =~ /^(?:summary|totals):\s*(\d+)/) { $total = $1; next }

    if ($l =~ /^[+\-*]?\d*\s+(\d+)/ || $l =~ /^[+\-*]\S*\s+(\d+)/) {
        my $ir = $1;
        if ($in_call) {
            $edge{$fn}{$cfn} += $ir;
            $objof{$cfn} //= $cob || $ob;
            $in_call = 0;
            $cob = '';
        } else {
            $self{$fn} += $ir;
        }
        next;
    }
}

close $fh;

my $is_module = qr/^ngx_turso_members_/;
my ($module, $jansson) = (0, 0);

for my $f (keys %self) {
    $module += $self{$f} if $f =~ $is_module;
}

for my $f (keys %edge) {
    next unless $f =~ $is_module;
    for my $c (keys %{ $edge{$f} }) {
        next if $c =~ $is_module;
        $jansson += $edge{$f}{$c} if ($objof{$c} // '') =~ /libjansson/;
    }
}

$total ||= 0;
$total += $_ for $total ? () : values %self;

printf "CG %.0f %.0f %.0f\n", $total / $requests, $module / $requests,
    ($module + $jansson) / $requests;

my $short = sub {
    my ($f) = @_;
    my $o = $objof{$f} // '';
    $o =~ s{.*/}{};
    return $f =~ /^0x/ ? "$f ($o)" : $f;
};

print "top functions by self cost (instructions per request):\n";
my @all = sort { $self{$b} <=> $self{$a} } keys %self;
for my $f (@all[0 .. ($top < @all ? $top : @all) - 1]) {
    printf "  %8.0f  %s\n", $self{$f} / $requests, $short->($f);
}

print "module functions (self; calls into jansson, inclusive):\n";
my @mod = sort { $self{$b} <=> $self{$a} } grep { $_ =~ $is_module } keys %self;
for my $f (@mod) {
    my $j = 0;
    for my $c (keys %{ $edge{$f} || {} }) {
        $j += $edge{$f}{$c}
            if $c !~ $is_module && ($objof{$c} // '') =~ /libjansson/;
    }
    next if $self{$f} / $requests < 1 && $j / $requests < 1;
    printf "  %8.0f  %8s  %s\n", $self{$f} / $requests,
        $j ? sprintf('%.0f', $j / $requests) : '-', $f;
}

print "calls out of the module's functions, inclusive (per request):\n";
my %out;
for my $f (keys %edge) {
    next unless $f =~ $is_module;
    for my $c (keys %{ $edge{$f} }) {
        # its post handler runs the rest of the request: not a cost of its own
        next if $c =~ $is_module || $c eq 'ngx_http_read_client_request_body';
        $out{$c} += $edge{$f}{$c};
    }
}
my @out = sort { $out{$b} <=> $out{$a} } keys %out;
for my $c (@out[0 .. ($top < @out ? $top : @out) - 1]) {
    next unless defined $c && $out{$c} / $requests >= 1;
    printf "  %8.0f  %s\n", $out{$c} / $requests, $short->($c);
}
