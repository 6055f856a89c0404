# "proxy_pass http://upstream;" without the variable: the gateway sets the
# request's URI to the validated path, with no arguments, so that nginx's
# own URI handling sends exactly what $turso_members_upstream_uri holds.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(config => <<'CONF');
        location / {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

my @cases = (
    [ 'Add Member, query dropped', 'POST',
      '/v1/organizations/acme/members?role=admin&next=/v1/orgs',
      '{"username":"bob","x":1}',
      '/v1/organizations/acme/members', '{"username":"bob","role":"member"}' ],
    [ 'the Node form: the user moves to the body', 'POST',
      '/v1/organizations/acme/members/dave', '{"member":"dave"}',
      '/v1/organizations/acme/members', '{"username":"dave","role":"member"}' ],
    [ 'a username segment', 'GET', '/v1/organizations/acme/members/carol',
      undef, '/v1/organizations/acme/members/carol', '' ],
    [ 'an email segment, %40 decoded then sent as "@"', 'DELETE',
      '/v2/organizations/acme/invites/a+b%40example.com', undef,
      '/v2/organizations/acme/invites/a+b@example.com', '' ],
    [ 'a "%" in a username is escaped again', 'GET',
      '/v1/organizations/acme/members/50%25off', undef,
      '/v1/organizations/acme/members/50%25off', '' ],
    [ 'dot segments resolved before the route is matched', 'GET',
      '/v1/organizations/other/../acme/members', undef,
      '/v1/organizations/acme/members', '' ],
);

for my $c (@cases) {
    my ($name, $method, $path, $body, $url, $want) = @$c;
    subtest $name => sub {
        $t->mock_reset;
        my $r = $t->request(method => $method, path => $path,
                            defined $body ? (body => $body) : ());
        my $u = $t->upstream_requests;
        is scalar @$u, 1, 'one upstream request';
        is $u->[0]{method}, $method, 'method';
        is $u->[0]{url}, $url, 'upstream URL';
        is $u->[0]{body}, $want, 'upstream body';
        is $u->[0]{headers}{authorization}, 'Bearer test-token', 'token';
        ok $r->{status} =~ /^(200|404)$/, "answered ($r->{status})";
    };
}

subtest 'anything off the table is still never proxied' => sub {
    $t->mock_reset;
    for my $p ('/v1/organizations/acme/databases', '/', '/v1/organizations',
               '/v1/organizations/acme/members/x/y')
    {
        my $r = $t->request(method => 'GET', path => $p);
        is $r->{status}, 404, "GET $p: 404";
        is $r->{json}{code}, 'route_not_supported', "GET $p: code";
    }
    $t->nothing_upstream;
};

done_testing;
