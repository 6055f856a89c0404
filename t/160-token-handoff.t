# Where the token may go: to the upstream request of a request the gateway
# validated, and nowhere else, under every nginx feature that copies,
# re-runs or redirects a request out of a gateway location (the list in
# docs/security.md, "Where the token goes").  Every location here proxies
# to one recording upstream (t/lib/TursoMembers/Spy.pm): the gateway's
# requests arrive under /v1/organizations/..., everything else under
# /other/...; each test asserts what each of them received and what the
# client got.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;
use Time::HiRes qw(sleep time);

$TursoMembers::Test::TOKEN = 'tk.HANDOFFsecret0123456789.SIGabcdef';
my $TOKEN = $TursoMembers::Test::TOKEN;

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;

sub gateway_loc {
    my ($extra, $pass) = @_;
    $pass //= 'http://spy$turso_members_upstream_uri';
    return <<"LOC";
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            $extra
            proxy_pass $pass;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
LOC
}

my $t = TursoMembers::Test->new(
    http_config => <<"HTTP",
    upstream spy { server 127.0.0.1:$SPY; keepalive 4; }
    log_format vars '\$request "\$http_authorization" "\$http_x_request_id"';
    upstream spy_retry {
        server 127.0.0.1:%%CLOSED_PORT%%;
        server 127.0.0.1:$SPY;
    }
HTTP
    config => <<'CONF'
        # what an ordinary server around a gateway has
        error_page 404 = @fallback;
        error_page 502 504 /50x.html;
        post_action @fallback;

        location = /50x.html { return 200 "<html>50x</html>"; }
        location /other/ {
            proxy_pass http://spy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location @fallback {
            rewrite ^ /other/fallback break;
            proxy_pass http://spy;
        }
        location /internal/ {
            internal;
            rewrite ^ /other/internal break;
            proxy_pass http://spy;
        }
        location = /auth {
            internal;
            rewrite ^ /other/auth break;
            proxy_pass http://spy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location /v1/organizations/ {
CONF
      . gateway_loc('mirror /other/mirror;
            auth_request /auth;
            proxy_intercept_errors on;') . <<'CONF'
        }
        location /v1/organizations/ssi/ {
CONF
      . gateway_loc('ssi on;
            ssi_types application/json;') . <<'CONF'
        }
        location /v1/organizations/plain/ {
CONF
      . gateway_loc('proxy_buffering off;', 'http://spy') . <<'CONF'
        }
        location /v1/organizations/retry/ {
CONF
      . gateway_loc('', 'http://spy_retry$turso_members_upstream_uri') . <<'CONF'
        }
        location /v1/organizations/down/ {
CONF
      . gateway_loc('',
          'http://127.0.0.1:%%CLOSED_PORT%%$turso_members_upstream_uri')
      . <<'CONF'
        }
        location /v1/organizations/tf/ {
CONF
      . gateway_loc('try_files /nonexistent @fallback;') . <<'CONF'
        }
        location /v1/organizations/rw/ {
            rewrite ^/v1/organizations/rw/members/away$ /other/rw last;
CONF
      . gateway_loc('') . <<'CONF'
        }
        location /v1/organizations/slice/ {
CONF
      . gateway_loc('slice 16;
            proxy_set_header Range $slice_range;') . <<'CONF'
        }
        location /v1/organizations/vars/ {
            access_log logs/vars.log vars;
CONF
      . gateway_loc('proxy_set_header X-Seen "$http_authorization";
            proxy_cache_key "$http_authorization";
            add_header X-Auth-Seen "$http_authorization" always;') . <<'CONF'
        }
        location /v1/organizations/add/ {
CONF
      . gateway_loc('add_before_body /other/add;
            addition_types application/json;') . <<'CONF'
        }
CONF
);

my $LIST = '/v1/organizations/acme/members';

my $workers = join(',', $t->workers);
ok $workers =~ /^\d+$/, "one worker ($workers)";

sub reset_all { $spy->reset; $t->mock_reset }

# Waits (at most 5 s) for an access log line matching $re past $mark (a
# length of the log).  nginx logs a request once its subrequests have
# ended, a mirror's too, and the spy records a request before it answers:
# once the line is there, the spy has every request the request made.  A
# mirror runs in the background, after the client has its answer: without
# this wait, the spy may not have it yet, or have one of an earlier
# request recorded since.
sub logged {
    my ($mark, $re) = @_;
    my $deadline = time + 5 * $TursoMembers::Test::TIMEOUT_FACTOR;
    until (substr($t->access_log, $mark) =~ $re) {
        if (time > $deadline) {
            diag 'the access log since: ' . substr($t->access_log, $mark);
            return 0;
        }
        sleep 0.05;
    }
    return 1;
}

sub log_length { length $t->access_log }

# The mirror requests of the request whose X-Request-Id was $id.
sub mirrors_of {
    my ($other, $id) = @_;
    return grep { $_->{path} eq '/other/mirror'
                  && ($_->{headers}{'x-request-id'}[0] // '') eq $id } @$other;
}

subtest 'the validated request gets the token, and nothing else does' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => $LIST,
                        headers => ['Authorization: Basic cG9ydGFsOnB3'],
                        );
    is $r->{status}, 200, 'answered';
    my ($gw, $other) = $spy->token_only($TOKEN, 1,
                                        'GET with mirror, auth_request');
    my @paths = sort map { $_->{path} } @$other;
    is_deeply \@paths, ['/other/auth', '/other/mirror'],
        'the auth_request and mirror subrequests did run';
    for my $o (@$other) {
        is $o->{headers}{authorization}[0], 'Basic cG9ydGFsOnB3',
           "$o->{path}: the client's own credentials, as sent";
    }
};

subtest 'every answer names the request in X-Request-Id' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => $LIST,
                        headers => ['X-Request-Id: portal-7']);
    is $r->{headers}{'x-request-id'}, 'portal-7', 'a success: the client\'s';
    my ($gw) = $spy->split;
    is $gw->[0]{headers}{'x-request-id'}[0], 'portal-7', 'and upstream';
    $r = $t->request(method => 'POST', path => $LIST, body => '{');
    like $r->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{32}$/,
         'the gateway\'s own error: the gateway\'s id';
    is $r->{headers}{'x-request-id'}, $r->{json}{request_id},
       'the one in the body';
    $r = $t->request(method => 'GET', path => "$LIST/gone404");
    is $r->{headers}{'x-request-id'}, $r->{json}{request_id},
       'an upstream error, normalized';
    $r = $t->request(method => 'GET', path => '/v1/organizations/down/members');
    is $r->{headers}{'x-request-id'}, $r->{json}{request_id},
       'nginx\'s own 502';
};

subtest 'a mirror copies the client\'s request as sent, never the token' => sub {
    # the mirror runs in the pre-content phase, before the gateway's
    # content handler: it copies what the client sent, whole
    reset_all();
    my $sent = '{"username":"bob","role":" Admin "}';
    my $mark = log_length();
    my $r = $t->request(method => 'POST', path => $LIST, body => $sent,
                        headers => ['X-Request-Id: mirror-valid']);
    is $r->{status}, 200;
    ok logged($mark, qr{"POST /v1/organizations/acme/members HTTP/1.1" 200 }),
       'logged: the mirror has ended';
    my ($gw, $other) = $spy->token_only($TOKEN, 1, 'POST');
    my @m = mirrors_of($other, 'mirror-valid');
    is scalar @m, 1, 'the mirror ran, once';
    like $m[0]{head}, qr{^POST /other/mirror }, 'a POST' if @m;
    is $m[0]{body}, $sent, 'the mirror got the client\'s body' if @m;
    is_deeply $m[0]{headers}{'content-length'}, [length $sent],
       'with its own length' if @m;
    is $gw->[0]{body}, '{"username":"bob","role":"admin"}',
       'Turso got the canonical body';

    reset_all();
    $mark = log_length();
    $sent = '{"username":"bob","role":"owner"}';
    $r = $t->request(method => 'POST', path => $LIST, body => $sent,
                     headers => ['X-Request-Id: mirror-refused']);
    error_is $r, 400, 'invalid_role';
    ok logged($mark, qr{"POST /v1/organizations/acme/members HTTP/1.1" 400 }),
       'logged';
    ($gw, $other) = $spy->split;
    is scalar(@$gw), 0, 'a refused body: nothing reached Turso';
    @m = mirrors_of($other, 'mirror-refused');
    is scalar @m, 1, 'the mirror ran';
    is $m[0]{body}, $sent, 'with the client\'s body' if @m;
    ok !grep({ index($_->{head} . $_->{body}, $TOKEN) >= 0 } @$other),
       'the mirror\'s copy has no token';
};

subtest 'HTTP/2: the same' => sub {
    reset_all();
    my $mark = log_length();
    my $r = $t->h2_request(method => 'POST', path => $LIST,
                           headers => ['Authorization: Bearer portal',
                                       'X-Request-Id: mirror-h2'],
                           body => '{"username":"carol"}');
    is $r->{status}, 200, 'answered over HTTP/2';
    ok logged($mark, qr{"POST /v1/organizations/acme/members HTTP/2.0" 200 }),
       'logged';
    my ($gw, $other) = $spy->token_only($TOKEN, 1, 'HTTP/2');
    my @m = mirrors_of($other, 'mirror-h2');
    is scalar @m, 1, 'mirrored';
    is $m[0]{body}, '{"username":"carol"}', 'the client\'s body' if @m;
};

subtest 'HTTP/1.0: the same' => sub {
    reset_all();
    my $c = $t->connect;
    $c->send_raw("GET $LIST HTTP/1.0\r\nHost: x\r\n\r\n");
    my $r = $c->read_response;
    $c->close;
    is $r->{status}, 200, 'answered over HTTP/1.0';
    $spy->token_only($TOKEN, 1, 'HTTP/1.0');
};

subtest 'HTTP/0.9: refused, the worker lives' => sub {
    reset_all();
    for (1 .. 3) {
        my $c = $t->connect;
        $c->send_raw("GET $LIST\r\n");
        my $closed = $c->closed(5);
        ok $closed, 'answered and closed';
        like $c->{buf}, qr/"code":"bad_request"/, 'a JSON error body';
        $c->close;
    }
    is join(',', $t->workers), $workers, 'the same worker';
    $spy->token_only($TOKEN, 0, 'HTTP/0.9 (auth_request ran before)');
    is $t->request(method => 'GET', path => $LIST)->{status}, 200,
       'and the next request is served';
};

subtest 'the upstream gets the gateway\'s headers, not the client\'s' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST,
        body => '{"username":"dave"}',
        headers => ['Content-Type: application/json',
                    'Content-Type: text/plain',
                    'Content-Encoding: gzip',
                    'Content-Language: de',
                    'X-HTTP-Method-Override: DELETE',
                    'X-HTTP-Method: DELETE',
                    'X-Method-Override: DELETE',
                    'X-Original-URL: /v1/organizations/acme/members/alice',
                    'X-Rewrite-URL: /v1/organizations/acme/members/alice',
                    'Upgrade: websocket',
                    'Cookie: session=portal',
                    'Proxy-Authorization: Basic eDp5',
                    'Forwarded: for=1.2.3.4',
                    'X-Forwarded-For: 1.2.3.4',
                    'Range: bytes=0-1',
                    'If-Match: *',
                    'Accept: application/json',
                    'User-Agent: portal/1']);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'many headers');
    my $h = $gw->[0]{headers};
    is_deeply [sort keys %$h],
        [sort qw(host content-length authorization x-request-id content-type
                 accept user-agent)],
        'exactly the gateway\'s headers, and Accept and User-Agent';
    is_deeply $h->{'content-type'}, ['application/json'], 'one Content-Type';
    is $gw->[0]{body}, '{"username":"dave","role":"member"}', 'the body';
    like $gw->[0]{head}, qr{^POST /v1/organizations/acme/members HTTP/1.1},
       'the method and path as validated';
};

subtest 'X-HTTP-Method-Override on an allowed GET stays a GET' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => "$LIST/bob",
                        headers => ['X-HTTP-Method-Override: DELETE']);
    is $r->{status}, 200;
    my ($gw) = $spy->split;
    like $gw->[0]{head}, qr{^GET /v1/organizations/acme/members/bob }, 'GET';
    unlike $gw->[0]{head}, qr/override/i, 'no override header';
};

# nginx 1.29.0 ("support for response code 103 from proxy and gRPC
# backends") reads an upstream 103 and goes on to the final answer (here a
# 409, normalized); before, any 1xx was an invalid upstream answer: 502.
# Either way no interim answer reaches the client (no early_hints here).
for my $mode (qw(int100 int103)) {
    subtest "an upstream $mode before its answer" => sub {
        reset_all();
        my $c = $t->connect;
        my $r = $c->request(method => 'GET', path => "$LIST/$mode");
        if ($mode eq 'int103' && nginx_at_least('1.29.0')) {
            error_is $r, 409, 'upstream_rejected';
        } else {
            error_is $r, 502, 'upstream_error';
        }
        is $r->{interim}, 0, 'no interim answer relayed';
        $r = $c->request(method => 'GET', path => $LIST);
        is $r->{status}, 200, 'the connection serves the next request';
        $c->close;
        is join(',', $t->workers), $workers, 'the same worker';
    };
}

subtest 'an upstream 101 does not make a tunnel' => sub {
    reset_all();
    my $c = $t->connect;
    my $r = $c->request(method => 'GET', path => "$LIST/int101",
                        headers => ['Upgrade: websocket',
                                    'Connection: Upgrade']);
    error_is $r, 502, 'upstream_error';
    unlike $r->{body}, qr/raw tunnel/, 'no raw bytes';

    # nothing follows the answer on its connection: no tunnel relays the
    # upstream's bytes, the next request gets an answer of its own
    $c->send_raw($c->head(method => 'GET', path => $LIST));
    my $next = $c->read_response(timeout => 3);
    is $next->{error}, undef, 'the next request: an answer'
        or diag explain $next;
    is $next->{status}, 200, 'a 200';
    is $next->{body}, '{"members":[]}', 'its own body';
    ok !$c->closed(0.3) && $c->{buf} eq '', 'and nothing after it';
    $c->close;
    my ($gw) = $spy->split;
    is scalar(@$gw), 2, 'two requests reached Turso';
    ok !exists $gw->[0]{headers}{upgrade}, 'no Upgrade went upstream';
    unlike $gw->[1]{head}, qr/raw tunnel/, 'the second one as sent';
};

for my $mode (qw(xaccel xaccelnamed)) {
    subtest "X-Accel-Redirect ($mode) is not followed" => sub {
        reset_all();
        my $r = $t->request(method => 'GET', path => "$LIST/$mode");
        error_is $r, 502, 'upstream_error';
        ok !exists $r->{headers}{'set-cookie'}, 'no header of the upstream';
        my ($gw, $other) = $spy->token_only($TOKEN, 1, $mode);
        ok !grep({ $_->{path} =~ m{internal|fallback} } @$other),
           'the redirect target was never asked';
    };
}

subtest 'proxy_intercept_errors + an inherited error_page 404' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => "$LIST/gone404");
    error_is $r, 404, 'member_not_found';
    my ($gw, $other) = $spy->token_only($TOKEN, 1, 'intercepted 404');
    ok !grep({ $_->{path} =~ /fallback/ } @$other),
       'no fallback, no post_action';
};

subtest 'an inherited error_page 502 does not turn the JSON into HTML' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/down/members');
    error_is $r, 502, 'upstream_unavailable';
    unlike $r->{body}, qr/html/, 'no HTML';
};

subtest 'cut short, buffered and not' => sub {
    for my $case (["$LIST/cut409", 'buffered'],
                  ["$LIST/nobuf409", 'X-Accel-Buffering: no'],
                  ['/v1/organizations/plain/members/cut409',
                   'proxy_buffering off'])
    {
        reset_all();
        my ($path, $what) = @$case;
        my $mark = $t->log_mark;
        my $r = $t->request(method => 'GET', path => $path);
        error_is $r, 409, 'upstream_rejected', "$what: answered";
        like $t->error_log_since($mark), qr/upstream failed while sending/,
             "$what: logged";
    }
    # the last one's line too (written after its answer; one worker)
    my @log = grep { m{/cut409|/nobuf409} } split /\n/,
              $t->wait_log('access.log', qr{/plain/members/cut409 });
    ok !grep({ / 200 / } @log), 'no 200 in the access log';
};

subtest 'proxy_buffering off: a success streams as usual' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/plain/members');
    is $r->{status}, 200;
    is $r->{body}, '{"members":[]}';
    $spy->token_only($TOKEN, 1, 'unbuffered');
};

subtest 'plain proxy_pass: the path goes percent-encoded' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/plain/members/b%C3%B8b');
    is $r->{status}, 200;
    my ($gw) = $spy->split;
    like $gw->[0]{head}, qr{^GET /v1/organizations/plain/members/b%C3%B8b },
         'encoded, as with $turso_members_upstream_uri';
    $spy->reset;
    $r = $t->request(method => 'GET', path => "$LIST/b%C3%B8b");
    ($gw) = $spy->split;
    like $gw->[0]{head}, qr{^GET /v1/organizations/acme/members/b%C3%B8b },
         'the variable form';
};

subtest 'proxy_next_upstream: the retry is the same validated request' => sub {
    reset_all();
    my $r = $t->request(method => 'POST',
                        path => '/v1/organizations/retry/members',
                        body => '{"username":"erin"}');
    is $r->{status}, 200, 'answered by the second server';
    my ($gw) = $spy->token_only($TOKEN, 1, 'retried');
    is $gw->[0]{body}, '{"username":"erin","role":"member"}';
};

subtest 'try_files before the gateway: what it sends away gets no token' => sub {
    # like a rewrite, try_files runs before the gateway's content handler
    reset_all();
    my $r = $t->request(method => 'GET', path => '/v1/organizations/tf/members');
    is $r->{status}, 200, 'the fallback answered';
    my ($gw, $other) = $spy->token_only($TOKEN, 0, 'try_files');
    is scalar(@$gw), 0, 'nothing reached Turso';
    is $other->[0]{path}, '/other/fallback', 'the fallback got it';
};

subtest 'rewrite ... last before the gateway: no token' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/rw/members/away');
    is $r->{status}, 200, 'the other location answered';
    my ($gw, $other) = $spy->token_only($TOKEN, 0, 'rewritten away');
    is $other->[0]{path}, '/other/rw', 'it went where the rewrite said';
};

subtest 'SSI and addition subrequests: no token' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/ssi/members/ssi');
    is $r->{status}, 200;
    is $r->{body}, '{"members":["ok"]}', 'the include ran';
    $spy->token_only($TOKEN, 1, 'ssi');
    reset_all();
    $r = $t->request(method => 'GET', path => '/v1/organizations/add/members');
    is $r->{status}, 200;
    my ($gw, $other) = $spy->token_only($TOKEN, 1, 'addition');
    ok scalar(grep { $_->{path} eq '/other/add' } @$other), 'added';
};

subtest 'slice: its clone subrequests are refused, no token' => sub {
    reset_all();
    my $mark = $t->log_mark;
    my $c = $t->connect;
    my $r = $c->request(method => 'GET',
                        path => '/v1/organizations/slice/members/part');
    $c->close;
    my ($gw) = $spy->token_only($TOKEN, 1, 'slice');
    is scalar(@$gw), 1, 'one request upstream: the clone never went';
    like $t->error_log_since($mark), qr/a subrequest .* refused/,
         'the clone was refused';
    is join(',', $t->workers), $workers, 'the same worker';
};

subtest '$http_authorization evaluated while the upstream request is built' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => '/v1/organizations/vars/members',
                        headers => ['Authorization: Basic cG9ydGFsOnB3']);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'proxy_set_header of the variable');
    ok !exists $gw->[0]{headers}{'x-seen'}, 'it read nothing then';
    ok index(join(' ', values %{ $r->{headers} }), $TOKEN) < 0,
       'add_header: the token is not in the answer';
    # written after the answer
    my $log = $t->wait_log('vars.log', qr/\n/);
    ok length $log, 'logged';
    ok index($log, $TOKEN) < 0, 'the token is not in the log' or diag $log;
};

subtest 'a success cut before its first byte: the gateway\'s 502' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => "$LIST/cut200");
    error_is $r, 502, 'upstream_error';
    is join(',', $t->workers), $workers, 'the same worker';
};

subtest 'nginx\'s redirect to the location with a slash: a JSON 404' => sub {
    reset_all();
    my $r = $t->request(method => 'GET', path => '/v1/organizations');
    error_is $r, 404, 'route_not_supported';
    ok !exists $r->{headers}{location}, 'no Location';
};

subtest 'a chunked body over the cap: 413 while the client still sends' => sub {
    reset_all();
    my $mark = log_length();
    my $c = $t->connect;
    $c->send_raw($c->head(method => 'POST', path => $LIST, chunked => 1,
                          headers => ['X-Request-Id: mirror-413']));
    # 20 KiB of a 16 KiB cap, and no last chunk: the client is not done
    $c->send_raw(sprintf("%x\r\n%s\r\n", 4096, 'x' x 4096)) for 1 .. 5;
    my $r = $c->read_response(timeout => 5);
    error_is $r, 413, 'body_too_large';
    $c->close;
    ok logged($mark, qr{"POST /v1/organizations/acme/members HTTP/1.1" 413 }),
       'logged';
    my ($gw, $other) = $spy->split;
    is scalar(@$gw), 0, 'nothing reached Turso';
    is scalar(mirrors_of($other, 'mirror-413')), 0, 'nor the mirror';
};

# --- configurations refused ------------------------------------------------

subtest 'nginx -t: error_page and post_action in a gateway location' => sub {
    for my $d ('error_page 404 = @fallback;', 'post_action @fallback;') {
        my ($name) = $d =~ /^(\w+)/;
        my ($code, $out) = $t->nginx_t(<<"CONF");
        location \@fallback { return 204; }
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            $d
            proxy_pass http://turso_api;
        }
CONF
        isnt $code, 0, "$name: refused";
        like $out, qr/\[emerg\] "$name" cannot be used in a "turso_members" location/,
             "$name: says why";
    }
    my ($code, $out) = $t->nginx_t(<<'CONF');
        error_page 404 /404.html;
        post_action @fallback;
        location @fallback { return 204; }
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_api;
        }
CONF
    is $code, 0, 'inherited ones are accepted (and do not apply)' or diag $out;
};

is join(',', $t->workers), $workers, 'no worker died in this file';

done_testing;
