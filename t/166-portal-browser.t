# The example portal (examples/portal/index.html) in a real browser:
# headless Chromium (Debian's chromium package) driven by playwright-core
# (pinned in t/node) through every action of the page, against the gateway
# with turso_members_cors_origins listing the portal's origin.  Checks what
# the page shows and what the upstream (the Turso mock) received; then the
# same page served from an origin not listed cannot call the gateway.
#
# The test installs t/node's packages itself (npm ci, from the lock file)
# when playwright-core is missing; ./build.sh installs chromium.

use strict;
use warnings;

use lib 't/lib';
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use JSON::PP;
use TursoMembers::Test;

use File::Copy ();

my $TOP      = abs_path(dirname(__FILE__) . '/..');
my $NODE_DIR = "$TOP/t/node";
my $CHROMIUM = $ENV{TEST_CHROMIUM} || '/usr/bin/chromium';

unless (-x $CHROMIUM) {
    fail "$CHROMIUM: Debian's chromium package (./build.sh installs it)";
    done_testing;
    exit 1;
}

unless (-f "$NODE_DIR/node_modules/playwright-core/package.json") {
    my $out = `npm ci --prefix '$NODE_DIR' --no-audit --no-fund 2>&1`;
    unless (ok $? == 0, 'npm ci of t/node (playwright-core)') {
        diag $out;
        done_testing;
        exit 1;
    }
}

# the page is read by nginx's workers (nobody, when root), who may not
# reach the checkout (a 0700 folder): served from a copy in the servroot
my $ROOT = TursoMembers::Test::servroot_dir() . '/portal';
mkdir $ROOT or die "$ROOT: $!";
chmod 0755, $ROOT;
for my $file (glob "$TOP/examples/portal/*") {
    File::Copy::copy($file, $ROOT) or die "copy $file: $!";
    chmod 0644, "$ROOT/" . File::Basename::basename($file);
}

my $portal_port = free_port();
my $other_port  = free_port();
my $PORTAL = "http://127.0.0.1:$portal_port";

my $t = TursoMembers::Test->new(config => <<"CONF");
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%H2PORT%% http2;
        turso_members_cors_origins $PORTAL;
        turso_members_allowed_roles member viewer;

        %%LOCATIONS%%
    }

    server {
        listen 127.0.0.1:$portal_port;
        root $ROOT;
        default_type text/html;
    }

    server {
        listen 127.0.0.1:$other_port;
        root $ROOT;
        default_type text/html;
    }
CONF

$t->mock_reset;
my $mark = $t->log_mark;

my ($fh, $plan) = tempfile(DIR => $t->prefix, SUFFIX => '.json', UNLINK => 1);
print $fh encode_json({
    portal     => "$PORTAL/",
    other      => "http://127.0.0.1:$other_port/",
    gateway    => 'http://127.0.0.1:' . $t->port,
    org        => 'acme',
    chromium   => $CHROMIUM,
    screenshot => $t->prefix . '/logs/portal.png',
    timeout_factor => $TursoMembers::Test::TIMEOUT_FACTOR,
});
close $fh;

my $limit = int(120 * $TursoMembers::Test::TIMEOUT_FACTOR);
# Chromium's profile, crash reports and dconf cache: in the prefix, not
# in the user's home
my $home = $t->prefix . '/home';
mkdir $home;
local @ENV{qw(HOME XDG_CONFIG_HOME XDG_CACHE_HOME)}
    = ($home, "$home/.config", "$home/.cache");
my $out = `timeout $limit node '$NODE_DIR/portal.mjs' '$plan' 2>&1`;
my $res = eval { decode_json((grep { /^\{/ } split /\n/, $out)[-1] // '') };

unless (ref $res eq 'HASH' && ref $res->{steps} eq 'ARRAY') {
    fail 'the browser ran';
    diag $out;
    done_testing;
    exit 1;
}

my %step = map { $_->{name} => $_ } @{ $res->{steps} };
if ($step{failed}) {
    fail 'the browser went through every step';
    diag $step{failed}{error};
    diag join "\n", @{ $res->{console} || [] };
}

sub page_of {
    my ($name) = @_;
    return ($step{$name} || {})->{page} || {};
}

my $ALICE = ['alice', 'alice@example.com', 'owner'];
my $CAROL = ['carol', 'carol@example.com', 'admin'];
my $BOB   = 'bob@example.com';

subtest 'the page lists members and invites' => sub {
    my $p = page_of('load');
    is $p->{ready}, 'yes', 'loaded';
    is_deeply $p->{members}, [$ALICE, $CAROL], 'the members';
    is_deeply $p->{invites}, [], 'no invites';
    is $p->{error}, undef, 'no error';
};

subtest 'add a member with the role picker' => sub {
    my $p = page_of('add bob as viewer');
    is $p->{notice}, 'bob was added as viewer', 'the notice';
    is_deeply $p->{members}, [$ALICE, $CAROL, ['bob', $BOB, 'viewer']],
              'bob is listed as a viewer';
};

subtest 'a refused role: the gateway\'s error, by code and message' => sub {
    my $p = page_of('add dave as admin');
    is $p->{error}{code}, 'role_not_allowed', 'the code';
    is $p->{error}{status}, '(403)', 'the status';
    like $p->{error}{message}, qr/admin/, 'the message names the role';
    like $p->{error}{request_id}, qr/^portal-[0-9a-f-]{36}$/,
         "the page's own request id, sent as X-Request-Id, came back";
    ok !grep({ $_->[0] eq 'dave' } @{ $p->{members} }), 'dave is not listed';
};

subtest 'a 409: member_exists' => sub {
    my $p = page_of('add carol again');
    is $p->{error}{code}, 'member_exists', 'the code';
    is $p->{error}{status}, '(409)', 'the status';
    like $p->{error}{message}, qr/\bcarol\b.*\bacme\b/, 'the message';
};

subtest 'change a role' => sub {
    my $p = page_of('change bob to member');
    is $p->{error}, undef, 'no error';
    is $p->{notice}, 'bob is now member', 'the notice';
    is_deeply $p->{members}, [$ALICE, $CAROL, ['bob', $BOB, 'member']],
              'bob is a member now';
};

subtest 'invite by email' => sub {
    my $p = page_of('invite erin');
    is $p->{notice}, 'erin@example.com was invited as viewer', 'the notice';
    is_deeply $p->{invites}, [['erin@example.com', 'viewer']], 'listed';
};

subtest 'remove a member' => sub {
    my $p = page_of('remove bob');
    is $p->{notice}, 'bob was removed', 'the notice';
    is_deeply $p->{members}, [$ALICE, $CAROL], 'bob is gone';
};

subtest 'what the upstream received' => sub {
    my $u = $t->upstream_requests;
    my @changes = map { [$_->{method}, $_->{url}, $_->{body}] }
                  grep { $_->{method} ne 'GET' } @$u;
    is_deeply \@changes, [
        [POST   => '/v1/organizations/acme/members',
                   '{"username":"bob","role":"viewer"}'],
        [POST   => '/v1/organizations/acme/members',
                   '{"username":"carol","role":"member"}'],
        [PATCH  => '/v1/organizations/acme/members/bob', '{"role":"member"}'],
        [POST   => '/v2/organizations/acme/invites',
                   '{"email":"erin@example.com","role":"viewer"}'],
        [DELETE => '/v1/organizations/acme/members/bob', ''],
    ], 'every change, canonical; the refused role never left the gateway'
        or diag explain \@changes;

    my @gets = sort map { $_->{url} } grep { $_->{method} eq 'GET' } @$u;
    is_deeply \@gets,
              [('/v1/organizations/acme/members') x 5,
               ('/v2/organizations/acme/invites') x 5],
              'the lists, once at load and after each change that succeeded';

    is scalar(grep { $_->{method} eq 'OPTIONS' } @$u), 0,
       'no preflight reached the upstream';
    is scalar(grep { ($_->{headers}{authorization} // '')
                     ne 'Bearer test-token' } @$u), 0,
       "every request carried the gateway's token";
    is scalar(grep { ($_->{headers}{'x-request-id'} // '')
                     !~ /^portal-/ } @$u), 0,
       "every request carried the page's X-Request-Id";
};

subtest 'the same page from an origin not listed cannot call the gateway'
=> sub {
    my $p = page_of('other origin');
    is $p->{ready}, 'error', 'the page could not load its lists';
    is $p->{error}{code}, 'network_error',
       'the browser gave the page no answer to read';
    is $p->{members}, 0, 'no member listed';

    # the portal's 15 requests above, and nothing of the other page's
    is scalar @{ $t->upstream_requests }, 15, 'nothing reached the upstream';
    like $t->error_log_since($mark), qr/rejected with 403 origin_not_allowed/,
         'the gateway refused the preflight';
};

done_testing;
