# Every answer the gateway rewrites arrives whole, however slowly nginx
# may send it: an upstream error normalized, nginx's own 502, 504 and 413
# made JSON, the "{}" of an empty success (a 204, an empty 200, an empty
# chunked 200).  Each kind is sent under each mechanism that makes nginx
# send an answer in several goes:
#
#   - limit_rate in the location;
#   - an upstream's X-Accel-Limit-Rate (upstream answers only);
#   - an HTTP/2 client whose stream window is 1 or 16 bytes (the client
#     opens it as it reads);
#   - a slow reader: a small receive buffer, reading only after a pause,
#     for an answer larger than the sockets' buffers (add_header pads it).
#
# For each case: the client gets the complete answer (status, JSON body,
# Content-Length equal to the bytes received) within a bounded time; the
# upstream got the validated request with the token, or nothing for
# nginx's own errors; and what follows the answer on its connection is
# the next request's answer (keep-alive) or, after the 413, the close.
# The HTTP/1.1 cases of one mechanism run at once: their answers take
# seconds under a rate limit (the mock answers by URL, each case has its
# own organization).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use IO::Socket::IP;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(sleep time);

my $TOKEN = $TursoMembers::Test::TOKEN;
my $RATE = 100;             # bytes per second: about 3 s for an answer
my $LIST = '/v1/organizations/acme/members';

# The slow reader's server: small socket buffers, and answers padded to
# about 128 KB, more than the sockets hold
my $SLOW = free_port();
my $PAD = join '', map { "add_header X-Pad-$_ \"" . ('p' x 4000)
                         . "\" always;\n" } 1 .. 32;

sub loc {
    my ($prefix, $extra, $closed) = @_;
    my $pass = $closed ? 'http://127.0.0.1:%%CLOSED_PORT%%'
                       : 'http://turso_api';
    return <<"LOC";
        location $prefix/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^$prefix(/.*)\$ \$1 break;
            proxy_read_timeout 1s;
            $extra
            proxy_pass $pass\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
LOC
}

my $COMMON = <<'CONF';
        client_max_body_size 64;
        # a stalled answer ends here, not at the default 60 s
        send_timeout 3s;

CONF
$COMMON .= default_locations('proxy_read_timeout 1s;');

my $slow_server = <<"HTTP" . loc('/padded', $PAD)
    server {
        listen 127.0.0.1:$SLOW sndbuf=16k;
        server_name localhost;
$COMMON
HTTP
    . loc('/padded-closed', $PAD, 1) . "    }\n";

my $t = TursoMembers::Test->new(
    http_config => $slow_server,
    config => $COMMON
              . loc('/closed', '', 1)
              . loc('/limited', "limit_rate $RATE;")
              . loc('/limited-closed', "limit_rate $RATE;", 1));


# --- the kinds of rewritten answer -----------------------------------------

my $seq = 0;

# The cases for one mechanism: each has its own organization (the mock's
# script for it answers its URL only).  %a: headers => added to every
# scripted answer, upstream_only => 1 (the upstream's answers only).
sub kinds {
    my (%a) = @_;

    my $h = $a{headers} || {};
    my @k;
    my $case = sub {
        my ($name, $method, $item, %c) = @_;
        my $org = 'o' . ++$seq;
        my $path = "/v1/organizations/$org/members$item";
        $c{script} = { %{ $c{script} }, url => $path,
                       headers => { %$h } } if $c{script};
        push @k, { name => $name, method => $method, path => $path, %c };
    };

    $case->('an upstream 409, normalized', 'POST', '',
            body => '{"username":"carol"}',
            upstream_body => '{"username":"carol","role":"member"}',
            script => { status => 409, body => '{"error":"user carol is '
                        . 'already a member of organization '
                        . '[organizationSlug]"}' },
            status => 409, code => 'member_exists');
    $case->('an upstream 404, normalized', 'GET', '/zed',
            script => { status => 404,
                        body => '{"error":"member not found"}' },
            status => 404, code => 'member_not_found');
    $case->("nginx's 502", 'GET', '', closed => 1,
            status => 502, code => 'upstream_unavailable')
        unless $a{upstream_only};
    $case->("nginx's 504", 'GET', '/zed', script => { fault => 'hang' },
            status => 504, code => 'upstream_timeout')
        unless $a{upstream_only};
    $case->("nginx's 413", 'POST', '',
            body => '{"username":"' . ('x' x 80) . '"}',
            status => 413, code => 'body_too_large', close => 1)
        unless $a{upstream_only};
    $case->('{} for a 204', 'DELETE', '/zed',
            script => { status => 204 }, status => 200);
    $case->('{} for an empty 200', 'GET', '/zed',
            script => { status => 200, body => '' }, status => 200);
    $case->('{} for an empty chunked 200', 'GET', '/zed',
            script => { status => 200, body => '', fault => 'chunked' },
            status => 200);

    return @k;
}


# --- what a case must get --------------------------------------------------

# The answer, whole.
sub answer_is {
    my ($c, $r, $what) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    ok !$r->{error}, "$what: read whole"
        or diag "$r->{error}: " . ($r->{partial} // $r->{body} // '');

    if ($c->{code}) {
        error_is $r, $c->{status}, $c->{code}, "$what: the JSON error";
        return;
    }

    is $r->{status}, 200, "$what: 200";
    is $r->{body}, '{}', "$what: {}";
    is $r->{headers}{'content-length'}, 2, "$what: Content-Length: 2";
    like $r->{headers}{'content-type'} // '', qr{^application/json},
         "$what: JSON";
}


# The next answer on the connection: the list of acme's members.
sub next_is {
    my ($r, $what) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $j = $r->{json};
    ok $r->{status} == 200 && ref $j eq 'HASH' && ref $j->{members} eq 'ARRAY',
       "$what: the next request on the connection is served"
        or diag explain $r;
}


# What reached the upstream: the validated request with the token, once,
# for the upstream's answers; nothing for nginx's own.
sub upstream_ok {
    my ($cases, $what) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my %got;
    for my $u (@{ $t->upstream_requests }) {
        push @{ $got{ $u->{url} } }, $u;
    }

    for my $c (@$cases) {
        my $u = delete $got{ $c->{path} } || [];
        my $name = @$cases > 1 ? "$what, $c->{name}" : $what;
        if (!$c->{script}) {
            is scalar @$u, 0, "$name: nothing upstream";
            next;
        }
        ok @$u == 1 && $u->[0]{method} eq $c->{method}
           && join(',', raw_headers($u->[0], 'Authorization'))
              eq "Bearer $TOKEN"
           && $u->[0]{body} eq ($c->{upstream_body} // ''),
           "$name: the validated request went upstream, "
           . "with the token" or diag explain $u;
    }

    delete $got{$LIST};    # the next requests
    is_deeply [ sort keys %got ], [], "$what: no other upstream request";
}


# --- HTTP/1.1 ---------------------------------------------------------------

# A client connection to the slow reader's server, with a 4 KB receive
# buffer.
sub small_connection {
    my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                   PeerPort => $SLOW,
                                   Sockopts => [[SOL_SOCKET, SO_RCVBUF, 4096]],
                                   Timeout => 5)
        or die "connect: $!";
    $sock->autoflush(1);
    binmode $sock;
    return bless { sock => $sock, buf => '', eof => 0 },
                 'TursoMembers::Test::Connection';
}

# Every case at once, on its own connection; then each one's answer and
# the next request on its connection.  %o: prefix (the location),
# small => 1 (a small receive buffer), pause => seconds before reading.
sub http1 {
    my ($what, $cases, %o) = @_;

    $t->mock_reset;
    $t->mock_script([ map { $_->{script} || () } @$cases ]);

    my $prefix = $o{prefix} // '';
    my @conns;
    for my $c (@$cases) {
        my $p = !$c->{closed} ? $prefix
                : length $prefix ? "$prefix-closed" : '/closed';
        my $conn = $o{small} ? small_connection() : $t->connect;
        $conn->send_request(method => $c->{method}, path => "$p$c->{path}",
                            defined $c->{body} ? (body => $c->{body}) : ());
        push @conns, $conn;
    }

    sleep $o{pause} if $o{pause};

    my $deadline = time + 15 * $TursoMembers::Test::TIMEOUT_FACTOR;

    for my $i (0 .. $#$cases) {
        my ($c, $conn) = ($cases->[$i], $conns[$i]);
        my $name = "$what, $c->{name}";

        my $r = $conn->read_response(method => $c->{method},
                                     timeout => ($deadline - time)
                                       / $TursoMembers::Test::TIMEOUT_FACTOR);
        answer_is($c, $r, $name);
        is $conn->{buf}, '', "$name: nothing follows the answer";

        if ($c->{close}) {
            is lc($r->{headers}{connection} // ''), 'close',
               "$name: Connection: close";
            ok $conn->closed(2), "$name: then the connection closes";
            is $conn->{buf}, '', "$name: nothing before the close";
        } else {
            next_is($conn->request(method => 'GET', path => $LIST),
                    $name);
        }
        $conn->close;
    }

    upstream_ok($cases, $what);
}


subtest 'limit_rate in the location' => sub {
    http1('limit_rate', [ kinds() ], prefix => '/limited');
};

subtest "the upstream's X-Accel-Limit-Rate" => sub {
    http1('X-Accel-Limit-Rate',
          [ kinds(upstream_only => 1,
                  headers => { 'X-Accel-Limit-Rate' => $RATE }) ]);
};

subtest 'a slow reader' => sub {
    http1('slow reader', [ kinds() ], prefix => '/padded', small => 1,
          pause => 0.5);
};


# --- HTTP/2 -----------------------------------------------------------------

for my $window (1, 16) {
    subtest "HTTP/2, a stream window of $window bytes" => sub {
        my $what = "HTTP/2 window $window";

        # a 2-byte "{}" fits a 16-byte window: only the window of 1 cuts it
        for my $c (grep { $window == 1 || $_->{code} } kinds()) {
            my $name = "$what, $c->{name}";

            $t->mock_reset;
            $t->mock_script([ $c->{script} ]) if $c->{script};

            local $ENV{H2_CLIENT_WINDOW} = $window;
            local $ENV{H2_CLIENT_THEN} = $LIST;

            my $r = $t->h2_request(client => 'node', method => $c->{method},
                                   path => ($c->{closed} ? '/closed' : '')
                                           . $c->{path},
                                   defined $c->{body}
                                   ? (body => $c->{body}) : ());
            answer_is($c, $r, $name);

            my $n = $r->{then} || {};
            $n->{body} = decode_base64($n->{body_base64} // '');
            $n->{json} = eval { JSON::PP->new->decode($n->{body}) };
            next_is($n, $name);

            upstream_ok([ $c ], $name);
        }
    };
}


done_testing;
