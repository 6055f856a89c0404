# How the client's body arrives must not matter: in memory, in a temp file,
# chunked, slow, after 100-continue, over HTTP/2, on keep-alive and
# pipelined connections.  The upstream always gets the canonical body.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $canonical = '{"username":"bob","role":"member"}';

my $t = TursoMembers::Test->new;

# Checks that the upstream got exactly one canonical Add Member.
sub upstream_canonical {
    my ($tt, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $u = $tt->upstream_requests;
    is scalar @$u, 1, 'one upstream request';
    is $u->[0]{body}, $want // $canonical, 'canonical upstream body';
    is $u->[0]{headers}{'content-length'}, length($want // $canonical),
       'upstream Content-Length';
    ok !exists $u->[0]{headers}{'transfer-encoding'}, 'no Transfer-Encoding';
}

# ~8 KB of padding in unknown keys
my $padded = '{"username":"bob",'
             . join(',', map { qq("pad$_":") . ('p' x 100) . '"' } 1 .. 80)
             . '}';

subtest 'in memory' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'a large padded body in memory' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER, body => $padded);
    is $r->{status}, 200;
    upstream_canonical($t);
};

{
    my $spill = TursoMembers::Test->new(config => default_locations(
        'client_body_buffer_size 1k;'));
    subtest 'spilled to a temp file (client_body_buffer_size 1k, 8k body)' => sub {
        $spill->mock_reset;
        my $r = $spill->request(method => 'POST', path => ADD_MEMBER,
                                body => $padded);
        is $r->{status}, 200;
        upstream_canonical($spill);
    };
    subtest 'spilled to a temp file, chunked' => sub {
        $spill->mock_reset;
        my $r = $spill->request(method => 'POST', path => ADD_MEMBER,
                                chunked => [ unpack '(a700)*', $padded ]);
        is $r->{status}, 200;
        upstream_canonical($spill);
    };
    $spill->stop;

    my $file = TursoMembers::Test->new(config => default_locations(
        'client_body_in_file_only clean;'));
    subtest 'client_body_in_file_only: a small body in a file' => sub {
        $file->mock_reset;
        my $r = $file->request(method => 'POST', path => ADD_MEMBER,
                               body => '{"username":"bob"}');
        is $r->{status}, 200;
        upstream_canonical($file);
    };
    subtest 'client_body_in_file_only: a rejected body' => sub {
        $file->mock_reset;
        my $r = $file->request(method => 'POST', path => ADD_MEMBER,
                               body => '{"username":"bob","role":"owner"}');
        error_is $r, 400, 'invalid_role';
        $file->nothing_upstream;
    };
    $file->stop;
}

subtest 'chunked, one byte per chunk' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        chunked => [ split //, '{"username":"bob"}' ]);
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'slow: Content-Length body in pieces with pauses' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        slow => ['{"user', 'name":', '"bob"}'], delay => 0.3);
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'slow: chunks with pauses' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER, chunked => 1,
                        slow => ['{"user', 'name":', '"bob"}'], delay => 0.3);
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'slow and invalid: rejected once complete' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        slow => ['{"user', 'name":', '"bob"} x'], delay => 0.3);
    error_is $r, 400, 'invalid_json';
    $t->nothing_upstream;
};

subtest 'Expect: 100-continue' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        expect_continue => 1, body => '{"username":"bob"}');
    is $r->{continue}, 1, '100 Continue before the body';
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'Expect: 100-continue, then an invalid body' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        expect_continue => 1, body => '{"username":"bo b"}');
    error_is $r, 400, 'invalid_body';
    $t->nothing_upstream;
};

subtest 'HTTP/2' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(method => 'POST', path => ADD_MEMBER,
                           headers => ['Content-Type: text/plain;charset=UTF-8',
                                       'Authorization: Bearer client-secret'],
                           body => '{"username":"bob"}');
    is $r->{version}, '2', 'spoken over HTTP/2';
    is $r->{status}, 200;
    is $r->{body}, '{"member":"bob","role":"member"}';
    upstream_canonical($t);
    is $t->upstream_requests->[0]{headers}{authorization}, 'Bearer test-token';
};

subtest 'HTTP/2, a large padded body' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(method => 'POST', path => ADD_MEMBER, body => $padded);
    is $r->{status}, 200;
    upstream_canonical($t);
};

subtest 'HTTP/2, rejected' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(method => 'POST', path => ADD_MEMBER,
                           body => '{"username":"bob","Role":"admin"}');
    is $r->{status}, 400;
    is $r->{json}{code}, 'invalid_body';
    like $r->{headers}{'content-type'}, qr{^application/json};
    is $r->{headers}{'content-length'}, length $r->{body};
    $t->nothing_upstream;
};

subtest 'keep-alive: a rejected request, then a valid one' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $r = $c->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role';
    $r = $c->request(method => 'POST', path => ADD_MEMBER,
                     body => '{"username":"bob"}');
    is $r->{status}, 200, 'second answered';
    upstream_canonical($t);
    $c->close;
};

subtest 'keep-alive: several valid requests reuse the connection' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    for my $u (qw(bob dave erin)) {
        my $r = $c->request(method => 'POST', path => ADD_MEMBER,
                            body => qq({"username":"$u"}));
        is $r->{status}, 200, $u;
    }
    is_deeply [ map { $_->{body} } @{ $t->upstream_requests } ],
              [ map { qq({"username":"$_","role":"member"}) } qw(bob dave erin) ];
    $c->close;
};

subtest 'pipelined: rejected, valid, rejected, valid' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $bytes = join '', map {
        $c->head(method => 'POST', path => ADD_MEMBER, body => $_) . $_
    } '{"username":"bob"', '{"username":"bob"}', '{"username":""}',
      '{"username":"dave","role":"viewer"}';
    $c->send_raw($bytes);

    error_is $c->read_response, 400, 'invalid_json', 'first';
    is $c->read_response->{status}, 200, 'second';
    error_is $c->read_response, 400, 'invalid_body', 'third';
    is $c->read_response->{status}, 200, 'fourth';

    is_deeply [ map { $_->{body} } @{ $t->upstream_requests } ],
              [ '{"username":"bob","role":"member"}',
                '{"username":"dave","role":"viewer"}' ];
    $c->close;
};

subtest 'pipelined chunked requests' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $bytes = join '', map {
        $c->head(method => 'POST', path => ADD_MEMBER, chunked => 1)
        . TursoMembers::Test::Connection::chunked_body([ unpack '(a5)*', $_ ])
    } '{"username":"bob"}', '{"username":"bob","role":"member","role":"x"}',
      '{"username":"erin"}';
    $c->send_raw($bytes);

    is $c->read_response->{status}, 200, 'first';
    error_is $c->read_response, 400, 'invalid_json', 'second';
    is $c->read_response->{status}, 200, 'third';
    is scalar @{ $t->upstream_requests }, 2;
    $c->close;
};

done_testing;
