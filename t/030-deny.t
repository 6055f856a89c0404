# Default deny: in a "turso_members on" location only the known routes pass.
# Unknown paths are 404 route_not_supported, known paths with another
# method 405 method_not_allowed with Allow; nothing reaches the upstream.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(config => default_locations() . <<'CONF');
        location /elsewhere/ {
            turso_members off;
            proxy_pass http://turso_api/v1/organizations/;
            proxy_set_header Authorization "Bearer test-token";
        }
CONF

sub denied {
    my ($method, $path, $status, $code, %args) = @_;
    subtest "$method $path: $status $code" => sub {
        $t->mock_reset;
        my $r = $t->request(method => $method, path => $path, %args);
        $t->refused($r, $status, $code);
        like $r->{headers}{allow} // '', qr/\bPOST\b/, 'Allow names POST'
            if $status == 405;
    };
}

denied GET => '/v1/organizations/acme/databases', 404, 'route_not_supported';
denied POST => '/v1/organizations/acme/databases', 404, 'route_not_supported',
       body => '{"name":"db","group":"default"}';
denied DELETE => '/v1/organizations/acme/databases/db1', 404,
       'route_not_supported';
denied POST => '/v1/organizations/acme', 404, 'route_not_supported',
       body => '{"username":"bob"}';
denied GET => '/v1/organizations/acme', 404, 'route_not_supported';
denied GET => '/v1/organizations/', 404, 'route_not_supported';
denied PATCH => '/v1/organizations/acme', 404, 'route_not_supported',
       body => '{"overages":true}';
denied GET => '/v1/organizations/acme/members/bob/extra', 404,
       'route_not_supported';
denied POST => '/v1/organizations/acme/members/bob/extra', 404,
       'route_not_supported', body => '{"username":"bob"}';
denied GET => '/v2/organizations/acme/databases', 404, 'route_not_supported';
denied GET => '/v1/organizations/acme/api-tokens', 404, 'route_not_supported';
denied POST => '/v1/organizations/acme/membersx', 404, 'route_not_supported',
       body => '{"username":"bob"}';

# dot segments and encodings that could lead elsewhere once decoded
denied GET => '/v1/organizations/acme/members/../../databases', 404,
       'route_not_supported';
denied GET => '/v1/organizations/acme/members/%2e%2e/%2e%2e/databases', 404,
       'route_not_supported';
denied GET => '/v1/organizations/acme/members%2f..%2f..%2fdatabases', 404,
       'route_not_supported';
denied POST => '/v1/organizations/acme/members%2f..%2f..%2fdatabases', 404,
       'route_not_supported', body => '{"username":"bob"}';
denied POST => '/v1/organizations/acme/members%3Fx=1', 404,
       'route_not_supported', body => '{"username":"bob"}';
denied POST => '/v1/organizations/acme/members%00', 404,
       'route_not_supported', body => '{"username":"bob"}'
    if 0;    # nginx itself answers 400 for an encoded NUL

denied PUT => '/v1/organizations/acme/members', 405, 'method_not_allowed',
       body => '{"username":"bob"}';
denied DELETE => '/v1/organizations/acme/members', 405, 'method_not_allowed';
denied OPTIONS => '/v1/organizations/acme/members', 405, 'method_not_allowed';

subtest 'a denied request with a body leaves the connection usable' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $r = $c->request(method => 'POST', path => '/v1/organizations/acme/databases',
                        body => '{"name":"db"}');
    error_is $r, 404, 'route_not_supported';
    $r = $c->request(method => 'POST', path => ADD_MEMBER,
                     body => '{"username":"bob"}');
    is $r->{status}, 200, 'the next request on the connection';
    my $u = $t->upstream_requests;
    is scalar @$u, 1, 'only the valid request reached the upstream';
    is $u->[0]{url}, '/v1/organizations/acme/members';
    $c->close;
};

subtest 'the body of a denied request is never taken for a request' => sub {
    $t->mock_reset;
    my $c = $t->connect;
    my $smuggled = "POST /v1/organizations/acme/members HTTP/1.1\r\n"
                   . "Host: x\r\nContent-Length: 19\r\n\r\n"
                   . '{"username":"dave"}';
    for my $req (['PUT', ADD_MEMBER, 405, 'method_not_allowed'],
                 ['POST', '/v1/organizations/acme/databases', 404,
                  'route_not_supported'])
    {
        my ($m, $p, $status, $code) = @$req;
        my $r = $c->request(method => $m, path => $p, body => $smuggled);
        last if $r->{status} == 0;      # closed: fine too
        error_is $r, $status, $code;
    }
    my $r = $c->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    ok $r->{status} == 0 || $r->{status} == 200, 'closed, or answered';
    ok !grep({ $_->{body} =~ /dave/ } @{ $t->upstream_requests }),
       'dave never reached the upstream';
    $c->close;
};

subtest 'turso_members off: the module leaves the location alone' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => '/elsewhere/acme/databases');
    is $r->{status}, 404;
    is_deeply $r->{json}, { error => 'not found' }, "the mock's own answer";
    my $u = $t->upstream_requests;
    is scalar @$u, 1, 'reached the upstream';
    is $u->[0]{url}, '/v1/organizations/acme/databases';
};

done_testing;
