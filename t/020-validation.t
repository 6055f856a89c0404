# Add Member body and path validation.  Every rejection is a JSON error
# and nothing reaches the upstream.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new;

# POSTs a body to Add Member (or $path); returns the response.
sub add {
    my ($body, $path) = @_;
    $t->mock_reset;
    return $t->request(method => 'POST', path => $path // ADD_MEMBER,
                       body => $body);
}

# The body must be rejected: status, code, nothing upstream.
sub rejected {
    my ($body, $status, $code, $name, %fields) = @_;
    subtest $name => sub {
        $t->refused(add($body), $status, $code, "$status $code", %fields);
    };
}

# The body must be accepted, and forwarded as $want.
sub accepted {
    my ($body, $want, $name, $tt) = @_;
    $tt //= $t;
    subtest $name => sub {
        $tt->mock_reset;
        my $r = $tt->request(method => 'POST', path => ADD_MEMBER,
                             body => $body);
        $tt->forwarded(POST => ADD_MEMBER, $want);
        is $r->{status}, 200, 'client status';
    };
}


# --- role ------------------------------------------------------------------

accepted '{"username":"bob"}', '{"username":"bob","role":"member"}',
         'role missing: the default role';
accepted '{"username":"bob","role":null}', '{"username":"bob","role":"member"}',
         'role null: the default role';
accepted '{"username":"bob","role":" Admin "}', '{"username":"bob","role":"admin"}',
         'role " Admin ": trimmed and lowercased';
accepted '{"username":"bob","role":"VIEWER"}', '{"username":"bob","role":"viewer"}',
         'role "VIEWER": lowercased';

for my $role ('"owner"', '"superuser"', '"adminx"', '1', 'true', '[]', '{}',
              '["admin"]')
{
    rejected qq({"username":"bob","role":$role}), 400, 'invalid_role',
             "role $role is invalid", organization => 'acme',
             username => 'bob';
}

{
    my $limited = TursoMembers::Test->new(config => default_locations(
        'turso_members_allowed_roles member viewer;'));

    subtest 'a valid role outside turso_members_allowed_roles: 403' => sub {
        $limited->mock_reset;
        my $r = $limited->request(method => 'POST', path => ADD_MEMBER,
                                  body => '{"username":"bob","role":"admin"}');
        error_is $r, 403, 'role_not_allowed', undef,
                 organization => 'acme', username => 'bob';
        $limited->nothing_upstream;
    };

    subtest 'an invalid role stays 400 where roles are limited' => sub {
        $limited->mock_reset;
        my $r = $limited->request(method => 'POST', path => ADD_MEMBER,
                                  body => '{"username":"bob","role":"owner"}');
        error_is $r, 400, 'invalid_role';
        $limited->nothing_upstream;
    };

    accepted '{"username":"bob","role":"viewer"}',
             '{"username":"bob","role":"viewer"}',
             'an allowed role passes where roles are limited', $limited;
    $limited->stop;
}

{
    my $viewer = TursoMembers::Test->new(config => default_locations(
        'turso_members_default_role viewer;'));
    accepted '{"username":"bob"}', '{"username":"bob","role":"viewer"}',
             'turso_members_default_role viewer: role missing', $viewer;
    accepted '{"username":"bob","role":null}', '{"username":"bob","role":"viewer"}',
             'turso_members_default_role viewer: role null', $viewer;
    accepted '{"username":"bob","role":"admin"}', '{"username":"bob","role":"admin"}',
             'turso_members_default_role viewer: role given wins', $viewer;
    $viewer->stop;
}


# --- username ----------------------------------------------------------------

subtest 'username of 255 bytes is accepted' => sub {
    my $long = 'u' x 255;
    my $r = add(qq({"username":"$long"}));
    my $u = $t->upstream_requests;
    is scalar @$u, 1, 'one upstream request';
    is $u->[0]{body}, qq({"username":"$long","role":"member"}), 'upstream body';
    error_is $r, 404, 'user_not_found', 'the mock does not know the user',
             username => $long;
};

for my $case (
    ['""',                       'empty'],
    ['"' . ('u' x 256) . '"',    '256 bytes'],
    ['"bo b"',                   'a space'],
    ['"bob\t"',                  'a tab'],
    ['"bob\n"',                  'a newline'],
    ['"\u0001bob"',              'a control character'],
    ['"bob\u007f"',              'DEL'],
    ['"bo/b"',                   'a slash'],
    ['"..\/..\/x"',              'escaped slashes'],
    ['" bob"',                   'leading space'],
    ['5',                        'a number'],
    ['true',                     'a boolean'],
    ['null',                     'null'],
    ['["bob"]',                  'an array'],
    ['{"name":"bob"}',           'an object'],
)
{
    my ($v, $what) = @$case;
    rejected qq({"username":$v}), 400, 'invalid_body',
             "username with $what is invalid", organization => 'acme',
             username => undef;
}


# --- body shape --------------------------------------------------------------

rejected '{}', 400, 'invalid_body', 'an empty object: username missing';
rejected '{"role":"admin"}', 400, 'invalid_body', 'username missing';
rejected '{"member":"bob"}', 400, 'invalid_body',
         '"member" is not the documented field';
rejected '[]', 400, 'invalid_body', 'an array is not an object';
rejected '[{"username":"bob"}]', 400, 'invalid_body', 'an array of objects';
rejected '"bob"', 400, 'invalid_body', 'a string';
rejected '5', 400, 'invalid_body', 'a number';
rejected 'null', 400, 'invalid_body', 'null';

rejected '{"username":"bob","Role":"admin"}', 400, 'invalid_body',
         '"Role": a key differing only by case (Go would take it as role)';
rejected '{"USERNAME":"bob"}', 400, 'invalid_body', '"USERNAME"';
rejected '{"username":"bob","USERNAME":"carol"}', 400, 'invalid_body',
         '"username" and "USERNAME"';
rejected '{"username":"bob","rOLE":"member"}', 400, 'invalid_body', '"rOLE"';
rejected qq({"u\xc5\xbfername":"bob"}), 400, 'invalid_body',
         '"u\x{17f}ername" (long s: Go folds it to "username")';
rejected qq({"username":"bob","u\xc5\xbfername":"carol"}), 400, 'invalid_body',
         '"username" and "u\x{17f}ername"';


# --- not JSON ----------------------------------------------------------------

rejected '', 400, 'invalid_json', 'an empty body';
rejected 'username=bob&role=admin', 400, 'invalid_json', 'a form body';
rejected '{"username":"bob"', 400, 'invalid_json', 'truncated';
rejected '{"username":"bob",}', 400, 'invalid_json', 'a trailing comma';
rejected "{'username':'bob'}", 400, 'invalid_json', 'single quotes';
rejected '{"username":"bob"} x', 400, 'invalid_json', 'trailing garbage';
rejected '{"username":"bob"}{"role":"admin"}', 400, 'invalid_json',
         'a second object';
rejected '{"username":"bob","username":"carol"}', 400, 'invalid_json',
         'duplicate username';
rejected '{"username":"bob","role":"member","role":"admin"}', 400,
         'invalid_json', 'duplicate role (Go would take the last)';
rejected '{"username":"bob","x":1,"x":2}', 400, 'invalid_json',
         'duplicate unknown key';
rejected qq({"username":"b\xffb"}), 400, 'invalid_json', 'invalid UTF-8';
rejected '{"username":"bob\u0000"}', 400, 'invalid_json', '\u0000';
rejected '{"username":"\ud800"}', 400, 'invalid_json', 'a lone surrogate';

accepted qq({"username":"bob"}\r\n), '{"username":"bob","role":"member"}',
         'trailing whitespace is fine';


# --- the organization in the path --------------------------------------------

for my $case (['ac.me', 'a dot'], ['ac%20me', 'an encoded space'],
              ['a' x 65, '65 characters'], ['acme~', 'a tilde'],
              ['%61cme%2e', 'an encoded dot'])
{
    my ($org, $what) = @$case;
    subtest "organization with $what is invalid" => sub {
        my $r = add('{"username":"bob"}', "/v1/organizations/$org/members");
        my $j = error_is $r, 400, 'invalid_organization', undef,
                         organization => undef;
        # a message with quotes in it, escaped
        is $j->{error},
           'invalid organization: 1 to 64 letters, digits, "-" or "_"';
        $t->nothing_upstream;
    };
}

subtest 'organization of 64 characters [a-z0-9_-] is accepted' => sub {
    my $org = 'a-z_0' . ('9' x 59);
    my $r = add('{"username":"bob"}', "/v1/organizations/$org/members");
    my $u = $t->upstream_requests;
    is $u->[0]{url}, "/v1/organizations/$org/members";
    error_is $r, 404, 'organization_not_found', 'the mock does not know it',
             organization => $org;
};

done_testing;
