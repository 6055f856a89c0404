# One gateway for several organizations: turso_members_token_file and
# turso_members_token_env with organization=slug, one token per
# organization and at most one default on a level.  A request goes
# upstream with its organization's token (or the default); with neither it
# is refused before the upstream with 403 organization_not_allowed.  An
# upstream 401 (the token refused) and 403 (a token without rights on the
# organization) are told apart, logged at error with the organization and
# the token id, and counted.  Refresh works per file.
#
# The mock takes organization-scoped tokens as Turso does: a token of
# another organization gets a 403, an unknown token a 401.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Time::HiRes qw(sleep);

my $ACME   = 'tok.acme.0123456789abcdefghij';
my $GLOBEX = 'tok.globex.9876543210zyxwvuts';
my $ACME2  = 'tok.acme.ROTATED.NEW.kkkkkkkk';
my $STALE  = 'tok.acme.EXPIRED.qqqqqqqqqqqq';
my @SECRETS = ($ACME, $GLOBEX, $ACME2, $STALE, 'test-token');


my $gid = getgrnam('nogroup') // getgrnam('nobody') // 65534;

# A token file the workers (nobody) can read, replaced by a rename.
sub put_token {
    my ($file, $content) = @_;
    TursoMembers::Test::spew("$file.new", $content);
    chown -1, $gid, "$file.new";
    chmod 0640, "$file.new";
    rename "$file.new", $file or die "rename $file: $!";
}

my $t = TursoMembers::Test->new(
    start => 0,
    http_config => <<'HTTP',
    log_format orgs '$turso_members_org $turso_members_token_id '
                    '$turso_members_code $status';
HTTP
    config => <<'CONF');
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%H2PORT%% http2;
        server_name localhost;

        access_log logs/orgs.log orgs;

        # the server's set: globex only, inherited by /inherit/
        turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex;

        # two organizations, no default
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme refresh=1s;
            turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex refresh=1s;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /v2/organizations/ {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme refresh=1s;
            turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex refresh=1s;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        # acme's own token and a default for every other organization
        location /default/ {
            rewrite ^/default(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        location /inherit/ {
            rewrite ^/inherit(/.*)$ $1 break;
            turso_members on;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        # a token line replaces the server's whole set: no globex here
        location /replace/ {
            rewrite ^/replace(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        # acme's file holds globex's token (minted for the wrong
        # organization); globex's holds a token the upstream does not know
        location /wrong/ {
            rewrite ^/wrong(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme-wrong.token organization=acme;
            turso_members_token_file %%PREFIX%%/conf/stale.token organization=globex;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        # report mode lets policy refusals through, never a missing token
        location /report/ {
            rewrite ^/report(/.*)$ $1 break;
            turso_members on;
            turso_members_mode report;
            turso_members_organizations acme;
            turso_members_token_file %%PREFIX%%/conf/acme.token organization=acme;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        # from the environment
        location /env/ {
            rewrite ^/env(/.*)$ $1 break;
            turso_members on;
            turso_members_token_env TURSO_ACME organization=acme;
            turso_members_token_env TURSO_GLOBEX organization=globex;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }

        location = /metrics {
            turso_members_status;
        }
    }
CONF

my $P = $t->prefix;
my %file = map { $_ => "$P/conf/$_.token" } qw(acme globex acme-wrong stale);
put_token($file{acme}, "$ACME\n");
put_token($file{globex}, "$GLOBEX\n");
put_token($file{'acme-wrong'}, "$GLOBEX\n");
put_token($file{stale}, "$STALE\n");
$t->{env} = { TURSO_ACME => $ACME, TURSO_GLOBEX => $GLOBEX };
$t->start;

$t->mock_tokens({ $ACME => 'acme', $GLOBEX => 'globex', $ACME2 => 'acme',
                  'test-token' => '*' });

my $last_access = '';

# One request, then its line in orgs.log, last_access() (nginx writes it
# after the answer: waited for, so that no line written late passes for
# the next request's).
sub logged_request {
    my (%a) = @_;
    my $mark = $t->log_mark('orgs.log');
    my $r = $t->request(%a);
    ($last_access) = $t->wait_log('orgs.log', qr/\n/, $mark) =~ /^(.*)\n/;
    return $r;
}

# One request; what the upstream got and what the client got.
sub call {
    my (%a) = @_;
    $t->mock_reset;
    my $r = logged_request(method => $a{method} // 'GET', path => $a{path},
                           defined $a{body} ? (body => $a{body}) : ());
    return ($r, $t->upstream_requests);
}

sub auth_of { $_[0][-1] ? $_[0][-1]{headers}{authorization} // 'none' : 'nothing' }

sub last_access { $last_access // '' }

sub metric {
    my ($op, $code, $status) = @_;
    my $m = logged_request(method => 'GET', path => '/metrics')->{body};
    # summed over the organization label (t/158-metrics-organizations.t)
    my $n = 0;
    $n += $_ for $m =~ /^turso_members_requests_total\{organization="[^"]*",operation="\Q$op\E",code="\Q$code\E",upstream_status="$status"\} (\d+)$/mg;
    return $n;
}

# --- each organization its own token -----------------------------------------

subtest 'acme goes upstream with acme\'s token' => sub {
    my ($r, $u) = call(path => '/v1/organizations/acme/members');
    is $r->{status}, 200, 'status 200';
    is scalar @$u, 1, 'one upstream request';
    is auth_of($u), "Bearer $ACME", 'Authorization: acme\'s token';
    is last_access(), 'acme ' . token_id($ACME) . ' ok 200',
       '$turso_members_token_id is acme\'s';
};

subtest 'globex, through the same location, with globex\'s token' => sub {
    my ($r, $u) = call(method => 'POST', path => '/v2/organizations/globex/invites',
                       body => '{"email":"x@example.com"}');
    is $r->{status}, 200, 'status 200';
    is auth_of($u), "Bearer $GLOBEX", 'Authorization: globex\'s token';
    is $u->[0]{body}, '{"email":"x@example.com","role":"member"}',
       'the canonical body';
    is_deeply $r->{json}, { invited => { email => 'x@example.com',
                                         role => 'member',
                                         organization => 'globex' } },
              'the answer';
    is last_access(), 'globex ' . token_id($GLOBEX) . ' ok 200',
       '$turso_members_token_id is globex\'s';
};

subtest 'an organization without a token and no default: 403 before the upstream' => sub {
    my $mark = $t->log_mark;
    my $before = metric('add_member', 'organization_not_allowed', 0);
    my ($r, $u) = call(method => 'POST', path => '/v1/organizations/initech/members',
                       body => '{"username":"bob"}');
    my $j = error_is $r, 403, 'organization_not_allowed', undef,
                     organization => 'initech';
    is $j->{error}, 'the gateway holds no token for organization initech',
       'the message says the gateway holds no token for it';
    is scalar @$u, 0, 'nothing reached the upstream';
    like $t->error_log_since($mark),
         qr/\[info\].*rejected with 403 organization_not_allowed: "the gateway holds no token for organization initech"/,
         'logged';
    is last_access(), 'initech - organization_not_allowed 403',
       'no token id: none was used';
    is metric('add_member', 'organization_not_allowed', 0), $before + 1,
       'counted in the metrics';

    ($r, $u) = call(path => '/v2/organizations/initech/invites');
    error_is $r, 403, 'organization_not_allowed', 'a GET too';
    is scalar @$u, 0, 'nothing upstream';
};

subtest 'slugs compare exactly' => sub {
    my ($r, $u) = call(path => '/v1/organizations/acme-2/members');
    error_is $r, 403, 'organization_not_allowed', 'acme-2 is not acme';
    is scalar @$u, 0, 'nothing upstream';
};

# Turso's slugs are lowercase: a slug with an uppercase letter is refused,
# so that no case variant of a configured organization goes upstream with
# another token than that organization's (the default's, where there is one)
subtest 'a slug with an uppercase letter: 400, whatever the tokens' => sub {
    for my $case (['/default', 'ACME', 'acme\'s token and a default'],
                  ['/default', 'Acme', 'the same'],
                  ['/default', 'acmE', 'the same'],
                  ['/default', 'GLOBEX', 'not configured: the default'],
                  ['/default', 'Initech', 'the same'],
                  ['', 'ACME', 'acme\'s and globex\'s tokens, no default'],
                  ['', 'Globex', 'the same'],
                  ['', 'INITECH', 'no token at all'],
                  ['/report', 'ACME', 'report mode'])
    {
        my ($loc, $org, $what) = @$case;
        for my $req (['GET', "/v1/organizations/$org/members", undef],
                     ['POST', "/v2/organizations/$org/invites",
                      '{"email":"x@example.com"}'],
                     ['DELETE', "/v1/organizations/$org/members/bob", undef])
        {
            my ($method, $path, $body) = @$req;
            my ($r, $u) = call(method => $method, path => "$loc$path",
                               body => $body);
            my $j = error_is $r, 400, 'invalid_organization',
                             "$loc $method $org ($what)";
            is $j->{error}, 'invalid organization: Turso\'s organization '
                            . 'slugs are lowercase', 'the message says why';
            is auth_of($u), 'nothing', 'nothing upstream, with no token';
        }
    }
    my ($r, $u) = call(path => '/default/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME", 'acme itself: acme\'s token';
    ($r, $u) = call(path => '/default/v1/organizations/globex/members');
    is auth_of($u), 'Bearer test-token', 'globex: the default';
};

subtest 'a default token serves every other organization' => sub {
    my ($r, $u) = call(path => '/default/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME", 'acme: its own token';
    is $r->{status}, 200, 'status 200';
    ($r, $u) = call(path => '/default/v1/organizations/globex/members');
    is auth_of($u), 'Bearer test-token', 'globex: the default';
    is $r->{status}, 200, '200 (the default token is unrestricted)';
    is last_access(), 'globex ' . token_id('test-token') . ' ok 200',
       'the default token\'s id';
    ($r, $u) = call(path => '/default/v1/organizations/initech/members');
    is auth_of($u), 'Bearer test-token', 'initech: the default';
    error_is $r, 404, 'organization_not_found', 'the upstream does not know it';
};

subtest 'a level with any token line replaces the outer set' => sub {
    my ($r, $u) = call(path => '/inherit/v1/organizations/globex/members');
    is auth_of($u), "Bearer $GLOBEX", 'inherited: globex\'s token';
    ($r, $u) = call(path => '/inherit/v1/organizations/acme/members');
    error_is $r, 403, 'organization_not_allowed', 'inherited: no acme';
    is scalar @$u, 0, 'nothing upstream';

    ($r, $u) = call(path => '/replace/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME", 'replaced: acme\'s token';
    ($r, $u) = call(path => '/replace/v1/organizations/globex/members');
    error_is $r, 403, 'organization_not_allowed',
             'replaced: the server\'s globex token is not inherited';
    is scalar @$u, 0, 'nothing upstream';
};

subtest 'report mode does not forward without a token' => sub {
    my ($r, $u) = call(path => '/report/v1/organizations/globex/members');
    error_is $r, 403, 'organization_not_allowed';
    is $r->{json}{error}, 'the gateway holds no token for organization globex',
       'the token\'s refusal, not the policy\'s';
    is scalar @$u, 0, 'nothing upstream';
};

subtest 'tokens from the environment' => sub {
    my ($r, $u) = call(path => '/env/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME", 'acme';
    ($r, $u) = call(path => '/env/v1/organizations/globex/members');
    is auth_of($u), "Bearer $GLOBEX", 'globex';
    ($r, $u) = call(path => '/env/v1/organizations/initech/members');
    error_is $r, 403, 'organization_not_allowed', 'initech';
};

# --- 401 and 403 told apart ----------------------------------------------------

subtest 'a token of another organization: upstream 403 -> 502 upstream_forbidden' => sub {
    my $mark = $t->log_mark;
    my $before = metric('list_members', 'upstream_forbidden', 403);
    my ($r, $u) = call(path => '/wrong/v1/organizations/acme/members');
    is auth_of($u), "Bearer $GLOBEX", 'the upstream got the (wrong) token';
    my $j = error_is $r, 502, 'upstream_forbidden', undef,
                     organization => 'acme';
    is $j->{error}, "the gateway's Turso API token has no rights on "
                    . 'organization acme', 'the message';
    my $log = $t->error_log_since($mark);
    my $id = token_id($GLOBEX);
    like $log, qr/\[error\].*upstream answered 403, sent as upstream_forbidden, organization "acme": the token has no rights on this organization.*token $id \(organization "acme"\)/,
         'an [error] with the organization and the token id' or diag $log;
    is last_access(), "acme $id upstream_forbidden 502", 'the access log';
    is metric('list_members', 'upstream_forbidden', 403), $before + 1,
       'counted';
};

subtest 'a token the upstream does not know: upstream 401 -> 502 upstream_unauthorized' => sub {
    my $mark = $t->log_mark;
    my $before = metric('list_members', 'upstream_unauthorized', 401);
    my ($r, $u) = call(path => '/wrong/v1/organizations/globex/members');
    is auth_of($u), "Bearer $STALE", 'the upstream got the stale token';
    my $j = error_is $r, 502, 'upstream_unauthorized', undef,
                     organization => 'globex';
    is $j->{error}, "the gateway's Turso API token was refused", 'the message';
    my $log = $t->error_log_since($mark);
    my $id = token_id($STALE);
    like $log, qr/\[error\].*upstream answered 401, sent as upstream_unauthorized, organization "globex": the token is invalid, expired or revoked; token $id \(organization "globex"\)/,
         'an [error] with the organization and the token id' or diag $log;
    is metric('list_members', 'upstream_unauthorized', 401), $before + 1,
       'counted';
};

# --- refresh: one organization's file changes, the other's stays ---------------


subtest 'acme\'s file rotated: acme takes the new token, globex keeps its own' => sub {
    call(path => '/v1/organizations/acme/members');    # checked once
    call(path => '/v1/organizations/globex/members');
    my $mark = $t->log_mark;
    put_token($file{acme}, "$ACME2\n");
    past_interval();

    my ($r, $u) = call(path => '/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME2", 'acme: the new token';
    is $r->{status}, 200, 'status 200';
    is last_access(), 'acme ' . token_id($ACME2) . ' ok 200', 'its id';
    ($r, $u) = call(path => '/v1/organizations/globex/members');
    is auth_of($u), "Bearer $GLOBEX", 'globex: its token, unchanged';
    is last_access(), 'globex ' . token_id($GLOBEX) . ' ok 200', 'its id';

    my $log = $t->error_log_since($mark);
    like $log, qr/\[notice\].*the Turso API token file "\Q$file{acme}\E" changed, now using the token ${\ token_id($ACME2)} \(organization "acme"\)/,
         'a [notice] naming acme\'s file and organization' or diag $log;
    unlike $log, qr/globex\.token/, 'nothing about globex\'s file';

    ($r, $u) = call(path => '/default/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME",
       'a location without refresh= keeps the token it loaded';
};

subtest 'globex\'s file broken: globex keeps its token, acme is untouched' => sub {
    my $mark = $t->log_mark;
    put_token($file{globex}, "two words\n");
    past_interval();
    my ($r, $u) = call(path => '/v1/organizations/globex/members');
    is auth_of($u), "Bearer $GLOBEX", 'globex: the current token is kept';
    ($r, $u) = call(path => '/v1/organizations/acme/members');
    is auth_of($u), "Bearer $ACME2", 'acme: its new token';
    my $log = $t->error_log_since($mark);
    like $log, qr/\[error\].*the Turso API token file "\Q$file{globex}\E" contains a space.*keeping the token ${\ token_id($GLOBEX)} \(organization "globex"\)/,
         'an [error] naming globex\'s file and organization' or diag $log;
    put_token($file{globex}, "$GLOBEX\n");
};

# --- nginx -t -----------------------------------------------------------------

sub loc {
    my ($lines) = @_;
    return <<"CONF";
        location /v1/organizations/ {
            turso_members on;
$lines
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
}

sub refused {
    my ($lines, $re, $name, %args) = @_;
    subtest "nginx -t refuses: $name" => sub {
        my ($code, $out) = $t->nginx_t(loc($lines), %args);
        isnt $code, 0, 'fails';
        like $out, qr/\[emerg\]/, 'an [emerg]';
        like $out, $re, 'which' or diag $out;
        my @leak = grep { index($out, $_) >= 0 } @SECRETS;
        ok !@leak, 'no token printed' or diag "@leak";
    };
}

sub accepted {
    my ($lines, $name, %args) = @_;
    subtest "nginx -t accepts: $name" => sub {
        my ($code, $out) = $t->nginx_t(loc($lines), %args);
        is $code, 0, 'passes' or diag $out;
    };
}

my $empty = $t->write_file('conf/empty.token', '');
my $nl = $t->write_file('conf/nl.token', "\n");
my $bad = $t->write_file('conf/bad.token', "a b\n");

accepted "turso_members_token_file $file{acme} organization=acme;\n"
         . "turso_members_token_file $file{globex} organization=globex;",
         'two organizations';
accepted "turso_members_token_file $file{acme} organization=acme refresh=5m;\n"
         . "turso_members_token_file $file{globex} refresh=5m organization=globex;\n"
         . "turso_members_token_file %%TOKEN_FILE%%;",
         'two organizations and a default, parameters in any order';
accepted "turso_members_token_file $file{acme} organization=acme;\n"
         . "turso_members_token_env TURSO_G organization=globex;",
         'a file and a variable', env => { TURSO_G => $GLOBEX };
accepted "turso_members_token_file $file{acme} organization=a-z_09;",
         'a slug of lowercase letters, digits, - and _';

refused "turso_members_token_file $file{acme} organization=acme;\n"
        . "turso_members_token_file $file{globex} organization=acme;",
        qr/two Turso API tokens for organization "acme" on one level \("\Q$file{acme}\E" and "\Q$file{globex}\E"\)/,
        'two tokens for one organization';
refused "turso_members_token_file $file{acme} organization=acme;\n"
        . "turso_members_token_env TURSO_G organization=acme;",
        qr/two Turso API tokens for organization "acme" on one level/,
        'a file and a variable for one organization',
        env => { TURSO_G => $GLOBEX };
refused "turso_members_token_file $file{acme};\n"
        . "turso_members_token_file $file{globex};",
        qr/two Turso API tokens without "organization=" on one level/,
        'two defaults';
refused "turso_members_token_file $file{acme};\n"
        . "turso_members_token_env TURSO_G;",
        qr/two Turso API tokens without "organization="/,
        'a default file and a default variable', env => { TURSO_G => $GLOBEX };
for my $slug ('', 'ac/me', 'ac.me', 'a' x 65, '"ac me"', 'acme%41', 'ACME',
              'Acme', 'a-Z') {
    my $arg = $slug =~ /^"/ ? qq("organization=${\ substr($slug, 1, -1)}")
                            : "organization=$slug";
    refused "turso_members_token_file $file{acme} $arg;",
            qr/invalid organization slug/, "organization=$slug";
}
refused "turso_members_token_env TURSO_G organization=no/pe;",
        qr/invalid organization slug "no\/pe"/, 'an invalid slug for a variable',
        env => { TURSO_G => $GLOBEX };
refused "turso_members_token_file $file{acme} organization=acme organization=globex;",
        qr/invalid parameter "organization=globex"/, 'organization= twice';
refused "turso_members_token_env TURSO_G refresh=1s;",
        qr/refresh=/, 'refresh= on a variable', env => { TURSO_G => $GLOBEX };
refused "turso_members_token_file $empty organization=acme;",
        qr/the Turso API token in "\Q$empty\E" is empty \(organization "acme"\)/,
        'an empty file, naming the file and the organization';
refused "turso_members_token_file $nl organization=globex;",
        qr/"\Q$nl\E" is empty \(organization "globex"\)/, 'a lone newline';
refused "turso_members_token_file $P/conf/missing.token organization=acme;",
        qr/the Turso API token file "\Q$P\E\/conf\/missing.token" cannot be opened \(organization "acme"\)/,
        'a missing file';
refused "turso_members_token_file $bad organization=acme;",
        qr/"\Q$bad\E" contains a space.* \(organization "acme"\)/,
        'a bad token';
refused "turso_members_token_env TURSO_NOPE organization=acme;",
        qr/"TURSO_NOPE" .*not set \(organization "acme"\)/,
        'an unset variable';
refused "turso_members_token_file $empty;",
        qr/"\Q$empty\E" is empty \(the default token\)/,
        'an empty default';

subtest 'no token in any log' => sub {
    my $all = $t->error_log . TursoMembers::Test::slurp("$P/logs/orgs.log")
              . $t->access_log;
    my @leak = grep { index($all, $_) >= 0 } @SECRETS;
    ok !@leak, 'none' or diag "@leak";
};

done_testing;
