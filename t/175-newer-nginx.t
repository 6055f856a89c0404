# What nginx 1.29 and 1.30 brought to a gateway location (nginx's CHANGES):
#
# - 1.29.0 "the early_hints directive": an upstream's 103 and its headers
#   reach the client past every header filter.  nginx -t refuses
#   early_hints written in a gateway location; inherited, it is dropped
#   there (a plain location keeps it: the test can fail).
# - 1.29.4 "the ngx_http_proxy_module supports HTTP/2": proxy_http_version 2
#   to an h2c upstream (the mock's second port) carries the token and the
#   canonical body, nothing else; errors are normalized; a mirror and
#   other locations on the same upstream get no token.
# - 1.29.4 ngx_http_proxy_module.h: nginx -t reads a gateway location's
#   proxy settings and refuses those that would change the validated
#   request again.
# - 1.29.7 proxy_http_version 1.1 by default: the upstream gets HTTP/1.1
#   and no Connection header without the README's keep-alive lines.
#
# Each part is skipped, with the reason, on an nginx without the feature.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;

my $LIST = '/v1/organizations/acme/members';
my $version = sprintf '%d.%d.%d', nginx_version() / 1_000_000,
                      nginx_version() / 1_000 % 1_000, nginx_version() % 1_000;


# --- nginx -t: the proxy settings a gateway location refuses (1.29.4) -----

# A gateway location with @directives.
sub gw { gateway_location('turso_api', @_) }

SKIP: {
    skip "nginx $version: ngx_http_proxy_module.h came with 1.29.4", 1
        unless nginx_at_least('1.29.4');

    my $t = TursoMembers::Test->new(start => 0);

    my $where = qr{in the "turso_members" location "/v1/organizations/"};
    my @refused = (
        ['proxy_set_header Authorization "Bearer other";',
         qr/"proxy_set_header Authorization" cannot be used $where/],
        ['proxy_set_header content-type text/plain;',
         qr/"proxy_set_header content-type" cannot/],
        ['proxy_set_header Content-Length 0;',
         qr/"proxy_set_header Content-Length" cannot/],
        ['proxy_set_header Transfer-Encoding chunked;',
         qr/"proxy_set_header Transfer-Encoding" cannot/],
        ['proxy_pass_request_headers off;',
         qr/"proxy_pass_request_headers off" cannot/],
        ['proxy_pass_request_body off;',
         qr/"proxy_pass_request_body off" cannot/],
        ['proxy_set_body \'{"username":"x","role":"admin"}\';',
         qr/"proxy_set_body" cannot/],
        ['proxy_method DELETE;', qr/"proxy_method" cannot/],
        ['proxy_cache one;', qr/"proxy_cache" cannot/],
    );
    my $cache = 'proxy_cache_path %%PREFIX%%/cache keys_zone=one:1m;';

    for my $case (@refused) {
        my ($directive, $re) = @$case;
        $t->nginx_t_refuses(gw($directive), $re, $directive,
                            http_config => $cache);
    }

    # inherited from the server level, too
    $t->nginx_t_refuses("proxy_set_header Authorization x;\n" . gw(),
                        qr/"proxy_set_header Authorization" cannot/,
                        'proxy_set_header Authorization inherited');
    $t->nginx_t_refuses("proxy_cache one;\n" . gw(), qr/"proxy_cache" cannot/,
                        'proxy_cache inherited', http_config => $cache);

    # what stays allowed: the same in other locations, other headers
    my $other = <<'CONF';
        location /other/ {
            proxy_set_header Authorization x;
            proxy_set_header Content-Type text/plain;
            proxy_pass_request_body off;
            proxy_method GET;
            proxy_cache one;
            proxy_pass http://turso_api;
        }
CONF
    for my $ok ([$other . gw(), 'the refused settings in a plain location'],
                [gw('proxy_set_header Host api.turso.tech;',
                    'proxy_set_header Connection "";',
                    'proxy_set_header X-Request-Id $turso_members_request_id;',
                    'proxy_cache off;', 'proxy_http_version 1.1;'),
                 'Host, Connection, X-Request-Id, proxy_cache off'])
    {
        subtest "nginx -t accepts: $ok->[1]" => sub {
            my ($code, $out) = $t->nginx_t($ok->[0], http_config => $cache);
            is $code, 0, 'exit code' or diag $out;
        };
    }
}


# --- early_hints (1.29.0) ---------------------------------------------------

SKIP: {
    skip "nginx $version: early_hints came with 1.29.0", 1
        unless nginx_at_least('1.29.0');

    my $spy = TursoMembers::Spy->new;
    my $SPY = $spy->port;
    my $spy_gw = <<"CONF";
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://127.0.0.1:$SPY\$turso_members_upstream_uri;
        }
CONF

    my $t = TursoMembers::Test->new(config => <<"CONF");
        early_hints 1;
$spy_gw
        location /plain/ {
            proxy_pass http://127.0.0.1:$SPY;
        }
CONF

    my $refused = qr/"early_hints" cannot be used in a "turso_members"/;
    $t->nginx_t_refuses(<<"CONF", $refused,
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            early_hints 1;
            proxy_pass http://127.0.0.1:$SPY\$turso_members_upstream_uri;
        }
CONF
                        'early_hints in a gateway location');

    subtest 'a plain location relays the upstream 103 (the control)' => sub {
        my $r = $t->request(method => 'GET', path => '/plain/int103');
        is $r->{interim}, 1, 'a 103 before the answer';
        is $r->{status}, 409, 'then the 409';
    };

    subtest 'inherited early_hints: no 103 from a gateway location' => sub {
        $spy->reset;
        my $c = $t->connect;
        my $r = $c->request(method => 'GET', path => "$LIST/int103");
        error_is $r, 409, 'upstream_rejected', 'the 409, normalized';
        is $r->{interim}, 0, 'no interim answer';
        ok !grep({ /link/i } keys %{ $r->{headers} }), 'no Link header';
        $r = $c->request(method => 'GET', path => $LIST);
        is $r->{status}, 200, 'the connection serves the next request';
        $c->close;
        $spy->token_only($TursoMembers::Test::TOKEN, 2, 'the spy');
    };
}


# --- HTTP/2 to the upstream (1.29.4) ----------------------------------------

SKIP: {
    skip "nginx $version: proxy_http_version 2 came with 1.29.4", 1
        unless nginx_at_least('1.29.4');

    my $t = TursoMembers::Test->new(
        http_config => <<'HTTP',
    upstream turso_h2 {
        server %%MOCK_H2%%;
    }
HTTP
        config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_h2$turso_members_upstream_uri;
            proxy_http_version 2;
        }
        location /v2/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            mirror /mirror;
            proxy_pass http://turso_h2$turso_members_upstream_uri;
            proxy_http_version 2;
        }
        location = /mirror {
            internal;
            proxy_pass http://turso_h2/mirror$request_uri;
            proxy_http_version 2;
        }
        location /other/ {
            proxy_pass http://turso_h2;
            proxy_http_version 2;
        }
CONF

    # the regular headers (not the pseudo-headers) of an upstream request
    my $names = sub {
        [sort grep { !/^:/ } keys %{ $_[0]{headers} }];
    };

    subtest 'the token and the canonical body over HTTP/2, only' => sub {
        my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                            body => '{"username":"bob"}',
                            headers => ['Cookie: session=1',
                                        'X-Forwarded-For: 192.0.2.1',
                                        'Accept: application/json',
                                        'User-Agent: portal/1']);
        is $r->{status}, 200, 'the answer';
        is scalar @{ $t->upstream_requests }, 1, 'one request upstream';
        my $u = $t->upstream_is(0, 'POST', ADD_MEMBER,
                                '{"username":"bob","role":"member"}');
        is $u->{http_version}, '2.0', 'spoken over HTTP/2';
        is_deeply $names->($u),
                  [sort qw(authorization content-length content-type
                           accept user-agent x-request-id)],
                  'exactly the gateway\'s headers, and Accept and User-Agent'
            or diag explain $u->{headers};
    };

    subtest 'a mirror and another location: no token' => sub {
        mock_reset_all($t);
        my $r = $t->request(method => 'GET',
                            path => '/v2/organizations/acme/invites');
        is $r->{status}, 200, 'the gateway';
        $r = $t->request(method => 'GET', path => '/other/x',
                         headers => ['X-Probe: 1']);
        my $all = wait_requests($t, 3);
        my @mirror = grep { $_->{url} =~ m{^/mirror/} } @$all;
        my @other = grep { $_->{url} eq '/other/x' } @$all;
        my @gw = grep { $_->{url} eq '/v2/organizations/acme/invites' }
                 @$all;
        is scalar @mirror, 1, 'the mirror ran';
        is scalar @other, 1, 'the other location reached the upstream';
        is_deeply [raw_headers($gw[0] // {}, 'Authorization')],
                  ["Bearer $TursoMembers::Test::TOKEN"],
                  'the gateway: the token';
        for my $u (@mirror, @other) {
            is_deeply [raw_headers($u, 'Authorization')], [],
                      "$u->{url}: no Authorization";
            unlike join("\n", @{ $u->{rawHeaders} }, $u->{body}),
                   qr/\Q$TursoMembers::Test::TOKEN\E/, "$u->{url}: no token";
        }
    };

    subtest 'an upstream error over HTTP/2, normalized' => sub {
        mock_reset_all($t);
        $t->mock_script([{ status => 409, body => 'conflict, raw',
                           headers => { 'X-Turso-Internal' => 'secret' } }]);
        my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                            body => '{"username":"bob"}');
        error_is $r, 409, 'member_exists', 'the gateway\'s JSON',
                 organization => 'acme', username => 'bob';
        ok !exists $r->{headers}{'x-turso-internal'}, 'no upstream header';
    };

    subtest 'a refused body goes nowhere over HTTP/2 either' => sub {
        mock_reset_all($t);
        my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                            body => '{"username":"bob","role":"owner"}');
        $t->refused($r, 400, 'invalid_role', 'owner is no role to give');
    };
}


# --- proxy_http_version 1.1 by default (1.29.7) ------------------------------

# nginx 1.29.7: "the default value for proxy_http_version is 1.1; the
# Connection proxy header is not sent by default anymore": the README's
# keep-alive lines are the default there.  Before, HTTP/1.0 and
# "Connection: close".
{
    my $t = TursoMembers::Test->new(config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF
    subtest 'a gateway location without proxy_http_version' => sub {
        my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                            body => '{"username":"bob"}');
        is $r->{status}, 200, 'the answer';
        my $u = $t->upstream_is(0, 'POST', ADD_MEMBER,
                                '{"username":"bob","role":"member"}');
        if (nginx_at_least('1.29.7')) {
            is $u->{http_version}, '1.1', 'HTTP/1.1 upstream';
            is_deeply [raw_headers($u, 'Connection')], [], 'no Connection';
        } else {
            is $u->{http_version}, '1.0', 'HTTP/1.0 upstream';
            is_deeply [raw_headers($u, 'Connection')], ['close'],
                      'Connection: close';
        }
    };
}

# The mock forgets what it recorded.
sub mock_reset_all { TursoMembers::Test::mock_reset() }

# The mock's requests, once it holds $n of them (the mirror runs beside).
sub wait_requests {
    my ($t, $n) = @_;
    my $all;
    for (1 .. 50) {
        $all = $t->upstream_requests;
        last if @$all >= $n;
        select undef, undef, undef, 0.1;
    }
    return $all;
}

done_testing;
