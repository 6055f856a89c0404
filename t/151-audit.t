# The audit log and request ids.
#
# An escape=json log_format over the module's variables gives one JSON
# object per request with who did what and how it ended; the token id is
# the first 12 hex digits of the token's SHA-256, never the token.
#
# Request ids: the upstream receives one X-Request-Id, the client's when it
# is 1-128 characters of [A-Za-z0-9._:-], else nginx's $request_id (32 hex)
# in its place; every error body carries it as "request_id".

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Digest::SHA qw(sha256_hex);
use JSON::PP;

my $TOKEN_ID = substr(sha256_hex('test-token'), 0, 12);

my $t = TursoMembers::Test->new(
    http_config => <<'CONF',
    log_format turso_audit escape=json
        '{"org":"$turso_members_org","username":"$turso_members_username",'
        '"email":"$turso_members_email","role":"$turso_members_role",'
        '"code":"$turso_members_code","operation":"$turso_members_operation",'
        '"token_id":"$turso_members_token_id",'
        '"request_id":"$turso_members_request_id",'
        '"report":"$turso_members_report","status":$status,'
        '"requested_role":"$turso_members_requested_role",'
        '"trace_id":"$turso_members_trace_id",'
        '"upstream_status":"$upstream_status","uri":"$request_uri"}';
CONF
    config => default_locations(
        'access_log logs/audit.log turso_audit; client_max_body_size 1k;')
        . <<'CONF');
        location /pinned/ {
            rewrite ^/pinned(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_set_header X-Request-Id $turso_members_request_id;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

my $audit_seen = 0;

# The audit lines written since the last call, decoded.
sub audit_lines {
    my $text = TursoMembers::Test::slurp($t->prefix . '/logs/audit.log');
    my @lines = split /\n/, substr($text, $audit_seen);
    $audit_seen = length $text;
    return map { my $j = eval { JSON::PP->new->decode($_) };
                 $j // { _unparsable => $_ } } @lines;
}

# One request, then its single audit line.
sub audited {
    my (%req) = @_;
    audit_lines();
    $t->mock_reset;
    my $r = $t->request(%req);
    # the access log is written after the answer
    $t->wait_log('audit.log', qr/\n/, $audit_seen);
    my @l = audit_lines();
    is scalar @l, 1, 'one audit line' or diag explain \@l;
    ok !exists $l[0]{_unparsable}, 'the line is JSON'
        or diag $l[0]{_unparsable};
    return ($r, $l[0] // {});
}

sub upstream_ids {
    my $u = $t->upstream_requests;
    return [ map {
        my $raw = $_->{rawHeaders};
        [ map { $raw->[2 * $_ + 1] }
          grep { lc $raw->[2 * $_] eq 'x-request-id' } 0 .. $#$raw / 2 ]
    } @$u ];
}

# --- the audit log -----------------------------------------------------------

subtest 'an accepted request' => sub {
    my ($r, $a) = audited(method => 'POST', path => ADD_MEMBER,
                          headers => ['X-Request-Id: portal-42',
                                      'Authorization: Bearer client-secret'],
                          body => '{"username":"bob","role":" Admin "}');
    is $r->{status}, 200, 'status 200';
    is_deeply $a, {
        org => 'acme', username => 'bob', email => '', role => 'admin',
        code => 'ok', operation => 'add_member', token_id => $TOKEN_ID,
        request_id => 'portal-42', report => '', status => 200,
        upstream_status => '200', uri => ADD_MEMBER,
        requested_role => ' Admin ', trace_id => '',
    }, 'the audit line' or diag explain $a;
    is_deeply upstream_ids(), [['portal-42']],
       'the upstream got the same request id';
};

subtest 'an invite: the email' => sub {
    my ($r, $a) = audited(method => 'POST',
                          path => '/v2/organizations/acme/invites',
                          body => '{"email":"dana@example.com"}');
    is $r->{status}, 200, 'status 200';
    is $a->{email}, 'dana@example.com', 'email';
    is $a->{username}, '', 'no username';
    is $a->{role}, 'member', 'the default role';
    is $a->{operation}, 'invite', 'operation';
    is $a->{code}, 'ok', 'ok';
};

subtest 'a rejected request' => sub {
    my ($r, $a) = audited(method => 'POST', path => ADD_MEMBER,
                          body => '{"username":"bob","role":"owner"}');
    my $j = error_is $r, 400, 'invalid_role';
    $t->nothing_upstream;
    is $a->{code}, 'invalid_role', 'code';
    is $a->{status}, 400, 'status';
    is $a->{org}, 'acme', 'org';
    is $a->{username}, 'bob', 'username';
    is $a->{operation}, 'add_member', 'operation';
    is $a->{token_id}, $TOKEN_ID, 'token id';
    is $a->{upstream_status}, '', 'not proxied';
    like $a->{request_id}, qr/^[0-9a-f]{32}$/, 'request_id: $request_id';
    is $j->{request_id}, $a->{request_id}, 'the same id in the error body';
    is $a->{role}, '', 'role: none was sent upstream';
    is $a->{requested_role}, 'owner', 'requested_role: the attempt';
};

subtest 'the requested role: as sent, bounded, escaped' => sub {
    my @cases = (
        [ '"superuser"', 'superuser', 'invalid_role' ],
        [ '"ad\"min\n"', 'ad\x22min\x0a', 'invalid_role' ],
        [ '"\u00e9lite"', '\xc3\xa9lite', 'invalid_role' ],
        [ '"back\\\\slash"', 'back\x5cslash', 'invalid_role' ],
        [ '"' . ('x' x 40) . '"', 'x' x 32, 'invalid_role' ],
        [ '5', '', 'invalid_role' ],
        [ 'null', '', 'ok' ],
        [ '"VIEWER"', 'VIEWER', 'ok' ],
    );
    for my $c (@cases) {
        my ($json, $want, $code) = @$c;
        my ($r, $a) = audited(method => 'POST', path => ADD_MEMBER,
                              body => qq({"username":"bob","role":$json}));
        is $a->{code}, $code, "role $json: $code";
        is $a->{requested_role}, $want, "role $json: requested_role";
    }
};

subtest 'the trace id of a valid traceparent' => sub {
    my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    my ($r, $a) = audited(method => 'GET',
                          path => '/v1/organizations/acme/members',
                          headers => ["traceparent: $tp"]);
    is $a->{trace_id}, '4bf92f3577b34da6a3ce929d0e0e4736', 'trace_id';
    ($r, $a) = audited(method => 'GET',
                       path => '/v1/organizations/acme/members',
                       headers => ['traceparent: ' . uc $tp]);
    is $a->{trace_id}, '', 'none for a malformed one';
};

subtest 'an upstream 409' => sub {
    my ($r, $a) = audited(method => 'POST', path => ADD_MEMBER,
                          body => '{"username":"carol"}');
    my $j = error_is $r, 409, 'member_exists';
    is $a->{code}, 'member_exists', 'code';
    is $a->{status}, 409, 'status';
    is $a->{upstream_status}, '409', 'upstream status';
    is $a->{username}, 'carol', 'username';
    is $a->{role}, 'member', 'role';
    like $a->{request_id}, qr/^[0-9a-f]{32}$/, 'request_id: $request_id';
    is_deeply upstream_ids(), [[ $a->{request_id} ]],
       'the upstream got that id';
    is $j->{request_id}, $a->{request_id}, 'and the client';
};

subtest 'a path that is no route' => sub {
    my ($r, $a) = audited(method => 'GET', path => '/v1/organizations/acme/x');
    error_is $r, 404, 'route_not_supported';
    is $a->{code}, 'route_not_supported', 'code';
    is $a->{operation}, '', 'no operation';
};

subtest 'the token is in no audit line' => sub {
    my $log = TursoMembers::Test::slurp($t->prefix . '/logs/audit.log');
    ok length $log, 'the audit log has lines';
    unlike $log, qr/test-token/, 'not the Turso token';
    unlike $log, qr/client-secret/, "not the client's Authorization";
};

# --- request ids --------------------------------------------------------------

for my $case (
    [ 'a sane id is kept', 'req-1.a_b:c', 'keep' ],
    [ '128 characters are kept', 'a' x 128, 'keep' ],
    [ '129 characters are replaced', 'a' x 129, 'replace' ],
    [ 'a space is replaced', 'bad id', 'replace' ],
    [ 'a slash is replaced', 'a/b', 'replace' ],
    [ 'a quote is replaced', 'a"b', 'replace' ],
    [ 'an empty id is replaced', '', 'replace' ],
    [ 'no header: $request_id', undef, 'replace' ],
) {
    my ($name, $id, $want) = @$case;
    subtest $name => sub {
        $t->mock_reset;
        my $r = $t->request(method => 'GET',
                            path => '/v1/organizations/acme/members',
                            headers => [ defined $id
                                         ? ["X-Request-Id", $id] : () ]);
        is $r->{status}, 200, 'status 200';
        my $ids = upstream_ids();
        is scalar @{ $ids->[0] // [] }, 1, 'the upstream got one X-Request-Id';
        my $got = $ids->[0][0] // '';
        if ($want eq 'keep') {
            is $got, $id, "the client's id";
        } else {
            like $got, qr/^[0-9a-f]{32}$/, 'a $request_id';
            isnt $got, $id // '', "not the client's";
        }
        unlike $r->{body}, qr/request_id/, 'a success body is untouched';
    };
}

subtest 'two X-Request-Id headers: ambiguous, the gateway picks its own id' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => '/v1/organizations/acme/members',
                        headers => ['X-Request-Id: first-id',
                                    'X-Request-Id: second-id']);
    is $r->{status}, 200, 'status 200';
    my $ids = upstream_ids();
    my @seen = @{ $ids->[0] // [] };
    ok scalar @seen >= 1, 'the upstream gets an X-Request-Id';
    like $seen[0] // '', qr/^[0-9a-f]{32}$/, "the gateway's own id";
    is scalar(grep { $_ ne $seen[0] } @seen), 0,
       'every X-Request-Id upstream carries that one id'
        or diag explain $ids;

    # with proxy_set_header, exactly one header (docs/operations.md)
    $t->mock_reset;
    $r = $t->request(method => 'GET',
                     path => '/pinned/v1/organizations/acme/members',
                     headers => ['X-Request-Id: first-id',
                                 'X-Request-Id: second-id']);
    is $r->{status}, 200, 'pinned: status 200';
    $ids = upstream_ids();
    is scalar @{ $ids->[0] // [] }, 1, 'pinned: one X-Request-Id upstream';
    like $ids->[0][0] // '', qr/^[0-9a-f]{32}$/, "pinned: the gateway's id";
};

subtest 'request_id in every error body' => sub {
    # the gateway's own
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        headers => ['X-Request-Id: own-err'], body => '{');
    my $j = error_is $r, 400, 'invalid_json';
    is $j->{request_id}, 'own-err', "the gateway's own: the client's id";

    $r = $t->request(method => 'POST', path => ADD_MEMBER,
                     headers => ['X-Request-Id: bad id'], body => '{');
    $j = error_is $r, 400, 'invalid_json';
    like $j->{request_id}, qr/^[0-9a-f]{32}$/,
         'an insane client id: $request_id';

    # the upstream's, normalized
    $t->mock_reset;
    $t->mock_script([{ status => 500, body => '<html>x</html>' }]);
    $r = $t->request(method => 'GET', path => '/v1/organizations/acme/members',
                     headers => ['X-Request-Id: up-err']);
    $j = error_is $r, 502, 'upstream_error';
    is $j->{request_id}, 'up-err', "the upstream's: the client's id";
    is_deeply upstream_ids(), [['up-err']], 'the upstream got it too';

    # nginx's own 413 (client_max_body_size 1k, before the gateway runs)
    $r = $t->request(method => 'POST', path => ADD_MEMBER,
                     headers => ['X-Request-Id: big-body'],
                     body => '{"username":"' . ('b' x 2000) . '"}');
    $j = error_is $r, 413, 'body_too_large';
    is $j->{request_id}, 'big-body', "nginx's 413: the client's id";

    $r = $t->request(method => 'POST', path => ADD_MEMBER,
                     body => '{"username":"' . ('b' x 2000) . '"}');
    $j = error_is $r, 413, 'body_too_large';
    like $j->{request_id}, qr/^[0-9a-f]{32}$/, "nginx's 413: \$request_id";

    # HTTP/2
    my $h = $t->h2_request(method => 'POST', path => ADD_MEMBER,
                           headers => ['x-request-id: h2-id'],
                           body => '{"username":"bob","role":"x"}');
    is $h->{status}, 400, 'HTTP/2: 400';
    is $h->{json}{request_id}, 'h2-id', 'HTTP/2: the client id';
};

done_testing;
