package TursoMembers::Spy;

# A raw HTTP upstream that records every request it receives, byte for
# byte, and answers as the last segment of the request's path says.  For
# the tests of where the token may go (t/160-token-handoff.t): the gateway
# location, the locations it must never reach (mirror, fallback, internal
# targets...) all proxy to one spy, and the test reads what each got.
#
#   my $spy = TursoMembers::Spy->new;      # forks; stopped at exit
#   $spy->port;
#   $spy->reset;                           # forget what was recorded
#   my @got = $spy->requests;              # [{ head, body, path, headers }]
#   my ($gw, $other) = $spy->split;        # /v1/... requests, and the rest
#   $spy->token_only($token, $n, $name);   # tests: the token reached $n
#                                          # gateway requests, nothing else
#
# Answers, by the path's last segment:
#   int100 int103   "100 Continue" / "103 Early Hints", then a 409
#   int101          "101 Switching Protocols", then raw bytes
#   xaccel          200 with X-Accel-Redirect: /internal/target
#   xaccelnamed     200 with X-Accel-Redirect: @fallback
#   cut409          a 409 whose body stops half way, then the close
#   nobuf409        the same, with X-Accel-Buffering: no
#   part            206, the first 16 of 48 bytes (for slice)
#   cut200          a chunked 200 closed before its first byte
#   gone404         404 {"error":"user ... is not a member ..."}
#   ssi             200 JSON with an SSI include of /other/ssi
#   slow*           200 {"members":[]} after 1.5 s
#   garbage         no status line ("SSH-2.0-..."), then the close
#   anything else   200 {"members":[]} (and "ok" for /other/...)

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::IP;
use JSON::PP;
use Net::EmptyPort qw(wait_port);
use POSIX ();
use Time::HiRes qw(sleep);

use TursoMembers::Test ();


sub new {
    my ($class) = @_;

    my $dir = tempdir(CLEANUP => 1);
    chmod 0755, $dir;
    my $port = TursoMembers::Test::free_port();

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        alarm 600;
        my $srv = IO::Socket::IP->new(LocalHost => '127.0.0.1',
                                      LocalPort => $port, Listen => 32,
                                      ReuseAddr => 1) or die "listen: $!";
        $SIG{CHLD} = 'IGNORE';
        my $n = 0;
        while (my $c = $srv->accept) {
            $n++;
            my $child = fork;
            next if !defined $child || $child;
            serve($c, "$dir/c$$-$n");
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }

    wait_port({ port => $port, max_wait => 5 }) or die "spy down";

    return bless { pid => $pid, port => $port, dir => $dir }, $class;
}


sub port { $_[0]{port} }


sub DESTROY {
    my ($self) = @_;
    kill 'KILL', $self->{pid} if $self->{pid};
}


sub reset {
    my ($self) = @_;
    unlink glob "$self->{dir}/*";
}


# Every request recorded since the last reset, oldest first, once no new
# one has come for 0.2 s (a mirror's runs in the background; at most 3 s).
sub requests {
    my ($self) = @_;

    my @got = $self->read_all;
    for (1 .. 15) {
        sleep 0.2;
        my @again = $self->read_all;
        last if @again == @got;
        @got = @again;
    }

    return @got;
}


# The requests recorded: the gateway's (to /v1/...) and the others'.
sub split {
    my ($self) = @_;

    my @all = $self->requests;
    return ([ grep { $_->{path} =~ m{^/v1/} } @all ],
            [ grep { $_->{path} !~ m{^/v1/} } @all ]);
}


# Tests that exactly $n requests reached the gateway's upstream, each with
# the token, and that no other request carried any of it; returns split().
sub token_only {
    my ($self, $token, $n, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my ($gw, $other) = $self->split;
    my @with = grep { index($_->{head} . $_->{body}, $token) >= 0 } @$other;

    Test::More::ok(!@with, "$name: no other request has the token")
        or Test::More::diag(join "\n---\n", map { $_->{head} } @with);
    Test::More::is(scalar(grep { ($_->{headers}{authorization}[0] // '')
                                 eq "Bearer $token" } @$gw),
                   $n, "$name: $n gateway request(s) with the token");
    Test::More::is(scalar(@$gw), $n, "$name: $n request(s) reached Turso")
        or Test::More::diag(join "\n---\n",
                            map { $_->{head} . $_->{body} } @$gw);

    return ($gw, $other);
}


sub read_all {
    my ($self) = @_;

    my @got;
    for my $f (sort { (stat $a)[9] <=> (stat $b)[9] || $a cmp $b }
               glob "$self->{dir}/*")
    {
        my $raw = TursoMembers::Test::slurp($f);
        while ($raw =~ s/\A(.*?\r\n\r\n)//s) {
            my $head = $1;
            my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
            my $body = substr($raw, 0, $len // 0, '');
            my ($path) = $head =~ m{^\w+ (\S+)};
            my %h;
            for my $l (split /\r\n/, $head) {
                my ($k, $v) = $l =~ /^([^:\s]+):\s*(.*)$/ or next;
                push @{ $h{ lc $k } }, $v;
            }
            push @got, { head => $head, body => $body, path => $path,
                         headers => \%h };
        }
    }

    return @got;
}


sub serve {
    my ($c, $file) = @_;

    binmode $c;
    $c->autoflush(1);

    my $buf = '';

    for (;;) {
        while ($buf !~ /\r\n\r\n/) {
            my $n = sysread($c, $buf, 65536, length $buf);
            return unless $n;
        }
        my ($head) = $buf =~ /\A(.*?\r\n\r\n)/s;
        my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
        $len //= 0;
        while (length($buf) < length($head) + $len) {
            my $n = sysread($c, $buf, 65536, length $buf);
            return unless $n;
        }
        my $req = substr($buf, 0, length($head) + $len, '');

        open my $fh, '>>', $file or return;
        binmode $fh;
        print $fh $req;
        close $fh;

        my ($path) = $head =~ m{^\w+ (\S+)};
        my ($mode) = $path =~ m{/([^/?]+)(?:\?.*)?$};
        answer($c, $mode // '', $path) or return;
    }
}


sub json {
    my ($status, $body, @h) = @_;
    return "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
           . join('', map { "$_\r\n" } @h)
           . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
}


# Writes the answer; false when the connection is to be closed.
sub answer {
    my ($c, $mode, $path) = @_;

    if ($path =~ m{^/other/}) {
        syswrite $c, json(200, '"ok"');
        return 1;
    }

    my $conflict = json(409, '{"error":"user bob is already a member"}');

    if ($mode eq 'int100') {
        syswrite $c, "HTTP/1.1 100 Continue\r\n\r\n" . $conflict;
        return 1;
    }
    if ($mode eq 'int103') {
        syswrite $c, "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload"
                     . "\r\n\r\n" . $conflict;
        return 1;
    }
    if ($mode eq 'int101') {
        syswrite $c, "HTTP/1.1 101 Switching Protocols\r\n"
                     . "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                     . "raw tunnel bytes";
        sleep 0.5;
        return 0;
    }
    if ($mode eq 'xaccel' || $mode eq 'xaccelnamed') {
        my $to = $mode eq 'xaccel' ? '/internal/target' : '@fallback';
        syswrite $c, json(200, '{"members":[]}', "X-Accel-Redirect: $to",
                          'Set-Cookie: spy=1');
        return 1;
    }
    if ($mode eq 'cut409' || $mode eq 'nobuf409') {
        my $xa = $mode eq 'nobuf409' ? "X-Accel-Buffering: no\r\n" : '';
        syswrite $c, "HTTP/1.1 409 Conflict\r\nContent-Type: application/json"
                     . "\r\n${xa}Content-Length: 200\r\n\r\n{\"error\":\"us";
        sleep 0.2;
        return 0;
    }
    if ($mode eq 'part') {
        my $body = '{"members":[]}  ';
        syswrite $c, "HTTP/1.1 206 Partial Content\r\nContent-Type: "
                     . "application/json\r\nContent-Range: bytes 0-15/48\r\n"
                     . "Content-Length: 16\r\n\r\n$body";
        return 1;
    }
    if ($mode eq 'cut200') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . "Transfer-Encoding: chunked\r\n\r\n";
        sleep 0.2;
        return 0;
    }
    if ($mode eq 'gone404') {
        syswrite $c, json(404, '{"error":"user bob is not a member of org '
                               . 'acme"}');
        return 1;
    }
    if ($mode eq 'ssi') {
        syswrite $c, json(200, '{"members":[<!--# include virtual="/other/'
                               . 'ssi" -->]}');
        return 1;
    }
    if ($mode eq 'garbage') {
        syswrite $c, "SSH-2.0-OpenSSH_9.2\r\nraw bytes\r\n";
        return 0;
    }
    sleep 1.5 if $mode =~ /^slow/;
    syswrite $c, json(200, '{"members":[]}');
    return 1;
}


1;
