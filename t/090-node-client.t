# The official Node client, @tursodatabase/api (pinned in t/node), pointed
# at the gateway: every membership call it makes works, its errors arrive
# as its own TursoClientError with the gateway's status and message, and
# the upstream receives the canonical requests.
#
# The test installs the pinned package itself (npm, from t/node's lock
# file) when t/node/node_modules is missing; a failed install fails.

use strict;
use warnings;

use lib 't/lib';
use JSON::PP ();
use TursoMembers::Test;
use TursoMembers::Node;

my $VERSION  = '2.0.5';

my $installed = node_client_installed();
is $installed, $VERSION, "\@tursodatabase/api $VERSION installed"
    or BAIL_OUT("wrong \@tursodatabase/api version: $installed");

my $t = TursoMembers::Test->new;

my $strict = TursoMembers::Test->new(config => default_locations(<<'LOC'));
turso_members_allowed_roles member viewer;
            turso_members_operations read add_member invite;
LOC


# The client's calls against a gateway, with a portal's token (not Turso's).
sub client {
    my ($gw, $org, @steps) = @_;
    return node_client($gw, $org, 'portal-token-not-turso', @steps);
}

subtest 'members()' => sub {
    $t->mock_reset;
    my $r = client($t, 'acme', ['members']);
    ok $r->[0]{ok}, 'resolved';
    is_deeply $r->[0]{value}, [
        { username => 'alice', role => 'owner', email => 'alice@example.com' },
        { username => 'carol', role => 'admin', email => 'carol@example.com' },
    ], 'the members';
    is scalar @{ $t->upstream_requests }, 1, 'one upstream request';
    $t->upstream_is(0, GET => '/v1/organizations/acme/members');
    is $t->upstream_requests->[0]{headers}{'user-agent'}, '@tursodatabase/api',
       'it was the official client';
};

subtest 'addMember() with each role, and the default' => sub {
    $t->mock_reset;
    my $r = client($t, 'acme', [addMember => 'bob'],
                   [addMember => 'dave', 'admin'],
                   [addMember => 'erin', 'viewer'],
                   [addMember => 'frank', 'member']);
    is_deeply [map { $_->{ok} ? $_->{value} : $_ } @$r], [
        { member => 'bob',   role => 'member' },
        { member => 'dave',  role => 'admin' },
        { member => 'erin',  role => 'viewer' },
        { member => 'frank', role => 'member' },
    ], 'each resolved with the member and role';

    my $u = $t->upstream_requests;
    is scalar @$u, 4, 'four upstream requests';
    $t->upstream_is(0, POST => '/v1/organizations/acme/members',
                    '{"username":"bob","role":"member"}');
    $t->upstream_is(1, POST => '/v1/organizations/acme/members',
                    '{"username":"dave","role":"admin"}');
    $t->upstream_is(2, POST => '/v1/organizations/acme/members',
                    '{"username":"erin","role":"viewer"}');
    $t->upstream_is(3, POST => '/v1/organizations/acme/members',
                    '{"username":"frank","role":"member"}');

    $r = client($t, 'acme', ['members']);
    is_deeply [sort map { "$_->{username}=$_->{role}" } @{ $r->[0]{value} }],
              [qw(alice=owner bob=member carol=admin dave=admin erin=viewer
                  frank=member)], 'members() sees them all';
};

subtest 'addMember() errors arrive as TursoClientError' => sub {
    $t->mock_reset;
    my $r = client($t, 'acme', [addMember => 'carol'],
                   [addMember => 'zed', 'viewer'],
                   [addMember => 'bob', 'owner'],
                   [addMember => 'bob', 'superuser']);
    client_error $r->[0], 409,
                 'user carol is already a member of organization acme',
                 'an existing member: 409';
    client_error $r->[1], 404, 'could not find user zed',
                 'an unknown user: 404';
    client_error $r->[2], 400, qr/\bowner\b/, 'owner: 400';
    client_error $r->[3], 400, qr/^invalid role\b/, 'nonsense role: 400';

    my $u = $t->upstream_requests;
    is scalar @$u, 2, 'the invalid roles never reached the upstream';
    $t->upstream_is(0, POST => '/v1/organizations/acme/members',
                    '{"username":"carol","role":"member"}');
    $t->upstream_is(1, POST => '/v1/organizations/acme/members',
                    '{"username":"zed","role":"viewer"}');
};

subtest 'removeMember()' => sub {
    $t->mock_reset;
    my $r = client($t, 'acme', [removeMember => 'carol'],
                   [removeMember => 'carol']);
    ok $r->[0]{ok}, 'resolved';
    is_deeply $r->[0]{value}, { member => 'carol' }, 'the removed member';
    client_error $r->[1], 404,
                 'user carol is not a member of organization acme',
                 'twice: 404';
    $t->upstream_is(0, DELETE => '/v1/organizations/acme/members/carol');
    $t->upstream_is(1, DELETE => '/v1/organizations/acme/members/carol');
};

subtest 'removeMember() answered with an empty 200: resolves to {}' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '' }, { status => 204 }]);
    my $r = client($t, 'acme', [removeMember => 'carol'],
                   [removeMember => 'carol']);
    is_deeply $r->[0], { ok => JSON::PP::true, value => {} },
              'empty 200: no JSON syntax error';
    is_deeply $r->[1], { ok => JSON::PP::true, value => {} }, '204: the same';
};

subtest 'inviteUser(), listInvites(), deleteInvite()' => sub {
    $t->mock_reset;
    my $email = 'new+one@example.com';
    my $r = client($t, 'acme', [inviteUser => $email, 'viewer'],
                   [inviteUser => 'two@example.com'],
                   ['listInvites'],
                   [deleteInvite => $email],
                   [deleteInvite => $email],
                   ['listInvites']);

    is_deeply $r->[0], { ok => JSON::PP::true, value =>
        { email => $email, role => 'viewer', organization => 'acme' } },
        'inviteUser resolves to the invitation';
    is_deeply $r->[1]{value}, { email => 'two@example.com', role => 'member',
                                organization => 'acme' },
              'the default role';
    is_deeply [map { "$_->{email}=$_->{role}" } @{ $r->[2]{value} || [] }],
              ["$email=viewer", 'two@example.com=member'], 'listInvites';
    is_deeply $r->[3], { ok => JSON::PP::true, value => undef },
              'deleteInvite resolves';
    client_error $r->[4], 404,
                 "could not find an invite for $email in organization acme",
                 'deleteInvite twice: 404';
    is_deeply [map { $_->{email} } @{ $r->[5]{value} || [] }],
              ['two@example.com'], 'one invite left';

    $t->upstream_is(0, POST => '/v2/organizations/acme/invites',
                    qq({"email":"$email","role":"viewer"}));
    $t->upstream_is(1, POST => '/v2/organizations/acme/invites',
                    '{"email":"two@example.com","role":"member"}');
    $t->upstream_is(2, GET => '/v2/organizations/acme/invites');
    $t->upstream_is(3, DELETE => "/v2/organizations/acme/invites/$email");
    $t->upstream_is(4, DELETE => "/v2/organizations/acme/invites/$email");
    is scalar @{ $t->upstream_requests }, 6, 'six upstream requests';
};

subtest 'deleteInvite() answered with an empty 200 or a 204' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '' }, { status => 204 }]);
    my $r = client($t, 'acme', [deleteInvite => 'x@example.com'],
                   [deleteInvite => 'x@example.com']);
    ok $r->[0]{ok}, 'empty 200: resolves' or diag explain $r->[0];
    ok $r->[1]{ok}, '204: resolves' or diag explain $r->[1];
};

subtest 'an organization the upstream does not know' => sub {
    $t->mock_reset;
    my $r = client($t, 'ghost', ['members'], [addMember => 'bob'],
                   ['listInvites']);
    client_error $r->[$_], 404, 'could not find organization ghost',
                 "call $_: 404" for 0 .. 2;
};

subtest 'upstream failures' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 500, body => '<html>oops</html>' },
                     { status => 401, body => '{"error":"bad token"}' },
                     { status => 429, body => '' }]);
    my $r = client($t, 'acme', ['members'], ['members'], ['listInvites']);
    client_error $r->[0], 502, 'the Turso API failed', '500: 502';
    client_error $r->[1], 502, "the gateway's Turso API token was refused",
                 '401: 502';
    client_error $r->[2], 429, 'the Turso API is rate limiting the gateway',
                 '429: 429';
};

subtest 'policy refusals arrive as TursoClientError 403' => sub {
    $strict->mock_reset;
    my $r = client($strict, 'acme', [addMember => 'bob', 'admin'],
                   [removeMember => 'carol'],
                   [deleteInvite => 'x@example.com'],
                   [inviteUser => 'x@example.com', 'admin'],
                   [addMember => 'bob', 'viewer']);
    client_error $r->[0], 403,
                 'role admin may not be granted through this gateway',
                 'addMember as admin';
    client_error $r->[1], 403,
                 'this operation is not allowed through this gateway',
                 'removeMember';
    client_error $r->[2], 403,
                 'this operation is not allowed through this gateway',
                 'deleteInvite';
    client_error $r->[3], 403,
                 'role admin may not be granted through this gateway',
                 'inviteUser as admin';
    is_deeply $r->[4]{value}, { member => 'bob', role => 'viewer' },
              'an allowed call passes';
    my $u = $strict->upstream_requests;
    is scalar @$u, 1, 'only the allowed call reached the upstream';
    $strict->upstream_is(0, POST => '/v1/organizations/acme/members',
                         '{"username":"bob","role":"viewer"}');
};

done_testing;
