# CORS (turso_members_cors_origins): preflights answered by the gateway
# from the route table, never proxied; every answer to a listed origin
# readable by the page; other origins refused, with no CORS headers; no
# change at all without the directive.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $PORTAL = 'http://portal.test:8082';
my $OTHER  = 'http://evil.test';

my $t = TursoMembers::Test->new(
    http_config => <<'HTTP',
    map $http_x_tenant $tenant_origins {
        default "";
        one     "http://one.test, http://two.test:8443";
        star    "*";
    }
HTTP
    config => <<"CONF");
        client_max_body_size 64;
        turso_members_cors_origins $PORTAL https://ADMIN.example.com;
        %%LOCATIONS%%
        location /v1/organizations/tenants/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_cors_origins \$tenant_origins;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
        location /nocors/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_cors_origins off;
            rewrite ^/nocors(/.*)\$ \$1 break;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
        location /readonly/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_operations read;
            deny all;
            rewrite ^/readonly(/.*)\$ \$1 break;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF

my @CORS = qw(access-control-allow-origin access-control-allow-credentials
              access-control-expose-headers access-control-allow-methods
              access-control-allow-headers access-control-max-age);

sub preflight {
    my ($path, $method, %a) = @_;
    return $t->request(method => 'OPTIONS', path => $path,
                       headers => [ 'Origin: ' . ($a{origin} // $PORTAL),
                                    "Access-Control-Request-Method: $method",
                                    'Access-Control-Request-Headers: '
                                    . 'content-type,x-request-id',
                                    @{ $a{headers} || [] } ]);
}

# the headers every answer to a listed origin carries
sub readable {
    my ($r, $origin, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $h = $r->{headers};
    my @n = grep { lc $_->[0] eq 'access-control-allow-origin' }
            @{ $r->{header_list} };
    is scalar @n, 1, "$name: one Access-Control-Allow-Origin";
    is $h->{'access-control-allow-origin'}, $origin, "$name: the origin";
    is $h->{'access-control-allow-credentials'}, 'true', "$name: credentials";
    is $h->{vary}, 'Origin', "$name: Vary: Origin";
    is $h->{'access-control-expose-headers'}, 'X-Request-Id, Retry-After',
       "$name: X-Request-Id and Retry-After exposed";
}

sub no_cors {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @h = grep { $r->{headers}{$_} } @CORS;
    is "@h", '', "$name: no CORS header";
}

my %ROUTES = (
    '/v1/organizations/acme/members'              => 'GET, POST',
    '/v1/organizations/acme/members/bob'          => 'POST, GET, PATCH, DELETE',
    '/v2/organizations/acme/invites'              => 'GET, POST',
    '/v2/organizations/acme/invites/x@example.com' => 'DELETE',
    '/v1/organizations/acme/invites'              => 'GET, POST',
    '/v1/organizations/acme/invites/x@example.com' => 'DELETE',
    '/v1/organizations/acme/invite'               => 'POST',
);

subtest 'a preflight on every route and method: 204, never proxied' => sub {
    $t->mock_reset;
    for my $path (sort keys %ROUTES) {
        for my $m (split /, /, $ROUTES{$path}) {
            my $r = preflight($path, $m);
            is $r->{status}, 204, "$m $path: 204";
            is $r->{body}, '', "$m $path: no body";
            is $r->{headers}{'access-control-allow-methods'}, $ROUTES{$path},
               "$m $path: the path's methods";
            is $r->{headers}{'access-control-allow-headers'},
               'Content-Type, Authorization, X-Request-Id',
               "$m $path: the headers a portal sends";
            is $r->{headers}{'access-control-max-age'}, '600',
               "$m $path: max-age";
            readable($r, $PORTAL, "$m $path");
        }
    }
    $t->nothing_upstream;
};

subtest 'over HTTP/2' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(method => 'OPTIONS',
                           path => '/v1/organizations/acme/members/bob',
                           headers => ["Origin: $PORTAL",
                                       'Access-Control-Request-Method: PATCH']);
    is $r->{status}, 204, 'a preflight: 204';
    is $r->{headers}{'access-control-allow-methods'},
       'POST, GET, PATCH, DELETE', 'the methods';
    is $r->{headers}{'access-control-allow-origin'}, $PORTAL, 'the origin';

    $r = $t->h2_request(method => 'PATCH',
                        path => '/v1/organizations/acme/members/carol',
                        headers => ["Origin: $PORTAL",
                                    'Content-Type: application/json'],
                        body => '{"role":"viewer"}');
    is $r->{status}, 200, 'the actual request';
    is $r->{headers}{'access-control-allow-origin'}, $PORTAL, 'the origin';

    $r = $t->h2_request(path => ADD_MEMBER, headers => ["Origin: $OTHER"]);
    is $r->{status}, 403, 'an origin not listed';
    ok !$r->{headers}{'access-control-allow-origin'}, 'no CORS header';
    is scalar @{ $t->upstream_requests }, 1, 'only the PATCH upstream';
};

subtest 'a preflight for a method the path does not take: 405' => sub {
    $t->mock_reset;
    for my $case (['/v1/organizations/acme/members', 'DELETE'],
                  ['/v1/organizations/acme/members/bob', 'PUT'],
                  ['/v1/organizations/acme/members/bob', 'patch'],
                  ['/v2/organizations/acme/invites/x@example.com', 'GET'])
    {
        my $r = preflight(@$case);
        error_is $r, 405, 'method_not_allowed', "@$case";
        is $r->{headers}{allow}, $ROUTES{ $case->[0] }, "@$case: Allow";
        ok !$r->{headers}{'access-control-allow-methods'},
           "@$case: no Allow-Methods";
    }
    $t->nothing_upstream;
};

subtest 'a preflight on a path that is no route never gets a 2xx' => sub {
    $t->mock_reset;
    for my $path ('/v1/organizations/acme/databases',
                  '/v1/organizations/acme',
                  '/v1/organizations/acme/members/bob/extra',
                  '/v1/organizations/acme/members/../../databases',
                  '/v1/organizations/acme/members%2f..%2fdatabases')
    {
        my $r = preflight($path, 'GET');
        error_is $r, 404, 'route_not_supported', $path;
        ok !$r->{headers}{'access-control-allow-methods'},
           "$path: no Allow-Methods";
    }
    $t->nothing_upstream;
};

subtest 'an origin not listed: refused, no CORS headers, nothing upstream'
=> sub {
    $t->mock_reset;
    for my $origin ($OTHER, 'null', 'http://portal.test:8083',
                    'https://portal.test:8082', "$PORTAL/",
                    'http://portal.test')
    {
        my $r = preflight(ADD_MEMBER, 'POST', origin => $origin);
        error_is $r, 403, 'origin_not_allowed', "preflight from $origin";
        no_cors($r, "preflight from $origin");
        is $r->{headers}{vary}, 'Origin', "$origin: Vary: Origin";

        # a "simple" request needs no preflight: refused all the same
        $r = $t->request(method => 'POST', path => ADD_MEMBER,
                         headers => ["Origin: $origin",
                                     'Content-Type: text/plain'],
                         body => '{"username":"bob"}');
        error_is $r, 403, 'origin_not_allowed', "POST from $origin";
        no_cors($r, "POST from $origin");

        $r = $t->request(path => ADD_MEMBER, headers => ["Origin: $origin"]);
        error_is $r, 403, 'origin_not_allowed', "GET from $origin";
    }
    $t->nothing_upstream;
};

subtest 'two Origin headers are no origin, whatever they hold' => sub {
    # Found by an attack: a second, empty Origin made the request one
    # without an Origin, and an unlisted origin's POST went upstream.
    for my $pair (["Origin: $PORTAL", "Origin: $PORTAL"],
                  ['Origin: https://evil.example', 'Origin:'],
                  ['Origin:', 'Origin: https://evil.example'],
                  ["Origin: $PORTAL", 'Origin:'],
                  ['Origin:', 'Origin:'])
    {
        $t->mock_reset;
        my $name = join ' + ', map { s/^Origin: ?//r || 'empty' } @$pair;
        my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                            headers => $pair, body => '{"username":"bob"}');
        error_is $r, 403, 'origin_not_allowed', $name;
        no_cors($r, $name);
        $t->nothing_upstream($name);
    }
};

subtest 'one empty Origin is no Origin: a request as any other' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        headers => ['Origin:'], body => '{"username":"bob"}');
    is $r->{status}, 200, 'answered';
    no_cors($r, 'empty Origin');
    $t->forwarded(POST => ADD_MEMBER, '{"username":"bob","role":"member"}');
};

subtest 'origins compare without case in scheme and host' => sub {
    my $r = preflight(ADD_MEMBER, 'POST', origin => 'https://admin.example.com');
    is $r->{status}, 204;
    readable($r, 'https://admin.example.com', 'lower-case origin');
};

subtest 'every actual answer to a listed origin carries the headers' => sub {
    $t->mock_reset;
    my @o = (headers => ["Origin: $PORTAL"]);

    my $r = $t->request(method => 'POST', path => ADD_MEMBER, @o,
                        body => '{"username":"bob"}');
    is $r->{status}, 200, 'success';
    readable($r, $PORTAL, 'success');

    $r = $t->request(path => ADD_MEMBER, @o);
    is $r->{status}, 200, 'list';
    readable($r, $PORTAL, 'list');

    $r = $t->request(method => 'POST', path => ADD_MEMBER, @o,
                     body => '{"username":"bob"}');
    error_is $r, 409, 'member_exists', 'the upstream 409, normalized';
    readable($r, $PORTAL, 'upstream 409');

    $r = $t->request(method => 'POST', path => ADD_MEMBER, @o,
                     body => '{"username":');
    error_is $r, 400, 'invalid_json', "the gateway's own error";
    readable($r, $PORTAL, 'invalid_json');

    $r = $t->request(method => 'DELETE', path => ADD_MEMBER, @o);
    error_is $r, 405, 'method_not_allowed', 'a 405';
    readable($r, $PORTAL, '405');

    $r = $t->request(method => 'POST', path => ADD_MEMBER, @o,
                     body => '{"username":"bob","pad":"' . 'x' x 100 . '"}');
    error_is $r, 413, 'body_too_large', "nginx's own 413";
    readable($r, $PORTAL, '413');

    $r = $t->request(method => 'OPTIONS', path => ADD_MEMBER, @o);
    error_is $r, 405, 'method_not_allowed',
             'OPTIONS without Access-Control-Request-Method is no preflight';
    readable($r, $PORTAL, 'plain OPTIONS');

    $t->mock_reset;
    $t->mock_script([{ status => 500, body => '<html>oops</html>' }]);
    $r = $t->request(path => ADD_MEMBER, @o);
    error_is $r, 502, 'upstream_error', 'an upstream 500';
    readable($r, $PORTAL, 'upstream 500');

    $t->mock_reset;
    $t->mock_script([{ status => 429, body => '{"error":"slow down"}',
                       headers => { 'Retry-After' => '17' } }]);
    $r = $t->request(path => ADD_MEMBER, @o);
    error_is $r, 429, 'rate_limited', 'an upstream 429';
    readable($r, $PORTAL, 'upstream 429');
    is $r->{headers}{'retry-after'}, '17', 'its Retry-After, readable';
};

subtest "the upstream's own CORS headers are replaced" => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '{"members":[]}',
                       headers => { 'Access-Control-Allow-Origin' => '*',
                                    'Access-Control-Allow-Methods' => 'PUT' } }]);
    my $r = $t->request(path => ADD_MEMBER, headers => ["Origin: $PORTAL"]);
    is $r->{status}, 200;
    readable($r, $PORTAL, 'upstream said *');
    ok !$r->{headers}{'access-control-allow-methods'}, 'its methods are gone';

    $t->mock_script([{ status => 200, body => '{"members":[]}',
                       headers => { 'Access-Control-Allow-Origin' => '*' } }]);
    $r = $t->request(path => ADD_MEMBER, headers => ["Origin: $OTHER"]);
    is $r->{status}, 403, 'an unlisted origin is refused before';

    $t->mock_script([{ status => 200, body => '{"members":[]}',
                       headers => { 'Access-Control-Allow-Origin' => '*' } }]);
    $r = $t->request(path => ADD_MEMBER);
    is $r->{status}, 200, 'no Origin: a client that is no browser';
    no_cors($r, 'no Origin');
    is $r->{headers}{vary}, 'Origin', 'no Origin: Vary: Origin';
};

subtest 'origins through a variable (a map): a list or one origin' => sub {
    $t->mock_reset;
    my $path = '/v1/organizations/tenants/members';
    for my $case ([one => 'http://one.test', 204],
                  [one => 'http://two.test:8443', 204],
                  [one => 'http://three.test', 403],
                  [one => $PORTAL, 403],
                  [star => 'http://one.test', 403],
                  [star => 'null', 403],
                  [none => 'http://one.test', 403])
    {
        my ($tenant, $origin, $status) = @$case;
        my $r = preflight($path, 'GET', origin => $origin,
                          headers => ["X-Tenant: $tenant"]);
        is $r->{status}, $status, "$tenant, $origin: $status";
        if ($status == 204) {
            readable($r, $origin, "$tenant, $origin");
        } else {
            no_cors($r, "$tenant, $origin");
        }
    }
    my $r = $t->request(path => $path, headers => ['Origin: http://one.test',
                                                   'X-Tenant: one']);
    error_is $r, 404, 'organization_not_found',
             'the actual request (the mock knows no organization "tenants")';
    readable($r, 'http://one.test', 'through a variable');
    is scalar @{ $t->upstream_requests }, 1, 'only the actual request upstream';
};

subtest 'turso_members_cors_origins off: as without the directive' => sub {
    $t->mock_reset;
    my $r = preflight('/nocors/v1/organizations/acme/members', 'POST');
    error_is $r, 405, 'method_not_allowed', 'a preflight is a 405 as before';
    no_cors($r, 'off');
    ok !$r->{headers}{vary}, 'no Vary';
    $t->nothing_upstream;
};

subtest 'preflights come before access checks; policy on the actual request'
=> sub {
    $t->mock_reset;
    my $r = preflight('/readonly/v1/organizations/acme/members', 'POST');
    is $r->{status}, 204, 'deny all: a preflight carries no credentials';
    is $r->{headers}{'access-control-allow-methods'}, 'GET, POST',
       "the route's methods, whatever turso_members_operations says";
    $r = $t->request(method => 'POST',
                     path => '/readonly/v1/organizations/acme/members',
                     headers => ["Origin: $PORTAL"],
                     body => '{"username":"bob"}');
    error_is $r, 403, 'forbidden', 'the actual request meets "deny all"';
    readable($r, $PORTAL, 'forbidden');
    $t->nothing_upstream;
};

my $plain = TursoMembers::Test->new(
    config => default_locations('turso_members_operations read;'));

subtest 'without the directive nothing changes' => sub {
    $plain->mock_reset;
    my $r = $plain->request(method => 'OPTIONS', path => ADD_MEMBER,
                            headers => ["Origin: $PORTAL",
                                        'Access-Control-Request-Method: POST']);
    error_is $r, 405, 'method_not_allowed', 'a preflight is a 405';
    no_cors($r, 'preflight');
    ok !$r->{headers}{vary}, 'no Vary';
    $r = $plain->request(path => ADD_MEMBER, headers => ["Origin: $OTHER"]);
    is $r->{status}, 200, 'any origin reaches the upstream';
    no_cors($r, 'GET');
    ok !$r->{headers}{vary}, 'no Vary';
};

subtest 'invalid origins fail the configuration' => sub {
    for my $bad ('*', 'null', 'https://a.example.com/', 'a.example.com',
                 'https://a.example.com/path', 'ftp://a.example.com',
                 'https://', 'https://user@a.example.com')
    {
        my ($code, $out) = $t->nginx_t(default_locations(
            "turso_members_cors_origins $bad;"));
        isnt $code, 0, "\"$bad\" fails";
        like $out, qr/invalid origin/, "\"$bad\": says why";
    }
    my ($code, $out) = $t->nginx_t(default_locations(
        "turso_members_cors_origins https://a.example.com:8443 "
        . "http://127.0.0.1:8082;"));
    is $code, 0, 'good origins pass' or diag $out;
};

done_testing;
