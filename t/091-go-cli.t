# The Go CLI (turso-cli, internal/turso/organizations.go) replayed byte
# for byte through the gateway: `turso org members add|invite|list|rm` and
# `turso org invites list|remove`.  The CLI sends Content-Type:
# application/json on every request, GET and DELETE too, treats anything
# but exactly 200 as an error and prints the body's "error" string.  Each
# answer here must be one such a CLI accepts.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new;

my $ORG = '/v1/organizations/acme';

# What Go's net/http and the CLI put on every request.
my @cli = ('User-Agent: turso-cli/v0.97.2', 'Accept-Encoding: gzip',
           'Content-Type: application/json',
           'Authorization: Bearer cli-user-token');

sub cli {
    my ($method, $path, $body) = @_;
    return $t->request(method => $method, path => $path, headers => [@cli],
                       defined $body ? (body => $body) : ());
}

# A success as the CLI reads it: exactly 200, JSON.
sub cli_ok {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $r->{status}, 200, "$name: exactly 200" or diag $r->{body};
    ok defined $r->{json}, "$name: a JSON body the CLI can decode"
        or diag $r->{body};
    return $r->{json};
}

# An error as the CLI reads it: not 200, a JSON object with an "error"
# string (what it prints).
sub cli_error {
    my ($r, $status, $code, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_is $r, $status, $code, $name;
    ok !ref $r->{json}{error} && length $r->{json}{error},
       "$name: an error string to print";
}

subtest 'turso org members add bob' => sub {
    $t->mock_reset;
    my $j = cli_ok cli(POST => "$ORG/members",
                       '{"username":"bob","role":"member"}'), 'add';
    is_deeply $j, { member => 'bob', role => 'member' };
    $t->upstream_is(0, POST => "$ORG/members", '{"username":"bob","role":"member"}');
};

subtest 'turso org members add dave --admin' => sub {
    $t->mock_reset;
    cli_ok cli(POST => "$ORG/members", '{"username":"dave","role":"admin"}'),
           'add --admin';
    $t->upstream_is(0, POST => "$ORG/members", '{"username":"dave","role":"admin"}');
};

subtest 'turso org members add: an older CLI without a role' => sub {
    # Member{Name, Role} has omitempty: an empty role is left out
    $t->mock_reset;
    cli_ok cli(POST => "$ORG/members", '{"username":"erin"}'), 'add';
    $t->upstream_is(0, POST => "$ORG/members", '{"username":"erin","role":"member"}');
};

subtest 'turso org members add: errors the CLI can print' => sub {
    $t->mock_reset;
    cli_error cli(POST => "$ORG/members", '{"username":"carol","role":"member"}'),
              409, 'member_exists', 'an existing member';
    cli_error cli(POST => "$ORG/members", '{"username":"zed","role":"member"}'),
              404, 'user_not_found', 'an unknown user';
    cli_error cli(POST => "$ORG/members", '{"username":"bob","role":"owner"}'),
              400, 'invalid_role', 'owner';
    cli_error cli(POST => '/v1/organizations/personal/members',
                  '{"username":"bob","role":"member"}'),
              400, 'upstream_rejected', 'a personal organization';
    is scalar @{ $t->upstream_requests }, 3, 'owner never reached upstream';
};

subtest 'turso org members list' => sub {
    $t->mock_reset;
    my $j = cli_ok cli(GET => "$ORG/members"), 'list';
    is_deeply [map { "$_->{username}=$_->{role}" } @{ $j->{members} || [] }],
              ['alice=owner', 'carol=admin'], 'members the CLI decodes';
    $t->upstream_is(0, GET => "$ORG/members");
};

subtest 'turso org members rm carol, then again' => sub {
    $t->mock_reset;
    cli_ok cli(DELETE => "$ORG/members/carol"), 'rm';
    $t->upstream_is(0, DELETE => "$ORG/members/carol");
    cli_error cli(DELETE => "$ORG/members/carol"), 404, 'member_not_found',
              'rm a non-member';
};

subtest 'turso org members rm: an empty 200 or 204 upstream is 200' => sub {
    for my $s ({ status => 200, body => '' }, { status => 204 }) {
        $t->mock_reset;
        $t->mock_script([$s]);
        cli_ok cli(DELETE => "$ORG/members/carol"), "upstream $s->{status}";
    }
};

subtest 'turso org members invite' => sub {
    $t->mock_reset;
    my $j = cli_ok cli(POST => "$ORG/invite",
                       '{"email":"new@example.com","role":"member"}'),
                   'invite';
    is_deeply $j, { invited => { email => 'new@example.com', role => 'member',
                                 organization => 'acme' } };
    cli_ok cli(POST => "$ORG/invite",
               '{"email":"boss@example.com","role":"admin"}'), 'invite --admin';
    $t->upstream_is(0, POST => "$ORG/invite",
                    '{"email":"new@example.com","role":"member"}');
    $t->upstream_is(1, POST => "$ORG/invite",
                    '{"email":"boss@example.com","role":"admin"}');

    $t->mock_reset;
    cli_error cli(POST => "$ORG/invite", '{"email":"","role":"member"}'),
              400, 'invalid_body', 'an empty email';
    cli_error cli(POST => "$ORG/invite", '{"role":"member"}'),
              400, 'invalid_body', 'no email (omitempty)';
    $t->nothing_upstream;
};

# The CLI's InviteMember and ListInvites/DeleteInvite use /v1 paths:
# GET /v1/organizations/{org}/invites and
# DELETE /v1/organizations/{org}/invites/{email}.

subtest 'turso org invites list: GET /v1/.../invites' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200,
        headers => { 'Content-Type' => 'application/json' },
        body => '{"invites":[{"email":"new@example.com","role":"member"}]}' }]);
    my $j = cli_ok cli(GET => "$ORG/invites"), 'invites list';
    is_deeply $j, { invites => [{ email => 'new@example.com',
                                  role => 'member' }] }, 'passed through';
    $t->upstream_is(0, GET => "$ORG/invites");
};

subtest 'turso org invites remove: DELETE /v1/.../invites/{email}' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '' }]);
    my $j = cli_ok cli(DELETE => "$ORG/invites/new+x\@example.com"),
                   'invites remove';
    is_deeply $j, {}, 'an empty 200 becomes {}';
    $t->upstream_is(0, DELETE => "$ORG/invites/new+x\@example.com");
};

subtest 'the v2 invite routes with the CLI\'s headers' => sub {
    $t->mock_reset;
    cli_ok cli(POST => '/v2/organizations/acme/invites',
               '{"email":"v2@example.com","role":"viewer"}'), 'v2 invite';
    my $j = cli_ok cli(GET => '/v2/organizations/acme/invites'), 'v2 list';
    is_deeply [map { $_->{email} } @{ $j->{invites} || [] }],
              ['v2@example.com'];
    cli_ok cli(DELETE => '/v2/organizations/acme/invites/v2@example.com'),
           'v2 remove';
    cli_error cli(DELETE => '/v2/organizations/acme/invites/v2@example.com'),
              404, 'invite_not_found', 'v2 remove again';
    $t->upstream_is(1, GET => '/v2/organizations/acme/invites');
    $t->upstream_is(2, DELETE => '/v2/organizations/acme/invites/v2@example.com');
};

subtest 'every gateway error is an error the CLI can print' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 500, body => 'Internal Server Error' },
                     { status => 401, body => '' },
                     { status => 429, body => '{"error":"slow down"}' },
                     { status => 403, body => '{"error":"forbidden"}' }]);
    cli_error cli(GET => "$ORG/members"), 502, 'upstream_error',
              'an upstream 500';
    cli_error cli(GET => "$ORG/members"), 502, 'upstream_unauthorized',
              'an upstream 401';
    cli_error cli(GET => "$ORG/members"), 429, 'rate_limited',
              'an upstream 429';
    cli_error cli(POST => "$ORG/members", '{"username":"bob","role":"admin"}'),
              502, 'upstream_forbidden', 'an upstream 403';
    cli_error cli(GET => "$ORG/databases"), 404, 'route_not_supported',
              'a route the gateway does not serve';
    cli_error cli(GET => '/v1/organizations/ghost/members'), 404,
              'organization_not_found', 'an unknown organization';
    cli_error cli(POST => "$ORG/members", '{"username":"bob",'), 400,
              'invalid_json', 'broken JSON';
};

# the operator's side of a refused route: the code, and no empty message
subtest 'the error log line of a route the gateway does not serve' => sub {
    my $mark = $t->log_mark;
    cli_error cli(GET => "$ORG/databases"), 404, 'route_not_supported',
              'the route';
    my $log = $t->error_log_since($mark);
    like $log, qr/rejected with 404 route_not_supported, client: /,
         'the code, then the request';
    unlike $log, qr/: ""/, 'no empty message';
};

done_testing;
