# Upstream faults: each one is answered with the gateway's JSON error (or,
# for a success, passed through), the nginx worker survives (same pid
# before and after), and the next request on the same client keep-alive
# connection is served.  Where nginx cannot keep the client connection
# (the upstream failed after a success header went out) the next request
# on a new connection is served instead, and the test says so.
#
# The faults come from the mock's /__mock/script, plus a few the mock
# cannot produce (a TCP reset in the middle of an answer, a status line
# that is not HTTP, headers dribbled byte by byte) from a small raw TCP
# server in this file.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use IO::Socket::IP;
use POSIX ();
use Net::EmptyPort qw(wait_port);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

my $LIST = '/v1/organizations/acme/members';

# --- a raw upstream for faults the mock lacks ------------------------------
#
# Answers GET .../members/{mode} according to {mode}.

my $raw_port = free_port();
my $raw_pid = fork // die "fork: $!";
if ($raw_pid == 0) {
    # never hold the TAP pipe open, never outlive the test
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    alarm 600;
    my $srv = IO::Socket::IP->new(LocalHost => '127.0.0.1',
                                  LocalPort => $raw_port, Listen => 16,
                                  ReuseAddr => 1) or die "listen: $!";
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $srv->accept) {
        my $pid = fork;
        next if !defined $pid || $pid;       # parent: accept the next one
        raw_serve($c);
        POSIX::_exit(0);
    }
    POSIX::_exit(0);
}
END { kill 'KILL', $raw_pid if $raw_pid && kill 0, $raw_pid }
wait_port({ port => $raw_port, max_wait => 5 }) or die "raw upstream down";

sub rst_close {
    my ($c) = @_;
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $c;
}

sub raw_serve {
    my ($c) = @_;
    binmode $c;
    $c->autoflush(1);
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($c, $buf, 4096, length $buf) or return;
    }
    my ($mode) = $buf =~ m{^\w+ /v1/organizations/acme/members/(\w+)};
    $mode //= 'none';
    my $json = 'Content-Type: application/json';
    if ($mode eq 'rsthead') {
        syswrite $c, "HTTP/1.1 40";
        sleep 0.1;
        rst_close($c);
    } elsif ($mode eq 'rst409') {
        syswrite $c, "HTTP/1.1 409 Conflict\r\n$json\r\n"
                     . "Content-Length: 200\r\n\r\n{\"error\":\"secret-up";
        sleep 0.1;
        rst_close($c);
    } elsif ($mode eq 'rst200') {
        syswrite $c, "HTTP/1.1 200 OK\r\n$json\r\n"
                     . "Content-Length: 200\r\n\r\n{\"member\":{\"user";
        sleep 0.1;
        rst_close($c);
    } elsif ($mode eq 'garbage') {
        syswrite $c, "SSH-2.0-OpenSSH_9.2\r\n\r\n";
        sleep 0.1;
        close $c;
    } elsif ($mode =~ /^dribble(slow)?$/) {
        # a 409, one byte every 5 ms (0.4 s in all) or 50 ms (4 s in all):
        # nginx wants the whole header within proxy_read_timeout
        my $gap = $1 ? 0.05 : 0.005;
        my $body = '{"error":"secret-upstream-text"}';
        for my $ch (split //, "HTTP/1.1 409 Conflict\r\n$json\r\nContent-Length: "
                              . length($body) . "\r\n\r\n$body")
        {
            syswrite $c, $ch or return;
            sleep $gap;
        }
        sleep 0.5;
        close $c;
    } elsif ($mode eq 'bigheader') {
        syswrite $c, "HTTP/1.1 409 Conflict\r\nX-Big: " . ('x' x 20000)
                     . "\r\nContent-Length: 2\r\n\r\n{}";
        sleep 0.1;
        close $c;
    } else {
        syswrite $c, "HTTP/1.1 200 OK\r\n$json\r\nContent-Length: 2\r\n\r\n{}";
        close $c;
    }
}

# --- the gateway -----------------------------------------------------------

my $t = TursoMembers::Test->new(config => default_locations(
    'proxy_read_timeout 1s;') . <<"CONF");
        location /closed/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^/closed(/.*)\$ \$1 break;
            proxy_pass http://127.0.0.1:%%CLOSED_PORT%%\$turso_members_upstream_uri;
        }
        location /raw/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^/raw(/.*)\$ \$1 break;
            proxy_read_timeout 1s;
            proxy_pass http://127.0.0.1:$raw_port\$turso_members_upstream_uri;
        }
CONF

my $workers = join(",", $t->workers);
ok $workers =~ /^\d+$/, "one worker ($workers)";

my $conn;
my (%survived, @closed_after);

# The canonical list answer of the mock, for the follow-up requests.
my $list_body = do {
    $t->mock_reset;
    $t->request(method => 'GET', path => $LIST)->{body};
};
like $list_body, qr/^\{"members":\[/, 'the list answer';

# One fault: $send->($conn) sends the request and returns the answer;
# $check->($answer) asserts it.
sub fault {
    my ($name, %a) = @_;

    subtest $name => sub {
        $t->mock_reset;
        $t->mock_script($a{script}) if $a{script};
        $conn //= $t->connect;

        my $start = time;
        my $r = $conn->request(method => $a{method} // 'POST',
                               path => $a{path} // ADD_MEMBER,
                               ($a{method} // 'POST') eq 'POST'
                                   ? (body => $a{body} // '{"username":"bob"}')
                                   : ());
        my $took = time - $start;
        $a{check}->($r);
        ok $took < 4, sprintf('answered in %.1fs', $took);

        is join(",", $t->workers), $workers, 'the same worker is alive';

        # the next request, on the same connection if nginx kept it
        $t->mock_reset;
        my $next = $conn->request(method => 'GET', path => $LIST);
        if ($next->{status} == 0) {
            if ($a{may_close}) {
                pass 'the client connection was closed (' . $a{may_close} . ')';
                push @closed_after, $name;
            } else {
                fail 'the next request on the same connection is served';
                diag explain $next;
            }
            $conn->close;
            $conn = $t->connect;
            $next = $conn->request(method => 'GET', path => $LIST);
        } else {
            pass 'the client connection was kept';
        }
        is $next->{status}, 200, 'the next request is served';
        is $next->{body}, $list_body, 'with the upstream answer';
        my $u = $t->upstream_requests;
        is scalar @$u, 1, 'the next request reached the upstream once';
        $survived{$name} = 1;
    };
}

sub json_error {
    my ($status, $codes) = @_;
    return sub {
        my ($r) = @_;
        my $code = ref $codes ? ($r->{json}{code} // 'none') : $codes;
        error_is $r, $status, $code;
        ok grep({ $_ eq $code } ref $codes ? @$codes : $codes),
           "code $code" if ref $codes;
        unlike $r->{body}, qr/secret-up/, 'no upstream text';
    };
}

# --- faults ----------------------------------------------------------------

fault 'connection refused', path => '/closed' . ADD_MEMBER,
      check => json_error(502, 'upstream_unavailable');

fault 'reset before answering', script => [{ fault => 'reset' }],
      check => json_error(502, 'upstream_unavailable');

fault 'reset inside the status line', method => 'GET',
      path => "/raw$LIST/rsthead",
      check => json_error(502, 'upstream_unavailable');

fault 'reset in the middle of a 409 body', method => 'GET',
      path => "/raw$LIST/rst409",
      may_close => 'the upstream failed in the middle of the error body',
      # the status line arrived: the answer is the 409's, on a GET route
      check => json_error(409, 'upstream_rejected');

fault 'reset in the middle of a 200 body', method => 'GET',
      path => "/raw$LIST/rst200",
      may_close => 'a 200 header was already sent',
      check => sub {
          my ($r) = @_;
          ok $r->{status} == 200 || $r->{status} == 0 || $r->{status} == 502,
             "status $r->{status}: no false success completes";
          ok $r->{error}, 'the answer is cut short, not completed'
              if $r->{status} == 200;
      };

fault 'timeout (hang, proxy_read_timeout 1s)', script => [{ fault => 'hang' }],
      check => json_error(504, 'upstream_timeout');

fault 'slow headers: 2s delay over a 1s timeout',
      script => [{ fault => 'delay', delay_ms => 2000 }],
      check => json_error(504, 'upstream_timeout');

fault 'slow headers: 0.5s delay within the timeout',
      script => [{ fault => 'delay', delay_ms => 500 }],
      check => sub {
          is $_[0]{status}, 200;
          is $_[0]{body}, '{"member":"bob","role":"member"}';
      };

fault 'a 409 dribbled byte by byte within proxy_read_timeout', method => 'GET',
      path => "/raw$LIST/dribble",
      check => json_error(409, 'upstream_rejected');

fault 'headers dribbled for 4s, past proxy_read_timeout 1s', method => 'GET',
      path => "/raw$LIST/dribbleslow",
      check => json_error(504, 'upstream_timeout');

fault 'a 409 closed right after the headers',
      may_close => 'the upstream failed in the middle of the error body',
      script => [{ status => 409, fault => 'close_after_headers',
                   body => '{"error":"secret-upstream-text"}' }],
      check => json_error(409, 'member_exists');

fault 'a 500 closed right after the headers',
      may_close => 'the upstream failed in the middle of the error body',
      script => [{ status => 500, fault => 'close_after_headers',
                   body => 'secret-upstream-text' }],
      check => json_error(502, 'upstream_error');

fault 'a 200 closed right after the headers',
      script => [{ status => 200, fault => 'close_after_headers',
                   body => '{"member":"bob"' }],
      may_close => 'a 200 header was already sent',
      check => sub {
          my ($r) = @_;
          ok $r->{status} == 200 || $r->{status} == 0 || $r->{status} == 502,
             "status $r->{status}";
          ok $r->{error}, 'the answer is cut short, not completed'
              if $r->{status} == 200;
      };

fault 'a 10 MB error body',
      script => [{ status => 500, size => 10_000_000,
                   body => '{"error":"secret-upstream-text' }],
      check => json_error(502, 'upstream_error');

fault 'a 10 MB 409, chunked',
      script => [{ status => 409, fault => 'chunked', size => 10_000_000,
                   body => 'secret-upstream-text' }],
      check => json_error(409, 'member_exists');

fault 'a non-JSON 409',
      script => [{ status => 409, headers => { 'Content-Type' => 'text/html' },
                   body => '<html>secret-upstream-text</html>' }],
      check => json_error(409, 'member_exists');

fault 'a chunked 409',
      script => [{ status => 409, fault => 'chunked',
                   body => '{"error":"secret-upstream-text"}' }],
      check => json_error(409, 'member_exists');

fault 'a 409 with a 20k header (too big for proxy_buffer_size)',
      method => 'GET', path => "/raw$LIST/bigheader",
      check => json_error(502, [qw(upstream_error upstream_unavailable)]);

# nginx takes an answer without an HTTP status line for HTTP/0.9 and
# relays its bytes as they are (no status line, no headers): a gateway that
# turns every upstream failure into JSON must not let that through
fault 'a status line that is not HTTP', method => 'GET',
      path => "/raw$LIST/garbage",
      may_close => 'an HTTP/0.9 answer ends with the connection',
      check => sub {
          my ($r) = @_;
          unlike join('', $r->{error} // '', $r->{partial} // '',
                      $r->{body} // ''), qr/SSH-2\.0/,
                 "the upstream's bytes are not relayed raw";
          json_error(502, 'upstream_error')->($r);
      };

fault 'a 200 with garbage passes through untouched',
      script => [{ status => 200, headers => { 'Content-Type' => 'text/plain' },
                   body => "not json \x01\x02 {{{" }],
      check => sub {
          my ($r) = @_;
          is $r->{status}, 200;
          is $r->{body}, "not json \x01\x02 {{{", 'byte for byte';
          is $r->{headers}{'content-type'}, 'text/plain';
      };

fault 'a 200 with an empty body gets a JSON body',
      script => [{ status => 200, body => '' }],
      check => sub {
          my ($r) = @_;
          is $r->{status}, 200;
          ok ref $r->{json} eq 'HASH', 'a JSON object' or diag explain $r;
      };

fault 'a 401 (the token refused)',
      script => [{ status => 401, body => '{"error":"secret-upstream-text"}' }],
      check => json_error(502, 'upstream_unauthorized');

fault 'a 302 redirect to elsewhere',
      script => [{ status => 302, headers => { Location => 'http://evil/' },
                   body => 'secret-upstream-text' }],
      check => sub {
          json_error(502, 'upstream_error')->(@_);
          ok !exists $_[0]{headers}{location}, 'no Location passed on';
      };

$conn->close if $conn;

my $n = keys %survived;
diag "faults survived: $n; client connection closed after: "
     . (join(', ', @closed_after) || 'none');

kill 'TERM', $raw_pid;
waitpid $raw_pid, 0;

done_testing;
