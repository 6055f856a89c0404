# turso_members_error_format problem: every error is an RFC 9457 problem
# details object, "application/problem+json":
#   {"type":"urn:ngx-turso-members:error:<code>","title":"<Code words>",
#    "status":N,"detail":"<message>","code":"<code>",
#    "organization":..,"username":..,"email":..,"request_id":..}
# for the gateway's own errors, the upstream's and nginx's own error pages.
# Successes are untouched; the default stays the "turso" shape.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use JSON::PP;

my $t = TursoMembers::Test->new(
    http_config => 'turso_members_error_format problem;',
    config => default_locations('client_max_body_size 1k;'
                                . ' proxy_read_timeout 1s;') . <<'CONF');
        location /closed/ {
            rewrite ^/closed(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://127.0.0.1:%%CLOSED_PORT%%$turso_members_upstream_uri;
        }

        location /turso/ {
            rewrite ^/turso(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_error_format turso;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

# A problem answer: status, content type, exact length, the fields.
#   %want: detail => exact text or qr//, organization/username/email =>
#   value or undef (absent), request_id => value or qr//
sub problem_is {
    my ($r, $status, $code, %want) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    subtest "$status $code as a problem" => sub {
        is $r->{status}, $status, "status $status";
        is $r->{headers}{'content-type'}, 'application/problem+json',
           'Content-Type: application/problem+json';
        is $r->{headers}{'content-length'}, length $r->{body},
           'exact Content-Length';
        my $j = eval { JSON::PP->new->decode($r->{body}) };
        ok ref $j eq 'HASH', 'a JSON object' or return diag $r->{body};

        (my $title = $code) =~ s/_/ /g;
        $title = ucfirst $title;

        is $j->{type}, "urn:ngx-turso-members:error:$code", 'type';
        is $j->{title}, $title, "title \"$title\"";
        like $r->{body}, qr/"status":$status[,}]/, 'status, a number';
        is $j->{code}, $code, 'code';
        ok defined $j->{detail} && !ref $j->{detail} && length $j->{detail},
           'detail, a string';
        if (ref $want{detail}) {
            like $j->{detail}, $want{detail}, 'detail';
        } elsif (defined $want{detail}) {
            is $j->{detail}, $want{detail}, 'detail';
        }
        ok !exists $j->{error}, 'no "error" member';
        for my $f (qw(organization username email)) {
            next unless exists $want{$f};
            is $j->{$f}, $want{$f}, defined $want{$f} ? $f : "no $f";
            ok !exists $j->{$f}, "$f absent" unless defined $want{$f};
        }
        if (ref $want{request_id}) {
            like $j->{request_id}, $want{request_id}, 'request_id';
        } else {
            is $j->{request_id}, $want{request_id} // $j->{request_id},
               'request_id';
            like $j->{request_id} // '', qr/^[A-Za-z0-9._:-]{1,128}$/,
                 'request_id present';
        }
        my @order = $r->{body} =~ /"(\w+)":/g;
        is_deeply [ @order[0 .. 4] ], [qw(type title status detail code)],
                  'the RFC 9457 members first';
    };
}

# --- the gateway's own errors ---------------------------------------------------

problem_is($t->request(method => 'POST', path => ADD_MEMBER,
                       headers => ['X-Request-Id: p-1'],
                       body => '{"username":"bob","role":"owner"}'),
           400, 'invalid_role', organization => 'acme', username => 'bob',
           email => undef, request_id => 'p-1',
           detail => qr/owner/);

problem_is($t->request(method => 'POST', path => ADD_MEMBER, body => '{'),
           400, 'invalid_json', organization => 'acme');

problem_is($t->request(method => 'GET', path => '/v1/organizations/a%20b/members'),
           400, 'invalid_organization', organization => undef);

problem_is($t->request(method => 'GET', path => '/v1/organizations/acme/nope'),
           404, 'route_not_supported');

{
    my $r = $t->request(method => 'PUT', path => ADD_MEMBER, body => '{}');
    problem_is($r, 405, 'method_not_allowed');
    like $r->{headers}{allow} // '', qr/\bGET\b.*\bPOST\b/,
         '405 problem: the Allow header stays';
}

# --- the upstream's errors, normalized ----------------------------------------------

$t->mock_reset;
problem_is($t->request(method => 'POST', path => ADD_MEMBER,
                       body => '{"username":"carol"}'),
           409, 'member_exists', organization => 'acme', username => 'carol',
           detail => 'user carol is already a member of organization acme');
is scalar @{ $t->upstream_requests }, 1, 'the 409 came from the upstream';

$t->mock_reset;
problem_is($t->request(method => 'DELETE',
                       path => '/v1/organizations/acme/members/dave'),
           404, 'member_not_found', username => 'dave',
           detail => 'user dave is not a member of organization acme');

$t->mock_reset;
$t->mock_script([{ status => 401, body => '{"error":"token contains an invalid number of segments"}' }]);
problem_is($t->request(method => 'GET', path => '/v1/organizations/acme/members'),
           502, 'upstream_unauthorized');

$t->mock_reset;
$t->mock_script([{ status => 400, body => '{"error":"cannot add members to personal org"}' }]);
problem_is($t->request(method => 'POST', path => '/v1/organizations/personal/members',
                       body => '{"username":"bob"}'),
           400, 'upstream_rejected');

problem_is($t->request(method => 'GET',
                       path => '/closed/v1/organizations/acme/members'),
           502, 'upstream_unavailable');

$t->mock_reset;
$t->mock_script([{ fault => 'hang' }]);
problem_is($t->request(method => 'GET', path => '/v1/organizations/acme/members'),
           504, 'upstream_timeout');

# --- nginx's own error pages ------------------------------------------------------

problem_is($t->request(method => 'POST', path => ADD_MEMBER,
                       headers => ['X-Request-Id: big'],
                       body => '{"username":"' . ('b' x 2000) . '"}'),
           413, 'body_too_large', request_id => 'big');

{
    my $h = $t->h2_request(method => 'GET', path => '/v1/organizations/acme/nope');
    is $h->{status}, 404, 'HTTP/2: 404';
    is $h->{headers}{'content-type'}, 'application/problem+json',
       'HTTP/2: application/problem+json';
    is $h->{json}{type}, 'urn:ngx-turso-members:error:route_not_supported',
       'HTTP/2: the type';
}

# --- successes are untouched ------------------------------------------------------

{
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    is $r->{status}, 200, 'a success: 200';
    is $r->{body}, '{"member":"bob","role":"member"}', 'its body';
    like $r->{headers}{'content-type'}, qr{^application/json},
         'its content type';

    $t->mock_reset;
    $t->mock_script([{ status => 200, body => '' }]);
    $r = $t->request(method => 'GET', path => '/v1/organizations/acme/members');
    is $r->{status}, 200, 'an empty success: 200';
    is $r->{body}, '{}', 'becomes {}';
    is $r->{headers}{'content-type'}, 'application/json',
       'application/json, not problem+json';
}

# --- the default shape where the format is turso -----------------------------------

{
    my $r = $t->request(method => 'POST', path => "/turso" . ADD_MEMBER,
                        body => '{"username":"bob","role":"owner"}');
    my $j = error_is $r, 400, 'invalid_role', 'turso_members_error_format turso',
                     organization => 'acme', username => 'bob';
    ok !exists $j->{type}, 'no "type"';
    my $p = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob","role":"owner"}');
    is eval { decode_json($p->{body})->{detail} }, $j->{error},
       'the problem\'s detail is the turso shape\'s error';
}

subtest 'turso_members_error_format: configuration' => sub {
    my ($code, $out) = $t->nginx_t(default_locations(
        'turso_members_error_format json;'));
    isnt $code, 0, 'an unknown format fails nginx -t';
    like $out, qr/invalid value "json"/, 'and says so' or diag $out;

    ($code, $out) = $t->nginx_t(default_locations(), http_config => '');
    is $code, 0, 'no directive: fine' or diag $out;
};

subtest 'without the directive: the turso shape' => sub {
    my $d = TursoMembers::Test->new;
    my $r = $d->request(method => 'GET', path => '/v1/organizations/acme/nope');
    error_is $r, 404, 'route_not_supported';
    is $r->{headers}{'content-type'}, 'application/json', 'application/json';
};

done_testing;
