# Add Member, the happy path: what the upstream receives and what the
# client gets back.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(config => default_locations(
    'add_header X-Upstream-Uri $turso_members_upstream_uri always;'));

my $canonical = '{"username":"bob","role":"member"}';

subtest 'the Node client form: text/plain body, own Authorization, query' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER . '?role=admin&x=1',
                        headers => ['Content-Type: text/plain;charset=UTF-8',
                                    'Authorization: Bearer client-secret'],
                        body => '{"username":"bob"}');

    my $u = $t->upstream_requests;
    is scalar @$u, 1, 'one upstream request';
    $u = $u->[0];
    is $u->{method}, 'POST', 'upstream method';
    is $u->{url}, '/v1/organizations/acme/members', 'query string dropped';
    is $u->{body}, $canonical, 'canonical body';
    is $u->{headers}{'content-length'}, length $canonical, 'Content-Length';
    ok !exists $u->{headers}{'transfer-encoding'}, 'no Transfer-Encoding';
    is_deeply [raw_headers($u, 'Content-Type')], ['application/json'],
              'Content-Type: application/json';
    is_deeply [raw_headers($u, 'Authorization')], ['Bearer test-token'],
              'only the gateway token';

    is $r->{status}, 200, 'client status';
    is $r->{body}, '{"member":"bob","role":"member"}', 'upstream body untouched';
    like $r->{headers}{'content-type'}, qr{^application/json}, 'content type';
};

subtest 'the Go CLI form: application/json, role given' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        headers => ['Content-Type: application/json'],
                        body => '{"username":"bob","role":"admin"}');
    my $u = $t->upstream_requests;
    is scalar @$u, 1;
    is $u->[0]{body}, '{"username":"bob","role":"admin"}';
    is $r->{status}, 200;
    is $r->{body}, '{"member":"bob","role":"admin"}';
};

subtest 'no Content-Type at all' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    is $t->upstream_requests->[0]{body}, $canonical;
    is $r->{status}, 200;
};

subtest 'keys in any order, pretty-printed: compact, username first' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => qq({\n  "role" : "viewer",\r\n\t"username":"bob"\n}\n));
    my $u = $t->upstream_requests;
    is $u->[0]{body}, '{"username":"bob","role":"viewer"}';
    is $u->[0]{headers}{'content-length'}, 34;
    is $r->{status}, 200;
};

subtest 'unknown keys are dropped' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
        body => '{"username":"bob","email":"x@example.com","admin":true,'
                . '"nested":{"role":"admin"},"list":[1,2,{"role":"owner"}]}');
    is $t->upstream_requests->[0]{body}, $canonical;
    is $r->{status}, 200;
};

subtest 'escapes are decoded, the forwarded body is canonical' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"b\u006fb","role":"m\u0065mber"}');
    is $t->upstream_requests->[0]{body}, $canonical;
    is $r->{status}, 200;
};

subtest 'a client Content-Length for the original body is replaced' => sub {
    $t->mock_reset;
    my $body = '{"username":"bob",   "extra":"' . ('x' x 100) . '"}';
    my $r = $t->request(method => 'POST', path => ADD_MEMBER, body => $body);
    my $u = $t->upstream_requests->[0];
    is $u->{headers}{'content-length'}, length $canonical;
    is $u->{body_length}, length $canonical;
    is $r->{status}, 200;
};

subtest 'a chunked client body goes upstream with a Content-Length' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        chunked => ['{"usern', 'ame":"bob"', '}']);
    my $u = $t->upstream_requests->[0];
    is $u->{body}, $canonical;
    is $u->{headers}{'content-length'}, length $canonical;
    ok !exists $u->{headers}{'transfer-encoding'}, 'no Transfer-Encoding';
    is $r->{status}, 200;
};

subtest 'other client headers do not change the canonical request' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        headers => ['Content-Type: application/x-www-form-urlencoded',
                                    'X-Forwarded-For: 10.0.0.1'],
                        body => '{"username":"bob"}');
    my $u = $t->upstream_requests->[0];
    is $u->{body}, $canonical;
    is $u->{headers}{'content-type'}, 'application/json';
    is $r->{status}, 200;
};

subtest '$turso_members_upstream_uri: path only, never a query string' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER . '?a=b&c',
                        body => '{"username":"bob"}');
    is $r->{headers}{'x-upstream-uri'}, '/v1/organizations/acme/members';
    is $t->upstream_requests->[0]{url}, '/v1/organizations/acme/members';
};

subtest 'the same member twice: the second is a conflict' => sub {
    $t->mock_reset;
    is $t->request(method => 'POST', path => ADD_MEMBER,
                   body => '{"username":"bob"}')->{status}, 200;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    is scalar @{ $t->upstream_requests }, 2, 'both reached the upstream';
    error_is $r, 409, 'member_exists', undef,
             organization => 'acme', username => 'bob';
};

done_testing;
