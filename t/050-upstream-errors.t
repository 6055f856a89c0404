# Upstream errors reach the client normalized: the gateway writes the
# message from values it validated; the upstream's text never passes
# through, but is logged at info level.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

our ($mark, $access_mark);

my $t = TursoMembers::Test->new(config => default_locations(
    'proxy_read_timeout 1s;') . <<'CONF');
        location /closed/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://127.0.0.1:%%CLOSED_PORT%%$turso_members_upstream_uri;
            rewrite ^/closed(/.*)$ $1 break;
        }
        # below "info" the upstream's body is only read for a 404
        location /quiet/ {
            error_log logs/quiet.log warn;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^/quiet(/.*)$ $1 break;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

# The upstream's text must not reach the client.
sub no_upstream_text {
    my ($r, @texts) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    for my $text ('[username]', '[organizationSlug]', '<html', @texts) {
        ok index($r->{body}, $text) < 0, "no \"$text\" in the answer";
    }
}

# Adds $user to acme after the mock was scripted with @script.
sub add_scripted {
    my ($user, @script) = @_;
    $t->mock_reset;
    $main::mark = $t->log_mark;
    $main::access_mark = $t->log_mark('access.log');
    $t->mock_script(\@script) if @script;
    return $t->request(method => 'POST', path => ADD_MEMBER,
                       body => qq({"username":"$user"}));
}

subtest 'success passes untouched' => sub {
    my $r = add_scripted('bob');
    is $r->{status}, 200;
    is $r->{body}, '{"member":"bob","role":"member"}';
};

subtest '409 -> 409 member_exists' => sub {
    my $r = add_scripted('carol');       # carol is an admin of acme already
    my $j = error_is $r, 409, 'member_exists', undef,
                     organization => 'acme', username => 'carol';
    is $j->{error}, 'user carol is already a member of organization acme';
    is_deeply [ sort keys %$j ],
              [qw(code error organization request_id status username)],
              'exactly these fields';
    like $j->{request_id}, qr/^[0-9a-f]{32}$/, 'request_id is $request_id';
    no_upstream_text($r);
    like $t->error_log_since($mark),
         qr/\[info\].*is already a member of organization \[organizationSlug\]/,
         "the upstream's body is logged at info";
};

subtest '409 twice for bob: the message names bob' => sub {
    $t->mock_reset;
    $t->request(method => 'POST', path => ADD_MEMBER, body => '{"username":"bob"}');
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"bob"}');
    my $j = error_is $r, 409, 'member_exists', undef,
                     organization => 'acme', username => 'bob';
    is $j->{error}, 'user bob is already a member of organization acme';
};

subtest '409 for a name to escape: the message is JSON, the name intact' => sub {
    # quote, backslash and non-ASCII are allowed in a username
    $t->mock_reset;
    $t->mock_script([{ status => 409,
        body => '{"error":"user [username] is already a member"}' }]);
    my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                        body => '{"username":"o\\"b\\\\\\u00e9"}');
    # the harness decodes JSON text, not UTF-8: é is its two bytes here
    my $name = "o\"b\\\xc3\xa9";
    my $j = error_is $r, 409, 'member_exists', undef,
                     organization => 'acme', username => $name;
    is $j->{error}, "user $name is already a member of organization acme",
       'the message names the user as sent';
    like $r->{body}, qr/"user o\\"b\\\\\x{c3}\x{a9} is already/,
         'the quote and the backslash escaped, UTF-8 as it is';
    my $u = $t->upstream_requests;
    is $u->[0]{body}, qq({"username":"o\\"b\\\\\xc3\xa9","role":"member"}),
       'the upstream got the canonical body, escaped alike';
};

subtest '409 with an HTML body, chunked' => sub {
    my $r = add_scripted('bob', { status => 409, fault => 'chunked',
        headers => { 'Content-Type' => 'text/html' },
        body => '<html><body>Conflict: secret-upstream-text</body></html>' });
    my $j = error_is $r, 409, 'member_exists', undef,
                     organization => 'acme', username => 'bob';
    is $j->{error}, 'user bob is already a member of organization acme';
    no_upstream_text($r, 'secret-upstream-text');
};

subtest '404 could not find user -> 404 user_not_found' => sub {
    my $r = add_scripted('zed');
    error_is $r, 404, 'user_not_found', undef,
             organization => 'acme', username => 'zed';
    no_upstream_text($r);
};

subtest '404 could not find organization -> 404 organization_not_found' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => '/v1/organizations/nope/members',
                        body => '{"username":"bob"}');
    error_is $r, 404, 'organization_not_found', undef, organization => 'nope';
    no_upstream_text($r);
};

subtest 'error_log warn: the same answers, no upstream text logged' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => '/quiet' . ADD_MEMBER,
                        body => '{"username":"carol"}');
    error_is $r, 409, 'member_exists', undef,
             organization => 'acme', username => 'carol';
    is $t->upstream_requests->[0]{body}, '{"username":"carol","role":"member"}',
       'the upstream got the canonical body';
    $r = $t->request(method => 'POST', path => '/quiet/v1/organizations/nope/members',
                     body => '{"username":"bob"}');
    error_is $r, 404, 'organization_not_found', undef, organization => 'nope';
    $r = $t->request(method => 'POST', path => '/quiet' . ADD_MEMBER,
                     body => '{"username":"zed"}');
    error_is $r, 404, 'user_not_found', undef,
             organization => 'acme', username => 'zed';
    my $log = TursoMembers::Test::slurp($t->prefix . '/logs/quiet.log');
    unlike $log, qr/organizationSlug|could not find/,
           'no upstream text in the warn-level log';
};

for my $case (
    [ 'HTML', { 'Content-Type' => 'text/html' }, '<html>Not Found</html>' ],
    [ 'empty', {}, '' ],
    [ 'plain text', { 'Content-Type' => 'text/plain' }, 'secret-upstream-text' ],
    [ 'JSON without error', { 'Content-Type' => 'application/json' },
      '{"message":"secret-upstream-text"}' ],
    # a JSON error the gateway cannot attribute is the route's own 404
    [ 'JSON, unknown error', { 'Content-Type' => 'application/json' },
      '{"error":"secret-upstream-text"}', 'user_not_found' ],
)
{
    my ($what, $headers, $body, $code) = @$case;
    $code //= 'not_found';
    subtest "404 with $what body -> 404 $code" => sub {
        my $r = add_scripted('bob', { status => 404, headers => $headers,
                                      body => $body });
        error_is $r, 404, $code;
        no_upstream_text($r, 'secret-upstream-text');
    };
}

subtest '401 (wrong token) -> 502 upstream_unauthorized, logged as an error' => sub {
    my $r = add_scripted('bob', { status => 401,
        body => '{"error":"token contains an invalid number of segments"}' });
    error_is $r, 502, 'upstream_unauthorized';
    no_upstream_text($r, 'segments');
    like $t->error_log_since($mark), qr/\[error\]/, 'an [error] line';
};

subtest '403 (no rights there) -> 502 upstream_forbidden, logged as an error' => sub {
    my $r = add_scripted('bob', { status => 403,
        body => '{"error":"secret-upstream-text"}' });
    error_is $r, 502, 'upstream_forbidden';
    no_upstream_text($r, 'secret-upstream-text');
    like $t->error_log_since($mark), qr/\[error\]/, 'an [error] line';
};

for my $status (500, 502, 503, 504) {
    subtest "$status -> 502 upstream_error" => sub {
        my $r = add_scripted('bob', { status => $status,
            headers => { 'Content-Type' => 'text/html' },
            body => '<html>secret-upstream-text</html>' });
        error_is $r, 502, 'upstream_error';
        no_upstream_text($r, 'secret-upstream-text');
    };
}

subtest '400 (personal organization) -> 400 upstream_rejected' => sub {
    $t->mock_reset;
    my $mark = $t->log_mark;
    my $r = $t->request(method => 'POST', path => '/v1/organizations/personal/members',
                        body => '{"username":"bob"}');
    error_is $r, 400, 'upstream_rejected', undef, organization => 'personal';
    no_upstream_text($r, 'team organizations');
    like $t->error_log_since($mark),
         qr/\[info\].*members can only be added to team organizations/,
         "the upstream's body is logged at info";
};

subtest 'a 10 MB error body: normalized, logged truncated' => sub {
    my $r = add_scripted('bob', { status => 500,
        body => '{"error":"' . ('E' x 100_000) . '"}', size => 10_000_000 });
    error_is $r, 502, 'upstream_error';
    ok length $r->{body} < 1000, 'a short answer';
    my $log = $t->error_log_since($mark);
    like $log, qr/\[info\].*EEEE/, 'logged';
    unlike $log, qr/E{5000}/, 'the log line is truncated';
};

subtest 'a 10 MB 409 body, chunked' => sub {
    my $r = add_scripted('bob', { status => 409, fault => 'chunked',
        body => 'x', size => 10_000_000 });
    error_is $r, 409, 'member_exists';
};

subtest 'line breaks and quotes in the logged body are escaped' => sub {
    add_scripted('bob', { status => 409,
        body => qq({"error":"line1\nline2\r\n\tend"}) });
    my $log = $t->error_log_since($mark);
    like $log, qr/line1\\nline2\\r\\n\\tend/, 'logged, escaped';
    unlike $log, qr/^line2/m, 'no forged log line';
};

subtest 'a body with other control characters is not quoted' => sub {
    my $body = qq({"error":"line1\nline2\r\n\x1b[31mred\x00"});
    add_scripted('bob', { status => 409, body => $body });
    my $log = $t->error_log_since($mark);
    my $n = length $body;
    like $log, qr/upstream body: \($n bytes, not text, not quoted\)/,
         'a placeholder';
    unlike $log, qr/\x1b|\x00|line1/, 'no raw ESC or NUL in error.log';
    unlike $log, qr/^line2/m, 'no forged log line';
};

subtest 'connection refused -> 502 upstream_unavailable' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => '/closed' . ADD_MEMBER,
                        body => '{"username":"bob"}');
    error_is $r, 502, 'upstream_unavailable';
};

subtest 'upstream hangs (proxy_read_timeout 1s) -> 504 upstream_timeout' => sub {
    my $r = add_scripted('bob', { fault => 'hang' });
    error_is $r, 504, 'upstream_timeout';
};

subtest 'connection reset -> 502, JSON' => sub {
    my $r = add_scripted('bob', { fault => 'reset' });
    my $j = error_is $r, 502, $r->{json}{code} // 'upstream_unavailable';
    like $j->{code} // '', qr/^upstream_(unavailable|error)$/;
    is scalar @{ $t->upstream_requests }, 1, 'a POST is not retried';
};

subtest 'an error body cut short: no upstream text reaches the client' => sub {
    my $r = add_scripted('bob', { status => 500, fault => 'close_after_headers',
        body => 'secret-upstream-text' });
    ok index($r->{body} // '', 'secret-upstream-text') < 0, 'no upstream text'
        or diag explain $r;
    error_is $r, 502, 'upstream_error', 'a JSON 502 rather than a bare close';
};

subtest 'a slow upstream within the timeout is fine' => sub {
    my $r = add_scripted('bob', { delay_ms => 500 });
    is $r->{status}, 200;
    is $r->{body}, '{"member":"bob","role":"member"}';
};

subtest 'the token is never logged' => sub {
    # the last request's line too (the slow success: written after its
    # answer)
    $t->wait_log('access.log', qr{"POST \S+ HTTP/1\.1" 200 }, $access_mark);
    unlike $t->error_log, qr/test-token/, 'not in error.log';
    unlike $t->access_log, qr/test-token/, 'not in access.log';
};

done_testing;
