# Every route of docs/routes.md end to end through the mock: the exact
# request the upstream receives (method, URL, body, Content-Type,
# Content-Length, Authorization) and the answer the client gets.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new;

# the same gateway, with a role policy, for PATCH like Add Member
my $strict = TursoMembers::Test->new(config => default_locations(
    'turso_members_allowed_roles member viewer;'));

my $ORG = '/v1/organizations/acme';
my $V2  = '/v2/organizations/acme';

# What a portal sends along, which must never reach the upstream.
my @client_headers = ('Authorization: Bearer client-secret');

sub ok_json {
    my ($r, $want, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is $r->{status}, 200, ($name // 'client') . ': 200'
        or diag $r->{body};
    like $r->{headers}{'content-type'} // '', qr{^application/json},
         'JSON content type';
    is $r->{headers}{'content-length'}, length($r->{body}),
       'exact Content-Length' if defined $r->{headers}{'content-length'};
    is_deeply $r->{json}, $want, 'client body' or diag $r->{body};
}


# --- list_members -----------------------------------------------------------

subtest 'GET members: forwarded without a body, list answered' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => "$ORG/members?page=2",
                        headers => [@client_headers]);
    $t->forwarded('GET', "$ORG/members", undef);
    ok_json $r, { members => [
        { username => 'alice', role => 'owner', email => 'alice@example.com' },
        { username => 'carol', role => 'admin', email => 'carol@example.com' },
    ] };
};


# --- add_member, documented form --------------------------------------------

subtest 'POST members: role trimmed and lower-cased' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members",
                        headers => [@client_headers,
                                    'Content-Type: text/plain'],
                        body => '{"role":" Admin ","username":"bob","x":1}');
    $t->forwarded('POST', "$ORG/members", '{"username":"bob","role":"admin"}');
    ok_json $r, { member => 'bob', role => 'admin' };
};

subtest 'POST members: the default role is explicit upstream' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members",
                        body => '{"username":"dave","role":null}');
    $t->forwarded('POST', "$ORG/members", '{"username":"dave","role":"member"}');
    ok_json $r, { member => 'dave', role => 'member' };
};


# --- add_member, the Node client's form -------------------------------------

subtest 'POST members/{u} {"member","role"}: the documented route upstream' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members/erin",
                        headers => [@client_headers,
                                    'Content-Type: text/plain;charset=UTF-8'],
                        body => '{"member":"erin","role":"VIEWER"}');
    $t->forwarded('POST', "$ORG/members", '{"username":"erin","role":"viewer"}');
    ok_json $r, { member => 'erin', role => 'viewer' };
};

subtest 'POST members/{u} without "member": the path names the user' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members/frank",
                        body => '{"role":"member"}');
    $t->forwarded('POST', "$ORG/members", '{"username":"frank","role":"member"}');
    ok_json $r, { member => 'frank', role => 'member' };
};

subtest 'POST members/{u} with a "member" that is not {u}: 400' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members/dave",
                        body => '{"member":"bob","role":"member"}');
    error_is $r, 400, 'invalid_body', undef, organization => 'acme';
    $t->nothing_upstream;
};

subtest 'POST members/{u} with "username" instead of "member": not used' => sub {
    # "username" is not a field of this form: dropped, the path decides
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members/dave",
                        body => '{"username":"bob"}');
    $t->forwarded('POST', "$ORG/members", '{"username":"dave","role":"member"}');
    ok_json $r, { member => 'dave', role => 'member' };
};


# --- get_member -------------------------------------------------------------

subtest 'GET members/{u}' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => "$ORG/members/carol",
                        headers => [@client_headers]);
    $t->forwarded('GET', "$ORG/members/carol", undef);
    ok_json $r, { member => { username => 'carol', role => 'admin',
                              email => 'carol@example.com' } };
};

subtest 'GET members/{u} of a non-member: 404 member_not_found' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => "$ORG/members/bob");
    $t->forwarded('GET', "$ORG/members/bob", undef);
    error_is $r, 404, 'member_not_found', undef,
             organization => 'acme', username => 'bob';
};


# --- update_role ------------------------------------------------------------

subtest 'PATCH members/{u}: role normalized, only "role" forwarded' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'PATCH', path => "$ORG/members/carol",
                        headers => [@client_headers,
                                    'Content-Type: text/plain'],
                        body => qq({ "role" : "\\tViewer ", "username":"x" }));
    $t->forwarded('PATCH', "$ORG/members/carol", '{"role":"viewer"}');
    ok_json $r, { member => { username => 'carol', role => 'viewer',
                              email => 'carol@example.com' } };
};

subtest 'PATCH members/{u} without a role: 400 invalid_body' => sub {
    $t->mock_reset;
    for my $body ('{}', '{"role":null}', '{"username":"carol"}') {
        my $r = $t->request(method => 'PATCH', path => "$ORG/members/carol",
                            body => $body);
        error_is $r, 400, 'invalid_body', "PATCH $body";
    }
    $t->nothing_upstream;
};

subtest 'PATCH members/{u} to owner or nonsense: 400 invalid_role' => sub {
    $t->mock_reset;
    for my $role ('owner', 'Owner', 'superuser', '') {
        my $r = $t->request(method => 'PATCH', path => "$ORG/members/carol",
                            body => qq({"role":"$role"}));
        error_is $r, 400, 'invalid_role', "role '$role'";
    }
    $t->nothing_upstream;
};

subtest 'PATCH members/{u} to a role outside allowed_roles: 403' => sub {
    $strict->mock_reset;
    my $r = $strict->request(method => 'PATCH', path => "$ORG/members/carol",
                             body => '{"role":" ADMIN"}');
    error_is $r, 403, 'role_not_allowed', undef, organization => 'acme',
             username => 'carol';
    $strict->nothing_upstream;

    $r = $strict->request(method => 'PATCH', path => "$ORG/members/carol",
                          body => '{"role":"Member"}');
    $strict->forwarded('PATCH', "$ORG/members/carol", '{"role":"member"}');
    is $r->{status}, 200, 'an allowed role passes';
};

subtest 'POST members to a role outside allowed_roles: 403 (same rule)' => sub {
    $strict->mock_reset;
    my $r = $strict->request(method => 'POST', path => "$ORG/members/bob",
                             body => '{"member":"bob","role":"admin"}');
    error_is $r, 403, 'role_not_allowed';
    $strict->nothing_upstream;
};

subtest 'PATCH members/{u} of a non-member: 404 member_not_found' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'PATCH', path => "$ORG/members/dave",
                        body => '{"role":"admin"}');
    $t->forwarded('PATCH', "$ORG/members/dave", '{"role":"admin"}');
    error_is $r, 404, 'member_not_found', undef,
             organization => 'acme', username => 'dave';
};


# --- remove_member ----------------------------------------------------------

subtest 'DELETE members/{u}, twice' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'DELETE', path => "$ORG/members/carol",
                        headers => [@client_headers,
                                    'Content-Type: application/json']);
    $t->forwarded('DELETE', "$ORG/members/carol", undef);
    ok_json $r, { member => 'carol' };

    my $n = scalar @{ $t->upstream_requests };
    $r = $t->request(method => 'DELETE', path => "$ORG/members/carol");
    is scalar @{ $t->upstream_requests }, $n + 1, 'the second reached it too';
    error_is $r, 404, 'member_not_found', 'no longer a member',
             organization => 'acme', username => 'carol';
};


# --- bodies on routes that take none ----------------------------------------

subtest 'a body on GET or DELETE: 400 invalid_body, nothing upstream' => sub {
    $t->mock_reset;
    for my $c (['GET', "$ORG/members"], ['GET', "$ORG/members/carol"],
               ['DELETE', "$ORG/members/carol"], ['GET', "$V2/invites"],
               ['DELETE', "$V2/invites/dave\@example.com"])
    {
        my $r = $t->request(method => $c->[0], path => $c->[1],
                            body => '{"role":"admin"}');
        error_is $r, 400, 'invalid_body', "$c->[0] $c->[1] with a body";
        $r = $t->request(method => $c->[0], path => $c->[1],
                         chunked => ['{}']);
        error_is $r, 400, 'invalid_body', "$c->[0] $c->[1], chunked body";
    }
    $t->nothing_upstream;
};

subtest 'Content-Length: 0 on GET and DELETE is no body' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => "$ORG/members/alice",
                        headers => ['Content-Length: 0']);
    is $r->{status}, 200, 'GET';
    $r = $t->request(method => 'DELETE', path => "$ORG/members/carol",
                     headers => ['Content-Length: 0']);
    is $r->{status}, 200, 'DELETE';
    my $u = $t->upstream_requests;
    is scalar @$u, 2, 'both forwarded';
    is $_->{body_length}, 0, "$_->{method}: no body" for @$u;
};


# --- invites ----------------------------------------------------------------

subtest 'POST v2 invites by email, then GET v2 invites' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$V2/invites",
                        headers => [@client_headers,
                                    'Content-Type: text/plain;charset=UTF-8'],
                        body => '{"role":"Viewer","email":"dave@example.com"}');
    $t->forwarded('POST', "$V2/invites",
              '{"email":"dave@example.com","role":"viewer"}');
    ok_json $r, { invited => { email => 'dave@example.com', role => 'viewer',
                               organization => 'acme' } };

    $t->mock_reset;
    $t->request(method => 'POST', path => "$V2/invites",
                body => '{"email":"dave@example.com"}');
    $r = $t->request(method => 'GET', path => "$V2/invites",
                     headers => [@client_headers]);
    my $u = $t->upstream_requests;
    is scalar @$u, 2, 'two upstream requests';
    is $u->[1]{method}, 'GET';
    is $u->[1]{url}, "$V2/invites";
    is $u->[1]{body_length}, 0;
    ok_json $r, { invites => [ { id => 1, email => 'dave@example.com',
                                 role => 'member',
                                 created_at => '1970-01-01T00:00:00.000Z' } ] };
};

subtest 'POST v2 invites by username' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$V2/invites",
                        body => '{"username":"erin","role":"ADMIN "}');
    $t->forwarded('POST', "$V2/invites", '{"username":"erin","role":"admin"}');
    ok_json $r, { invited => { email => 'erin@example.com', role => 'admin',
                               organization => 'acme' } };
};

subtest 'POST v2 invites: exactly one of email and username' => sub {
    $t->mock_reset;
    for my $body ('{"email":"dave@example.com","username":"dave"}',
                  '{"role":"member"}', '{}')
    {
        my $r = $t->request(method => 'POST', path => "$V2/invites",
                            body => $body);
        error_is $r, 400, 'invalid_body', $body;
    }
    $t->nothing_upstream;
};

subtest 'POST v2 invites of an unknown user: 404 user_not_found' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$V2/invites",
                        body => '{"username":"zed"}');
    $t->forwarded('POST', "$V2/invites", '{"username":"zed","role":"member"}');
    error_is $r, 404, 'user_not_found', undef, organization => 'acme',
             username => 'zed';
};

subtest 'POST v1 invites and v1 invite (the Go CLI): canonical bodies' => sub {
    for my $coll ('invites', 'invite') {
        $t->mock_reset;
        my $r = $t->request(method => 'POST', path => "$ORG/$coll",
                            headers => ['Content-Type: application/json'],
                            body => '{"email":"frank@example.com",'
                                    . '"role":" admin","username":"frank"}');
        $t->forwarded('POST', "$ORG/$coll",
                  '{"email":"frank@example.com","role":"admin"}');
        ok_json $r, { invited => { email => 'frank@example.com',
                                   role => 'admin',
                                   organization => 'acme' } }, $coll;

        $t->mock_reset;
        $r = $t->request(method => 'POST', path => "$ORG/$coll",
                         body => '{"username":"frank"}');
        error_is $r, 400, 'invalid_body', "$coll without an email";
        $r = $t->request(method => 'POST', path => "$ORG/$coll",
                         body => '{"email":"frank@example.com","role":"owner"}');
        error_is $r, 400, 'invalid_role', "$coll as owner";
        $t->nothing_upstream;
    }
};


# --- delete_invite and emails in paths --------------------------------------

# POST the invite through the gateway, then DELETE it by PATH: the upstream
# must see URL and the invite must be gone.
sub invite_then_delete {
    my ($email, $path, $url) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$V2/invites",
                        body => json_body({ email => $email }));
    is $r->{status}, 200, "invited $email" or diag $r->{body};

    my $n = scalar @{ $t->upstream_requests };
    $r = $t->request(method => 'DELETE', path => "$V2/invites/$path",
                     headers => [@client_headers]);
    my $u = $t->upstream_requests;
    is scalar @$u, $n + 1, 'one more upstream request';
    $u = $u->[-1];
    is $u->{method}, 'DELETE';
    is $u->{url}, $url, "upstream URL for $path";
    is $u->{body_length}, 0, 'no body';
    is_deeply [raw_headers($u, 'Authorization')], ['Bearer test-token'];
    ok_json $r, {}, "DELETE $path";
}

subtest 'DELETE v2 invites/{email}: @ and + stay literal' => sub {
    invite_then_delete('dave+ops@example.com', 'dave+ops@example.com',
                       "$V2/invites/dave+ops\@example.com");
};

subtest 'DELETE v2 invites/{email} with %40: decoded, sent as @' => sub {
    invite_then_delete('dave+ops@example.com', 'dave+ops%40example.com',
                       "$V2/invites/dave+ops\@example.com");
};

subtest 'DELETE v2 invites/{email} with %2B and %40: + and @ upstream' => sub {
    invite_then_delete('dave+ops@example.com', 'dave%2Bops%40example.com',
                       "$V2/invites/dave+ops\@example.com");
};

subtest 'DELETE v2 invites/{email}: other bytes percent-encoded' => sub {
    invite_then_delete("o'brien!x\$y\@example.com", 'o%27brien%21x%24y%40example.com',
                       "$V2/invites/o%27brien%21x%24y\@example.com");
    invite_then_delete('a#b%c@example.com', 'a%23b%25c@example.com',
                       "$V2/invites/a%23b%25c\@example.com");
    invite_then_delete("j\x{c3}\x{a9}r\x{c3}\x{b4}me\@example.com",
                       'j%C3%A9r%C3%B4me@example.com',
                       "$V2/invites/j%C3%A9r%C3%B4me\@example.com");
    invite_then_delete('x.y_z-w~v@example.com', 'x.y_z-w~v@example.com',
                       "$V2/invites/x.y_z-w~v\@example.com");
};

subtest 'DELETE v2 invites/{email}: a lower-case %xx is re-encoded' => sub {
    invite_then_delete("j\x{c3}\x{a9}\@example.com", 'j%c3%a9%40example.com',
                       "$V2/invites/j%C3%A9\@example.com");
};

subtest 'DELETE v2 invites/{email} of a bad email: 400 invalid_email' => sub {
    $t->mock_reset;
    for my $e ('not-an-email', 'a@b@example.com', 'a%40b%40example.com', '@',
               'a%20b@example.com', 'a%09b@example.com', 'ab', 'x' x 250 . '@example.com')
    {
        my $r = $t->request(method => 'DELETE', path => "$V2/invites/$e");
        error_is $r, 400, 'invalid_email', "DELETE invites/" . substr($e, 0, 40);
    }
    # nginx itself refuses a NUL in the path, before any location
    my $r = $t->request(method => 'DELETE', path => "$V2/invites/a%00b\@example.com");
    is $r->{status}, 400, '%00: 400';
    $t->nothing_upstream;
};

subtest 'DELETE v2 invites/{email} of no invite: 404 invite_not_found' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'DELETE',
                        path => "$V2/invites/nobody%40example.com");
    $t->forwarded('DELETE', "$V2/invites/nobody\@example.com", undef);
    error_is $r, 404, 'invite_not_found', undef, organization => 'acme',
             email => 'nobody@example.com';
};


# --- 404 and 409, route by route --------------------------------------------

my @routes = (
    [ 'list_members',  'GET',    "members",              undef ],
    [ 'add_member',    'POST',   "members",              '{"username":"bob"}' ],
    [ 'add_member',    'POST',   "members/bob",          '{"member":"bob"}' ],
    [ 'get_member',    'GET',    "members/bob",          undef ],
    [ 'update_role',   'PATCH',  "members/bob",          '{"role":"admin"}' ],
    [ 'remove_member', 'DELETE', "members/bob",          undef ],
    [ 'list_invites',  'GET',    "invites",              undef, 2 ],
    [ 'invite',        'POST',   "invites",              '{"email":"b@example.com"}', 2 ],
    [ 'delete_invite', 'DELETE', "invites/b\@example.com", undef, 2 ],
    [ 'invite',        'POST',   "invites",              '{"email":"b@example.com"}' ],
    [ 'invite',        'POST',   "invite",               '{"email":"b@example.com"}' ],
);

# the code a 404 with an error that names neither org nor anything else
my %not_found = (
    list_members => 'not_found',       add_member => 'user_not_found',
    get_member => 'member_not_found',  update_role => 'member_not_found',
    remove_member => 'member_not_found', list_invites => 'not_found',
    invite => 'user_not_found',        delete_invite => 'invite_not_found',
);

sub route_request {
    my ($gw, $org, $rt) = @_;
    my ($op, $method, $tail, $body, $v) = @$rt;
    return $gw->request(method => $method,
                        path => '/v' . ($v // 1) . "/organizations/$org/$tail",
                        defined $body ? (body => $body) : ());
}

subtest 'an organization the upstream does not know: organization_not_found' => sub {
    for my $rt (@routes) {
        $t->mock_reset;
        my $r = route_request($t, 'ghost', $rt);
        is scalar @{ $t->upstream_requests }, 1, "$rt->[1] $rt->[2] forwarded";
        error_is $r, 404, 'organization_not_found', "$rt->[1] v"
                 . ($rt->[4] // 1) . " $rt->[2]", organization => 'ghost';
    }
};

subtest 'a 404 naming the user, member or invite: the route\'s code' => sub {
    for my $rt (@routes) {
        for my $msg ('could not find user [username]',
                     'user bob is not a member of org acme',
                     'invite not found in organization acme',
                     'not here')
        {
            $t->mock_reset;
            $t->mock_script([{ status => 404,
                               body => json_body({ error => $msg }) }]);
            my $r = route_request($t, 'acme', $rt);
            error_is $r, 404, $not_found{ $rt->[0] },
                     "$rt->[1] $rt->[2]: '$msg'", organization => 'acme';
            unlike $r->{body}, qr/\[username\]|not here/, 'no upstream text';
        }
    }
};

subtest 'a 404 naming only the organization: organization_not_found' => sub {
    for my $rt (@routes) {
        $t->mock_reset;
        $t->mock_script([{ status => 404,
                           body => '{"error":"Organization not found"}' }]);
        my $r = route_request($t, 'acme', $rt);
        error_is $r, 404, 'organization_not_found', "$rt->[1] $rt->[2]",
                 organization => 'acme';
    }
};

subtest 'a 404 without a JSON error: not_found' => sub {
    for my $rt (@routes) {
        for my $s ({ status => 404, body => '<html>404 org</html>',
                     headers => { 'Content-Type' => 'text/html' } },
                   { status => 404, body => '' },
                   { status => 404, body => '{"message":"organization"}' })
        {
            $t->mock_reset;
            $t->mock_script([$s]);
            my $r = route_request($t, 'acme', $rt);
            error_is $r, 404, 'not_found', "$rt->[1] $rt->[2]: '$s->{body}'";
        }
    }
};

subtest '409 on add and invite: member_exists' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$ORG/members",
                        body => '{"username":"carol"}');
    $t->forwarded('POST', "$ORG/members", '{"username":"carol","role":"member"}');
    error_is $r, 409, 'member_exists', undef, organization => 'acme',
             username => 'carol';
    like $r->{json}{error} // '', qr/\bcarol\b.*\bacme\b/,
         'the message names user and organization';

    $t->mock_reset;
    $r = $t->request(method => 'POST', path => "$ORG/members/alice",
                     body => '{"member":"alice","role":"admin"}');
    error_is $r, 409, 'member_exists', 'the Node form',
             organization => 'acme', username => 'alice';

    for my $rt (grep { $_->[0] eq 'invite' } @routes) {
        $t->mock_reset;
        $t->mock_script([{ status => 409,
                           body => '{"error":"already invited"}' }]);
        $r = route_request($t, 'acme', $rt);
        error_is $r, 409, 'member_exists', "$rt->[1] $rt->[2]",
                 organization => 'acme';
    }
};

# errors.md: upstream_rejected carries "the upstream's 4xx"
subtest '409 on the other routes, 422 anywhere: upstream_rejected, same status' => sub {
    for my $rt (grep { $_->[0] !~ /^(add_member|invite)$/ } @routes) {
        $t->mock_reset;
        $t->mock_script([{ status => 409, body => '{"error":"conflict"}' }]);
        my $r = route_request($t, 'acme', $rt);
        error_is $r, 409, 'upstream_rejected', "409 on $rt->[1] $rt->[2]";
    }
    for my $rt (@routes) {
        $t->mock_reset;
        $t->mock_script([{ status => 422, body => '{"error":"no"}' }]);
        my $r = route_request($t, 'acme', $rt);
        error_is $r, 422, 'upstream_rejected', "422 on $rt->[1] $rt->[2]";
    }
};


# --- empty successes --------------------------------------------------------

subtest 'an empty 2xx or a 204 of the upstream: 200 {}' => sub {
    for my $rt (@routes) {
        for my $s ({ status => 200, body => '' },
                   { status => 204 },
                   { status => 202, body => '' })
        {
            $t->mock_reset;
            $t->mock_script([$s]);
            my $r = route_request($t, 'acme', $rt);
            is $r->{status}, 200, "$rt->[1] $rt->[2] upstream $s->{status}: 200";
            is $r->{body}, '{}', 'body {}';
            is $r->{headers}{'content-length'}, 2, 'Content-Length: 2';
            like $r->{headers}{'content-type'} // '', qr{^application/json},
                 'application/json';
        }
    }
};

# turso-api.md: the Node client throws on any empty 2xx body, so an empty
# body without a Content-Length (chunked, zero bytes) must become {} too
subtest 'an empty chunked 2xx of the upstream: 200 {}' => sub {
    for my $rt (grep { $_->[1] eq 'DELETE' } @routes) {
        $t->mock_reset;
        $t->mock_script([{ status => 200, body => '', fault => 'chunked' }]);
        my $r = route_request($t, 'acme', $rt);
        is $r->{status}, 200, "$rt->[1] $rt->[2]: 200";
        is $r->{body}, '{}', 'body {}';
        like $r->{headers}{'content-type'} // '', qr{^application/json},
             'application/json';
    }
};

subtest 'a 2xx with a body passes untouched' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '{"member":"bob","x":[1,2]}',
                       headers => { 'Content-Type' => 'application/json' } }]);
    my $r = $t->request(method => 'GET', path => "$ORG/members/bob");
    is $r->{status}, 200;
    is $r->{body}, '{"member":"bob","x":[1,2]}';
};

done_testing;
