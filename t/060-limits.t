# The body cap: turso_members_max_body_size (16k by default) and nginx's
# own client_max_body_size, both answered as JSON body_too_large, with
# nothing reaching the upstream.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Time::HiRes qw(time);

my $t = TursoMembers::Test->new;

# A valid Add Member body of exactly $len bytes.
sub body_of {
    my ($len) = @_;
    my $head = '{"username":"bob","pad":"';
    return $head . ('p' x ($len - length($head) - 2)) . '"}';
}

subtest 'Content-Length over 16k: 413 before the body is sent' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    $c->send_raw($c->head(method => 'POST', path => ADD_MEMBER,
                          headers => ['Content-Length: 16385']));
    my $start = time;
    my $r = $c->read_response(timeout => 3);
    error_is $r, 413, 'body_too_large';
    ok time - $start < 2, 'answered without waiting for the body';
    $t->nothing_upstream;
    $c->close;
};

subtest 'after an early 413 the unread body is never taken for a request' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $smuggled = "POST /v1/organizations/acme/members HTTP/1.1\r\n"
                   . "Host: x\r\nContent-Length: 19\r\n\r\n"
                   . '{"username":"dave"}';
    my $body = $smuggled . (' ' x (20000 - length $smuggled));
    $c->send_raw($c->head(method => 'POST', path => ADD_MEMBER,
                          headers => ['Content-Length: 20000']));
    error_is $c->read_response(timeout => 3), 413, 'body_too_large';
    $c->send_raw($body . $c->head(method => 'POST', path => ADD_MEMBER,
                                  body => '{"username":"bob"}')
                 . '{"username":"bob"}');
    my $r = $c->read_response(timeout => 3);
    ok $r->{status} == 0 || $r->{status} == 200,
       'the connection is closed, or the next request is answered'
        or diag explain $r;
    my @bodies = map { $_->{body} } @{ $t->upstream_requests };
    ok !grep({ /dave/ } @bodies), 'the body was not parsed as a request';
    $c->close;
};

subtest 'Content-Length of a gigabyte' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    $c->send_raw($c->head(method => 'POST', path => ADD_MEMBER,
                          headers => ['Content-Length: 1073741824']));
    error_is $c->read_response(timeout => 3), 413, 'body_too_large';
    $t->nothing_upstream;
    $c->close;
};

subtest 'exactly 16384 bytes are accepted' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => body_of(16384));
    is $r->{status}, 200;
    is $t->upstream_requests->[0]{body}, '{"username":"bob","role":"member"}';
};

subtest '16385 bytes sent: 413' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => body_of(16385));
    error_is $r, 413, 'body_too_large';
    $t->nothing_upstream;
};

subtest 'a chunked body over 16k: 413' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        chunked => [ unpack '(a1000)*', body_of(20000) ]);
    error_is $r, 413, 'body_too_large';
    $t->nothing_upstream;
};

subtest 'a chunked body of exactly 16384 bytes passes' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        chunked => [ unpack '(a1000)*', body_of(16384) ]);
    is $r->{status}, 200;
    is $t->upstream_requests->[0]{body}, '{"username":"bob","role":"member"}';
};

subtest 'Expect: 100-continue with a large Content-Length: 413, no 100' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        expect_continue => 1, body => body_of(20000));
    is $r->{continue}, 0, 'no 100 Continue';
    error_is $r, 413, 'body_too_large';
    $t->nothing_upstream;
};

subtest 'HTTP/2, over the cap' => sub {
    # not curl: it drops the answer when nginx resets the unread stream,
    # with or without the module
    $t->mock_reset;
    my $r = $t->h2_request(client => 'node', method => 'POST',
                           path => ADD_MEMBER, body => body_of(20000));
    error_is $r, 413, 'body_too_large';
    $t->nothing_upstream;
};

{
    my $small = TursoMembers::Test->new(config => default_locations(
        'turso_members_max_body_size 1k;'));

    subtest 'turso_members_max_body_size 1k: 1025 bytes -> 413' => sub {
        $small->mock_reset;
        my $r = $small->request(method => 'POST', path => ADD_MEMBER,
                                body => body_of(1025));
        error_is $r, 413, 'body_too_large';
        $small->nothing_upstream;
    };

    subtest 'turso_members_max_body_size 1k: 1024 bytes pass' => sub {
        $small->mock_reset;
        my $r = $small->request(method => 'POST', path => ADD_MEMBER,
                                body => body_of(1024));
        is $r->{status}, 200;
    };
    $small->stop;
}

{
    my $nginx_cap = TursoMembers::Test->new(config => default_locations(
        'client_max_body_size 1k;'));

    subtest "nginx's client_max_body_size 413 is JSON body_too_large" => sub {
        $nginx_cap->mock_reset;
        my $r = $nginx_cap->request(method => 'POST', path => ADD_MEMBER,
                                    body => body_of(4000));
        error_is $r, 413, 'body_too_large';
        $nginx_cap->nothing_upstream;
    };

    subtest "client_max_body_size, chunked" => sub {
        $nginx_cap->mock_reset;
        my $r = $nginx_cap->request(method => 'POST', path => ADD_MEMBER,
                                    chunked => [ unpack '(a500)*', body_of(4000) ]);
        error_is $r, 413, 'body_too_large';
        $nginx_cap->nothing_upstream;
    };
    $nginx_cap->stop;
}

done_testing;
