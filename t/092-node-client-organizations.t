# The official Node client, @tursodatabase/api (pinned in t/node), against
# one gateway location serving two organizations, each with its own
# organization-scoped token: each client works on its organization, the
# upstream receives each organization's token, and an organization the
# gateway holds no token for is the client's own TursoClientError 403.
#
# Like t/090-node-client.t, installs the pinned package when
# t/node/node_modules is missing.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Node;

node_client_installed();

my $ACME   = 'tok.acme.node-0123456789abcdef';
my $GLOBEX = 'tok.globex.node-fedcba9876543210';

my $LOCATIONS = <<'CONF';
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme;
            turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /v2/organizations/ {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme;
            turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

# A gateway whose token files hold $acme and $globex.
sub gateway {
    my ($acme, $globex) = @_;
    my $gw = TursoMembers::Test->new(start => 0, config => $LOCATIONS);
    TursoMembers::Test::spew($gw->prefix . '/conf/acme.token', "$acme\n");
    TursoMembers::Test::spew($gw->prefix . '/conf/globex.token', "$globex\n");
    $gw->start;
    return $gw;
}

my $t = gateway($ACME, $GLOBEX);
$t->mock_tokens({ $ACME => 'acme', $GLOBEX => 'globex' });

# The client's calls for one organization, with that portal's own token.
sub client {
    my ($gw, $org, @steps) = @_;
    return node_client($gw, $org, "portal-token-of-$org", @steps);
}

# What the upstream got: [method, url, authorization, body] per request.
sub upstream {
    my ($gw) = @_;
    return [ map { [ $_->{method}, $_->{url}, $_->{headers}{authorization},
                     $_->{body} ] } @{ $gw->upstream_requests } ];
}

subtest 'two organizations, one location, each its own token' => sub {
    $t->mock_reset;
    my $a = client($t, 'acme', ['members'], [addMember => 'bob', 'viewer'],
                   [inviteUser => 'a@example.com'], ['listInvites']);
    my $g = client($t, 'globex', ['members'], [addMember => 'dave'],
                   [inviteUser => 'g@example.com', 'admin'],
                   [removeMember => 'erin']);

    is_deeply [ map { $_->{username} } @{ $a->[0]{value} || [] } ],
              [qw(alice carol)], 'acme: its members';
    is_deeply $a->[1]{value}, { member => 'bob', role => 'viewer' },
              'acme: addMember';
    is_deeply $a->[2]{value}, { email => 'a@example.com', role => 'member',
                                organization => 'acme' }, 'acme: inviteUser';
    is_deeply [ map { $_->{email} } @{ $a->[3]{value} || [] } ],
              ['a@example.com'], 'acme: listInvites';

    is_deeply [ map { $_->{username} } @{ $g->[0]{value} || [] } ],
              [qw(alice erin)], 'globex: its members';
    is_deeply $g->[1]{value}, { member => 'dave', role => 'member' },
              'globex: addMember';
    is_deeply $g->[2]{value}, { email => 'g@example.com', role => 'admin',
                                organization => 'globex' },
              'globex: inviteUser';
    is_deeply $g->[3]{value}, { member => 'erin' }, 'globex: removeMember';

    is_deeply upstream($t), [
        [ GET  => '/v1/organizations/acme/members', "Bearer $ACME", '' ],
        [ POST => '/v1/organizations/acme/members', "Bearer $ACME",
          '{"username":"bob","role":"viewer"}' ],
        [ POST => '/v2/organizations/acme/invites', "Bearer $ACME",
          '{"email":"a@example.com","role":"member"}' ],
        [ GET  => '/v2/organizations/acme/invites', "Bearer $ACME", '' ],
        [ GET  => '/v1/organizations/globex/members', "Bearer $GLOBEX", '' ],
        [ POST => '/v1/organizations/globex/members', "Bearer $GLOBEX",
          '{"username":"dave","role":"member"}' ],
        [ POST => '/v2/organizations/globex/invites', "Bearer $GLOBEX",
          '{"email":"g@example.com","role":"admin"}' ],
        [ DELETE => '/v1/organizations/globex/members/erin', "Bearer $GLOBEX",
          '' ],
    ], 'the upstream got each organization\'s token, never the portal\'s'
        or diag explain upstream($t);
};

subtest 'an organization the gateway holds no token for' => sub {
    $t->mock_reset;
    my $r = client($t, 'initech', ['members'], [addMember => 'bob'],
                   ['listInvites']);
    client_error $r->[$_], 403,
                 'the gateway holds no token for organization initech',
                 "call $_: 403" for 0 .. 2;
    is_deeply upstream($t), [], 'nothing reached the upstream';
};

subtest 'a token minted for the other organization: 502' => sub {
    my $wrong = gateway($GLOBEX, $GLOBEX);
    $wrong->mock_reset;
    my $r = client($wrong, 'acme', ['members']);
    client_error $r->[0], 502,
                 "the gateway's Turso API token has no rights on "
                 . 'organization acme', 'upstream 403: upstream_forbidden';
    $r = client($wrong, 'globex', ['members']);
    ok $r->[0]{ok}, 'globex still works';
    $wrong->stop;
};

done_testing;
