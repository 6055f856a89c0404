# Configuration: directives, the token sources, what "nginx -t" refuses.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(start => 0);

# A location with the module on and @directives.
sub loc {
    my (@directives) = @_;
    unshift @directives, 'turso_members on;'
        unless grep { /^turso_members\s/ } @directives;
    my $d = join "\n", map { "            $_" } @directives;
    return <<"CONF";
        location /v1/organizations/ {
$d
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
}

sub accepted {
    my ($config, $name, %args) = @_;
    subtest "nginx -t accepts: $name" => sub {
        my ($code, $out) = $t->nginx_t($config, %args);
        is $code, 0, 'exit code' or diag $out;
    };
}

my $tf = $t->{token_file};
my $file = sub { $t->write_file("conf/$_[0]", $_[1]) };

accepted loc("turso_members_token_file $tf;"), 'the token file';
accepted loc('turso_members_token_env TURSO_TEST_TOKEN;'), 'the token env',
         env => { TURSO_TEST_TOKEN => 'test-token' };
accepted loc("turso_members_token_file $tf;",
             'turso_members_default_role viewer;',
             'turso_members_allowed_roles member viewer;',
             'turso_members_max_body_size 4k;'), 'all directives';
accepted "turso_members_token_file $tf;\n" . loc(),
         'the token file at server level, inherited';
accepted loc('turso_members off;'), 'off needs no token';
accepted loc("turso_members_token_file " . $file->('crlf', "test-token\r\n") . ';'),
         'a token file ending in CRLF';
accepted loc("turso_members_token_file " . $file->('bare', "test-token") . ';'),
         'a token file without a newline';

$t->nginx_t_refuses(loc(), qr/token/i, 'no token source');
$t->nginx_t_refuses(loc('turso_members_token_env TURSO_TEST_TOKEN_UNSET;'),
                    qr/TURSO_TEST_TOKEN_UNSET/, 'the token env variable unset');
$t->nginx_t_refuses(loc('turso_members_token_env TURSO_TEST_TOKEN;'),
                    qr/TURSO_TEST_TOKEN/, 'the token env variable empty',
                    env => { TURSO_TEST_TOKEN => '' });
$t->nginx_t_refuses(loc("turso_members_token_file $tf.missing;"), qr/\Q$tf.missing\E/,
                    'a missing token file');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('empty', '') . ';'),
                    qr/empty/i, 'an empty token file');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('nl', "\n") . ';'),
                    qr/empty/i, 'a token file with only a newline');

my $bad_char = qr/space|whitespace|tab|control|charact|invalid|CR|LF|NUL|newline/i;
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('space', "s3cret token\n") . ';'),
                    $bad_char, 'a token with a space');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('tab', "s3cret\ttoken\n") . ';'),
                    $bad_char, 'a token with a tab');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('cr', "s3cret\rtoken\n") . ';'),
                    $bad_char, 'a token with a CR');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('lf', "s3cret\ntoken\n") . ';'),
                    $bad_char, 'a token with a LF inside');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('nul', "s3cret\0token\n") . ';'),
                    $bad_char, 'a token with a NUL');
$t->nginx_t_refuses(loc("turso_members_token_file " . $file->('two', "s3cret\n\n") . ';'),
                    $bad_char, 'a token followed by two newlines');
$t->nginx_t_refuses(loc('turso_members_token_env TURSO_TEST_TOKEN;'), $bad_char,
                    'a token env with a space', env => { TURSO_TEST_TOKEN => 's3cret token' });

$t->nginx_t_refuses(loc("turso_members_token_file $tf;", 'turso_members_default_role owner;'),
                    qr/owner/, 'default role owner');
$t->nginx_t_refuses(loc("turso_members_token_file $tf;", 'turso_members_default_role Admin2;'),
                    qr/Admin2/, 'an unknown default role');
$t->nginx_t_refuses(loc("turso_members_token_file $tf;",
                        'turso_members_allowed_roles admin superuser;'),
                    qr/superuser/, 'an unknown allowed role');
$t->nginx_t_refuses(loc("turso_members_token_file $tf;", 'turso_members_allowed_roles owner;'),
                    qr/owner/, 'owner as an allowed role');
$t->nginx_t_refuses(loc("turso_members_token_file $tf;", 'turso_members maybe;'),
                    qr/maybe|on.*off|invalid/i, 'turso_members neither on nor off');
$t->nginx_t_refuses(loc("turso_members_token_file $tf;", 'turso_members_max_body_size lots;'),
                    qr/lots|invalid/i, 'a bad max body size');


# --- the token actually sent ------------------------------------------------

sub sends_token {
    my ($name, %args) = @_;
    subtest "the upstream gets the token: $name" => sub {
        my $s = TursoMembers::Test->new(%args);
        $s->mock_reset;
        my $r = $s->request(method => 'POST', path => ADD_MEMBER,
                            body => '{"username":"bob"}');
        is $r->{status}, 200;
        my $u = $s->upstream_requests;
        is $u->[0]{headers}{authorization}, 'Bearer test-token';
        $s->stop;
    };
}

sends_token 'token file ending in CRLF', config => <<CONF;
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $t->{prefix}/conf/crlf;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF

sends_token 'token file at http level, inherited',
    http_config => 'turso_members_token_file %%TOKEN_FILE%%;',
    config => <<'CONF';
        location /v1/organizations/ {
            turso_members on;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

sends_token 'token from the environment',
    env => { TURSO_TEST_TOKEN => 'test-token' },
    config => <<'CONF';
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_env TURSO_TEST_TOKEN;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

subtest 'a wrong token: the upstream says 401, the client gets 502' => sub {
    my $s = TursoMembers::Test->new(config => <<CONF);
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file @{[ $file->('wrong', "other-token\n") ]};
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
    $s->mock_reset;
    my $r = $s->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    error_is $r, 502, 'upstream_unauthorized';
    is $s->upstream_requests->[0]{headers}{authorization}, 'Bearer other-token';
    like $s->error_log, qr/\[error\]/, 'an [error] line for the operator';
    unlike $s->error_log, qr/other-token/, 'the token is not logged';
    $s->stop;
};

done_testing;
