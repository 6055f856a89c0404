# Answers the gateway rewrites, under other modules' filters and nginx's
# ways of sending, from the attack on the whole-answer filter: each case
# asserts what the client got, what reached the upstream, and what
# follows on the connection.
#
#   - the addition filter (add_before_body, add_after_body) in a gateway
#     location around the "{}" of an empty success: it ends the answer by
#     sending its own last buffer through the whole filter chain, from
#     within the gateway's; that buffer must go on (it was dropped as the
#     upstream's rest: the answer never ended, nginx logged "http finalize
#     non-active request" and the client waited).
#   - an upstream whose chunked framing is broken (a raw upstream here):
#     nginx's proxy module ends the request at once, so the client of an
#     answer the gateway still held (an error, a chunked success before
#     its first byte) gets no answer, only the closed connection
#     (docs/security.md, "What it cannot do"); the worker lives, the
#     upstream got the validated request, and the next one is answered.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use IO::Socket::IP;
use POSIX ();

my $URL = '/v1/organizations/acme/members/bob';

# A raw upstream: each request's path says which answer it gets; it
# records what it got (one request a connection) in a file per answer.
my %RAW = (
    'broken-error' => "HTTP/1.1 404 Not Found\r\n"
                      . "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    'broken-later' => "HTTP/1.1 409 Conflict\r\n"
                      . "Transfer-Encoding: chunked\r\n\r\n"
                      . "3\r\nabc\r\nzz\r\n",
    'broken-success' => "HTTP/1.1 200 OK\r\n"
                        . "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
);
my $RAW_PORT = free_port();
my $RAW_DIR;
my $raw_pid;

sub raw_upstream {
    my $l = IO::Socket::IP->new(LocalAddr => '127.0.0.1',
                                LocalPort => $RAW_PORT, Listen => 8,
                                ReuseAddr => 1) or die "raw upstream: $!";
    $raw_pid = fork // die "fork: $!";
    return if $raw_pid;

    # the child leaves without the parent's END blocks and destructors
    # (they would stop nginx): by _exit, or killed by the alarm
    alarm 60;
    while (my $c = $l->accept) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            sysread($c, $head, 4096, length $head) or last;
        }
        my ($case) = $head =~ m{^\S+ /v1/organizations/([a-z-]+)/};
        $case //= '';
        if (open my $fh, '>', "$RAW_DIR/$case") {
            print $fh $head;
            close $fh;
        }
        syswrite $c, $RAW{$case}
                     // "HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n";
        sleep 1;
        close $c;
    }
    POSIX::_exit(0);
}

my $config = default_locations()
    . prefixed_location('/after', 'add_after_body /tail; addition_types *;')
    . prefixed_location('/both', 'add_before_body /head; add_after_body /tail;'
                   . ' addition_types *;')
    . prefixed_location('/slow', 'add_after_body /tail; addition_types *; limit_rate 200;')
    . <<'CONF';
        location /raw/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^/raw(/.*)$ $1 break;
            proxy_pass http://127.0.0.1:%%RAW_PORT%%$turso_members_upstream_uri;
        }
        location = /head { return 200 "HEAD"; }
        location = /tail { return 200 "TAIL"; }
CONF
$config =~ s/%%RAW_PORT%%/$RAW_PORT/;

my $t = TursoMembers::Test->new(config => $config);

my %EMPTY = (
    'an empty 200'         => { status => 200, body => '' },
    'a 204'                => { status => 204, body => '' },
    'an empty chunked 200' => { status => 200, body => '', fault => 'chunked' },
);

for my $case (['/after', '{}TAIL'], ['/both', 'HEAD{}TAIL'],
              ['/slow', '{}TAIL'])
{
    my ($prefix, $want) = @$case;

    for my $name (sort keys %EMPTY) {
        subtest "$prefix: $name -> $want, then the next request" => sub {
            $t->mock_reset;
            $t->mock_script([$EMPTY{$name}]);

            my $c = $t->connect;
            my $r = $c->request(method => 'DELETE', path => "$prefix$URL");

            is $r->{status}, 200, 'status 200';
            is $r->{error}, undef, 'the answer ended';
            is $r->{body}, $want, 'the gateway\'s {} within the additions';
            like $r->{headers}{'content-type'} // '', qr{^application/json},
                 'JSON';
            $t->forwarded('DELETE', $URL, undef);

            $t->mock_reset;
            $r = $c->request(method => 'GET',
                             path => '/v1/organizations/acme/members');
            is $r->{status}, 200, 'the next request on the connection';
            like $r->{body} // '', qr/"members"/, 'with its own body';
            $c->close;
        };
    }
}

$RAW_DIR = $t->prefix . '/logs';
raw_upstream();
my @workers = $t->workers;

for my $case (sort keys %RAW) {
    subtest "$case: no answer, the connection closed, the worker lives" => sub {
        my $c = $t->connect;
        my $r = $c->request(method => 'DELETE',
                            path => "/raw/v1/organizations/$case/members/bob");
        is $r->{status}, 0, 'no status';
        is $r->{error}, 'connection closed', 'the connection closed';
        $c->close;

        my $got = TursoMembers::Test::slurp("$RAW_DIR/$case") // '';
        like $got,
             qr{^DELETE /v1/organizations/$case/members/bob HTTP/1\.[01]\r\n},
             'the upstream got the validated request';
        my $token = $TursoMembers::Test::TOKEN;
        like $got, qr{\r\nAuthorization: Bearer \Q$token\E\r\n},
             'with the token';

        $t->mock_reset;
        $r = $t->request(method => 'GET',
                         path => '/v1/organizations/acme/members');
        is $r->{status}, 200, 'the next request is answered';
        is_deeply [$t->workers], \@workers, 'by the same worker';
    };
}

like $t->error_log, qr/upstream sent invalid chunked response/,
     'nginx says why';
unlike $t->error_log, qr/finalize non-active/, 'no request left unfinished';

kill 'TERM', $raw_pid;
waitpid $raw_pid, 0;

done_testing;
