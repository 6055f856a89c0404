#!/usr/bin/perl
# Sends an exact number of requests, one after the other on one keep-alive
# connection, and checks every status: the load of bench/run.sh's callgrind
# runs, where wrk's time-bounded runs would not give a fixed count.
#
#   drive.pl PORT COUNT valid|reject|conflict|reject-proxied

use strict;
use warnings;
use IO::Socket::IP;

my ($port, $count, $kind) = @ARGV;
die "usage: $0 PORT COUNT valid|reject|conflict\n" unless $kind;

my %req = (
    valid => [ '/v1/organizations/acme/members',
               '{"username":"bob","role":" Admin "}', 200 ],
    reject => [ '/v1/organizations/acme/members',
                '{"username":"bob","role":"superuser"}', 400 ],
    conflict => [ '/v1/organizations/taken/members',
                  '{"username":"bob","role":"member"}', 409 ],
    # the rejected body through plain proxy_pass: proxied, 200
    'reject-proxied' => [ '/v1/organizations/acme/members',
                          '{"username":"bob","role":"superuser"}', 200 ],
);
my ($path, $body, $want) = @{ $req{$kind} or die "unknown kind $kind\n" };

my $request = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    . "Content-Type: application/json\r\n"
    . "Authorization: Bearer portal-credential-not-for-turso\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body";

my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
                            Timeout => 30)
    or die "connect 127.0.0.1:$port: $@\n";

my $buf = '';
my $bad = 0;

for my $i (1 .. $count) {
    print $s $request or die "write: $!\n";

    # read one response: headers, then Content-Length bytes
    while (1) {
        if ($buf =~ /\A(.*?\r\n)\r\n/s) {
            my $head = $1;
            my ($status) = $head =~ m{\AHTTP/1\.1 (\d+)};
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            die "no Content-Length in response $i:\n$head\n"
                unless defined $len;
            my $total = length($head) + 2 + $len;
            if (length($buf) >= $total) {
                $bad++ if $status != $want;
                substr($buf, 0, $total) = '';
                last;
            }
        }
        my $n = sysread($s, $buf, 65536, length $buf);
        die "read after $i requests: " . ($n // $!) . "\n" unless $n;
    }
}

close $s;

die "$bad of $count responses were not $want\n" if $bad;
