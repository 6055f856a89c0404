# The gateway as its location's content handler (put in front of
# proxy_pass's at configuration time): what runs before it (rewrite, if,
# limit_except, auth_request, try_files, mirror), what it inherits
# (nested locations, if blocks), how nginx's own limit holds the body to
# turso_members_max_body_size, and what can or cannot take a request it
# has (X-Accel-Redirect, SSI).  Every location proxies to one recording
# upstream (t/lib/TursoMembers/Spy.pm), directly or through a "fake"
# server of this nginx that adds X-Accel-Redirect or returns SSI; each
# subtest asserts what the client got AND what every upstream request
# carried: the token in exactly the validated requests, nowhere else.
#
# Subtests marked "Found by the attack" failed before their fix (the
# attack on the build with fresh eyes, /work/notes of the session).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;
use Time::HiRes qw(sleep time);

$TursoMembers::Test::TOKEN = 'tk.CONTENThandler0123456789.SIGfedcba';
my $TOKEN = $TursoMembers::Test::TOKEN;

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;
my $FAKE = free_port();
my $FAKE2 = free_port();

sub gw {
    my ($extra, $pass) = @_;
    $pass //= 'http://spy$turso_members_upstream_uri';
    my $p = length $pass ? "proxy_pass $pass;" : '';
    return <<"LOC";
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            $extra
            $p
            proxy_http_version 1.1;
            proxy_set_header Connection "";
LOC
}

my $t = TursoMembers::Test->new(
    http_config => <<"HTTP",
    upstream spy { server 127.0.0.1:$SPY; keepalive 4; }
    upstream dead { server 127.0.0.1:%%CLOSED_PORT%% down; }
    upstream spy_alt { server 127.0.0.1:$FAKE2; }

    map \$uri \$fake_xa {
        ~/xagw\$     /v1/organizations/acme/members;
        ~/xanamed\$  \@gw;
        default     "";
    }

    # the upstream of an "if" block's own proxy_pass: marks what it relays
    server {
        listen 127.0.0.1:$FAKE2;
        location / {
            proxy_pass http://spy;
            proxy_set_header X-Via-If 1;
        }
    }

    # a "Turso" that redirects or answers with SSI: it relays to the spy
    # (which records what the gateway sent) and adds X-Accel-Redirect
    server {
        listen 127.0.0.1:$FAKE;
        location / {
            proxy_pass http://spy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Accel-Redirect \$fake_xa always;
        }
        location ~ /ssiinc\$ {
            default_type application/json;
            return 200 '{"members":[<!--# include virtual="/v1/organizations/acme/members" -->]}';
        }
    }
HTTP
    config => <<'CONF'
        location /other/ {
            proxy_pass http://spy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /auth {
            internal;
            rewrite ^ /other/auth break;
            proxy_pass http://spy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location /mirror-nobody {
            internal;
            rewrite ^ /other/mirror-nobody break;
            proxy_pass http://spy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        # the main gateway: if, limit_except, auth_request
        location /v1/organizations/ {
CONF
      . gw('auth_request /auth;
            if ($http_x_return) { return 418; }
            if ($http_x_set) { set $x 1; }
            if ($http_x_alt) {
                proxy_pass http://spy_alt$turso_members_upstream_uri;
            }') . <<'CONF'
        }
        location /v1/organizations/la/ {
CONF
      . gw('limit_except GET { allow 127.0.0.1; deny all; }') . <<'CONF'
        }
        location /v1/organizations/lx/ {
CONF
      . gw('limit_except GET { deny all; }') . <<'CONF'
        }

        # a nested location inherits "turso_members on", not proxy_pass
        location /v1/organizations/nest/ {
CONF
      . gw('location ~ ^/v1/organizations/nest/members/nested$ { }
            location ~ ^/v1/organizations/nest/members/nestedpass$ {
                proxy_pass http://spy$turso_members_upstream_uri;
                proxy_set_header X-Nested 1;
            }') . <<'CONF'
        }

        # mirror without the body, before the gateway
        location /v1/organizations/mnb/ {
CONF
      . gw('mirror /mirror-nobody;
            mirror_request_body off;') . <<'CONF'
        }

        # nginx's limit: larger and smaller client_max_body_size
        location /v1/organizations/big/ {
CONF
      . gw('client_max_body_size 10m;') . <<'CONF'
        }
        location /v1/organizations/small/ {
CONF
      . gw('client_max_body_size 1k;') . <<'CONF'
        }

        # not a gateway: try_files hands over to a named gateway location
        location /v1/organizations/tfgw/ {
            client_max_body_size 0;
            try_files /nonexistent @gw;
        }
        location @gw {
CONF
      . gw('') . <<'CONF'
        }

        # CORS: a Turso that refuses the connection (nothing listens)
        location /v1/organizations/corsdown/ {
CONF
      . gw('turso_members_cors_origins http://portal.example;',
           'http://127.0.0.1:%%CLOSED_PORT%%$turso_members_upstream_uri')
      . <<'CONF'
        }
        location /v1/organizations/corsdead/ {
CONF
      . gw('turso_members_cors_origins http://portal.example;',
           'http://dead$turso_members_upstream_uri')
      . <<'CONF'
        }
        location /v1/organizations/corsok/ {
CONF
      . gw('turso_members_cors_origins http://portal.example;') . <<'CONF'
        }

        # proxy_set_header with client header variables
        location /v1/organizations/vars/ {
CONF
      . gw('proxy_set_header X-V-Host $http_host;
            proxy_set_header X-V-Cookie $http_cookie;
            proxy_set_header X-V-Referer $http_referer;
            proxy_set_header X-V-Xff $http_x_forwarded_for;
            proxy_set_header X-V-Foo $http_x_foo;
            proxy_set_header X-V-Auth $http_authorization;
            proxy_set_header X-V-Type $http_content_type;
            proxy_set_header X-V-Request $request_uri;') . <<'CONF'
        }

        # the upstream is the fake server: X-Accel-Redirect, SSI
        location /v1/organizations/xa/ {
CONF
      . gw('', "http://127.0.0.1:$FAKE\$turso_members_upstream_uri")
      . <<'CONF'
        }
        location /v1/organizations/ssi/ {
CONF
      . gw('ssi on;
            ssi_types application/json;',
           "http://127.0.0.1:$FAKE\$turso_members_upstream_uri")
      . <<'CONF'
        }
CONF
);

my $workers = join(',', $t->workers);
ok $workers =~ /^\d+$/, "one worker ($workers)";

sub no_token_in_answer {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $all = join "\n", map { "$_->[0]: $_->[1]" } @{ $r->{header_list} || [] };
    ok index($all . ($r->{body} // ''), $TOKEN) < 0,
       "$name: no token in the answer";
}

my $LIST = '/v1/organizations/acme/members';


my $BOB = '{"username":"bob"}';
my $BOB_CANON = '{"username":"bob","role":"member"}';

sub reset_all { $spy->reset }

# A JSON error of the gateway's shape, whatever its code.
sub json_error {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    like $r->{headers}{'content-type'} // '', qr{^application/json},
         "$name: JSON";
    ok ref $r->{json} eq 'HASH' && defined $r->{json}{code}
       && $r->{json}{status} == $r->{status},
       "$name: the gateway's error shape" or diag $r->{body};
}

# Sends a request head alone (its body never comes) and reads what nginx
# answers within $secs: an answer that needs no body is there by then.
sub head_only {
    my ($head, $secs) = @_;
    my $c = $t->connect;
    $c->send_raw($head);
    my $r = $c->read_response(timeout => $secs // 2);
    $c->close;
    return $r;
}

# --- what runs before the gateway ------------------------------------------

subtest 'auth_request with a POST body: the client\'s headers, no body, no token' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST, body => $BOB,
                        headers => ['Authorization: Basic cG9ydGFsOnB3']);
    is $r->{status}, 200, 'answered';
    no_token_in_answer($r, 'auth_request');
    my ($gw, $other) = $spy->token_only($TOKEN, 1, 'auth_request');
    is $gw->[0]{body}, $BOB_CANON, 'Turso got the canonical body';
    my ($a) = grep { $_->{path} eq '/other/auth' } @$other;
    ok $a, 'the auth subrequest ran';
    is $a->{body}, '', 'without the body' if $a;
    is $a->{headers}{authorization}[0], 'Basic cG9ydGFsOnB3',
       'with the client\'s own credentials' if $a;
};

subtest 'variables during the hand-off: which read the client\'s' => sub {
    reset_all();
    my $path = '/v1/organizations/vars/members/b%3Bb?role=owner';
    my $r = $t->request(method => 'GET', path => $path,
                        headers => ['Host: client.example',
                                    'Cookie: sess=abc',
                                    'Referer: http://r.example/',
                                    'X-Forwarded-For: 192.0.2.1',
                                    'X-Foo: foo',
                                    'Authorization: Basic cG9ydGFsOnB3',
                                    'Content-Type: text/plain']);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'proxy_set_header variables');
    my $h = $gw->[0]{headers};
    my %v = map { $_ => $h->{"x-v-$_"} ? $h->{"x-v-$_"}[0] : 'absent' }
            qw(host cookie referer xff foo auth type request);
    is_deeply \%v, {
        host => 'client.example', cookie => 'sess=abc',
        referer => 'http://r.example/', xff => '192.0.2.1',
        foo => 'absent', auth => 'absent', type => 'absent',
        request => '/v1/organizations/vars/members/b%3Bb',
    }, 'nginx\'s own fields read the client\'s; the list\'s headers read '
       . 'empty, the token too; $request_uri is the upstream path'
        or diag explain \%v;
    is $gw->[0]{path}, '/v1/organizations/vars/members/b%3Bb',
       'the upstream path: escaped, no arguments';
    is_deeply $h->{authorization}, ["Bearer $TOKEN"], 'one Authorization';
};

subtest 'if: return runs before the gateway, a JSON error, nothing upstream' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST, body => $BOB,
                        headers => ['X-Return: 1']);
    json_error($r, 'return 418 in an if');
    my ($gw) = $spy->token_only($TOKEN, 0, 'if return');
};

subtest 'if with a set: the location\'s gateway runs as usual' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST, body => $BOB,
                        headers => ['X-Set: 1']);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'if set');
    is $gw->[0]{body}, $BOB_CANON, 'the canonical body';
};

subtest 'if with its own proxy_pass: the gateway is in front of it too' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST, body => $BOB,
                        headers => ['X-Alt: 1']);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'if proxy_pass');
    is $gw->[0]{headers}{'x-via-if'}[0], '1', 'through the if\'s proxy_pass';
    is $gw->[0]{body}, $BOB_CANON, 'the canonical body';

    reset_all();
    $r = $t->request(method => 'POST', path => $LIST,
                     body => '{"username":"bob","role":"owner"}',
                     headers => ['X-Alt: 1']);
    error_is $r, 400, 'invalid_role';
    $spy->token_only($TOKEN, 0, 'if proxy_pass, refused body');
};

subtest 'limit_except: a denied method is a JSON 403, an allowed one validated' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => '/v1/organizations/lx/members',
                        body => $BOB);
    error_is $r, 403, 'forbidden';
    $spy->token_only($TOKEN, 0, 'limit_except deny');

    reset_all();
    $r = $t->request(method => 'POST', path => '/v1/organizations/la/members',
                     body => $BOB);
    is $r->{status}, 200, 'allowed by limit_except\'s allow';
    my ($gw) = $spy->token_only($TOKEN, 1, 'limit_except allow');
    is $gw->[0]{body}, $BOB_CANON, 'the canonical body';

    reset_all();
    $r = $t->request(method => 'POST', path => '/v1/organizations/la/members',
                     body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role', 'limit_except allow: still validated';
    $spy->token_only($TOKEN, 0, 'limit_except allow, refused body');
};

subtest 'mirror without the body: the client\'s headers, never the token' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => '/v1/organizations/mnb/members',
                        body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role';
    my ($gw, $other) = $spy->token_only($TOKEN, 0, 'mirror, refused body');
    ok scalar(grep { $_->{path} eq '/other/mirror-nobody' } @$other),
       'the mirror ran';

    reset_all();
    $r = $t->request(method => 'POST', path => '/v1/organizations/mnb/members',
                     body => $BOB);
    is $r->{status}, 200;
    ($gw, $other) = $spy->token_only($TOKEN, 1, 'mirror, valid body');
    is $gw->[0]{body}, $BOB_CANON, 'Turso got the canonical body';
};

subtest 'try_files to a named gateway location: validated there, with the token' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => '/v1/organizations/tfgw/members',
                        body => $BOB);
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'try_files @gw');
    is $gw->[0]{body}, $BOB_CANON, 'the canonical body';

    reset_all();
    $r = $t->request(method => 'POST', path => '/v1/organizations/tfgw/members',
                     body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role';
    $spy->token_only($TOKEN, 0, 'try_files @gw, refused body');
};

# --- nested locations -------------------------------------------------------

subtest 'a nested location with its own proxy_pass is a gateway' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/nest/members/nestedpass');
    is $r->{status}, 200;
    my ($gw) = $spy->token_only($TOKEN, 1, 'nested with proxy_pass');
    is $gw->[0]{headers}{'x-nested'}[0], '1', 'through its own proxy_pass';
};

subtest 'a nested location without proxy_pass: a JSON 500, nothing upstream' => sub {
    # it inherits "turso_members on" but not proxy_pass: the gateway has
    # nothing to hand a validated request to
    reset_all();
    my $mark = $t->log_mark;
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/nest/members/nested');
    error_is $r, 500, 'internal_error';
    $spy->token_only($TOKEN, 0, 'nested without proxy_pass');
    like $t->error_log_since($mark), qr/the location has no "proxy_pass"/,
         'logged';
};

# --- the body cap: nginx's client_max_body_size ----------------------------

subtest 'Content-Length over the cap: 413 at once, whatever client_max_body_size says' => sub {
    for my $case (['/v1/organizations/big/members', 20000, '10m in the location'],
                  ['/v1/organizations/small/members', 2000, '1k in the location'],
                  [$LIST, 20000, 'the default'])
    {
        my ($path, $len, $what) = @$case;
        reset_all();
        my $r = head_only("POST $path HTTP/1.1\r\nHost: x\r\n"
                          . "Content-Length: $len\r\n\r\n");
        error_is $r, 413, 'body_too_large', "$what: 413 before the body";
        $spy->token_only($TOKEN, 0, $what);
    }
};

subtest 'Expect: 100-continue over the cap: 413, no 100 Continue' => sub {
    reset_all();
    my $r = head_only("POST $LIST HTTP/1.1\r\nHost: x\r\nContent-Length: "
                      . "20000\r\nExpect: 100-continue\r\n\r\n");
    error_is $r, 413, 'body_too_large';
    is $r->{interim}, 0, 'no 100 Continue';
    $spy->token_only($TOKEN, 0, 'expect');
};

subtest 'HTTP/2: a body over the cap, with and without a length' => sub {
    reset_all();
    my $r = $t->h2_request(method => 'POST', path => $LIST,
                           body => 'x' x 40000,
                           headers => ['Transfer-Encoding: chunked']);
    error_is $r, 413, 'body_too_large', 'no length';
    $r = $t->h2_request(method => 'POST', path => $LIST, body => 'x' x 40000,
                        client => 'node');
    error_is $r, 413, 'body_too_large', 'with its length';
    $spy->token_only($TOKEN, 0, 'HTTP/2 over the cap');
};

subtest 'chunked, HTTP/1.0: the canonical body with its own length' => sub {
    reset_all();
    my $r = $t->request(method => 'POST', path => $LIST,
                        chunked => ['{"usern', 'ame":"bob"}']);
    is $r->{status}, 200, 'chunked';
    my ($gw) = $spy->token_only($TOKEN, 1, 'chunked');
    is $gw->[0]{body}, $BOB_CANON, 'canonical';
    is $gw->[0]{headers}{'content-length'}[0], length $BOB_CANON,
       'its own Content-Length';
    ok !exists $gw->[0]{headers}{'transfer-encoding'}, 'not chunked';

    reset_all();
    my $c = $t->connect;
    $c->send_raw("POST $LIST HTTP/1.0\r\nHost: x\r\nContent-Length: "
                 . length($BOB) . "\r\n\r\n$BOB");
    $r = $c->read_response(timeout => 3);
    $c->close;
    is $r->{status}, 200, 'HTTP/1.0';
    ($gw) = $spy->token_only($TOKEN, 1, 'HTTP/1.0');
    is $gw->[0]{body}, $BOB_CANON, 'canonical';
};

# --- what cannot take a request the gateway has ----------------------------

for my $case (['xagw', 'to a gateway location'], ['xanamed', 'to a named gateway location']) {
    my ($mode, $what) = @$case;
    subtest "X-Accel-Redirect $what: refused, the target never runs" => sub {
        reset_all();
        my $r = $t->request(method => 'GET',
                            path => "/v1/organizations/xa/members/$mode");
        error_is $r, 502, 'upstream_error';
        no_token_in_answer($r, $mode);
        ok !exists $r->{headers}{'x-accel-redirect'}, 'no X-Accel-Redirect';
        my ($gw) = $spy->token_only($TOKEN, 1, $mode);
        like $gw->[0]{head}, qr{^GET /v1/organizations/xa/members/$mode },
             'only the validated request went';
    };
}

subtest 'pipelined: after a refused body, and after a refused X-Accel-Redirect' => sub {
    reset_all();
    my $c = $t->connect;
    # a body the gateway refuses, then a request, then a redirecting upstream
    $c->send_raw("POST $LIST HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                 . "{\"a\":"
                 . "GET $LIST/pipe HTTP/1.1\r\nHost: x\r\n\r\n"
                 . "GET /v1/organizations/xa/members/xagw HTTP/1.1\r\nHost: x"
                 . "\r\n\r\n"
                 . "GET $LIST/after HTTP/1.1\r\nHost: x\r\n\r\n");
    my @r = map { $c->read_response(timeout => 3) } 1 .. 3;
    my $closed = $c->closed(2);
    $c->close;
    error_is $r[0], 400, 'invalid_json', 'the refused body';
    is $r[1]{status}, 200, 'the next request, judged on its own';
    error_is $r[2], 502, 'upstream_error', 'the redirecting upstream';
    # nginx refuses the redirect with a 500, which closes the connection:
    # the 4th request is never read, and the answer says so
    is lc($r[2]{headers}{connection} // ''), 'close',
       'the refused redirect closes the connection, and says so';
    ok $closed, 'closed';
    my ($gw) = $spy->token_only($TOKEN, 2, 'pipelined');
    is_deeply [map { $_->{path} } @$gw],
              ["$LIST/pipe", '/v1/organizations/xa/members/xagw'],
              'the refused body and the unread 4th never went';
};

subtest 'an SSI include into a gateway location: refused, never upstream' => sub {
    reset_all();
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/ssi/members/ssiinc');
    is $r->{status}, 200, 'the page';
    like $r->{body}, qr/"code":"forbidden"/, 'the include was refused';
    no_token_in_answer($r, 'ssi');
    $spy->token_only($TOKEN, 0, 'ssi include into the gateway');
};

# --- CORS on nginx's own errors ---------------------------------------------

my $ORIGIN = 'http://portal.example';

subtest 'CORS: an upstream error, refused connection: the CORS headers' => sub {
    for my $p ('/v1/organizations/corsok/members/gone404',
               '/v1/organizations/corsdown/members')
    {
        my $r = $t->request(method => 'GET', path => $p,
                            headers => ["Origin: $ORIGIN"]);
        ok $r->{status} >= 400, "$p: an error";
        is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
           "$p: Access-Control-Allow-Origin";
    }
};

subtest 'CORS: nginx\'s 502 for "no live upstreams" carries the CORS headers' => sub {
    # Found by the attack: nginx answers "no live upstreams" (all servers down or at
    # max_conns) synchronously, inside proxy_pass's handler, that is while
    # the gateway's upstream header list is swapped into r->headers_in; the
    # CORS header filter looks for the client's Origin there, does not find
    # it, and the 502 goes out without Access-Control-Allow-Origin: the
    # portal's page cannot read the error.  docs/directives.md
    # (turso_members_cors_origins): "Every answer to a listed origin ...
    # nginx's own error pages — carries Access-Control-Allow-Origin".
    reset_all();
    my $r = $t->request(method => 'GET', path => '/v1/organizations/corsdead/members',
                        headers => ["Origin: $ORIGIN"]);
    error_is $r, 502, 'upstream_unavailable';
    is $r->{headers}{'access-control-allow-origin'}, $ORIGIN,
       'Access-Control-Allow-Origin';
    is $r->{headers}{'access-control-allow-credentials'}, 'true',
       'Access-Control-Allow-Credentials';
    $spy->token_only($TOKEN, 0, 'no live upstreams');
};

# --- the cap where nginx's Content-Length check does not run --------------

subtest 'a named gateway location: Content-Length over the cap, 413 at once' => sub {
    # Found by the attack: nginx compares Content-Length with client_max_body_size when
    # it finds a location by its URI (find-config phase), not when a request
    # enters a named location (try_files ... @gw, error_page ... @gw, an
    # X-Accel-Redirect to @gw from another location).  The gateway no
    # longer checks the length itself, so a request that reaches a named
    # gateway location from a location with a larger (here unlimited)
    # client_max_body_size has its whole body read -- after a 100 Continue
    # -- before the 413.  docs/directives.md (turso_members_max_body_size):
    # "answered with 413 body_too_large at once, before any handler and
    # without reading the body".
    reset_all();
    my $r = head_only("POST /v1/organizations/tfgw/members HTTP/1.1\r\n"
                      . "Host: x\r\nContent-Length: 1000000\r\n\r\n");
    error_is $r, 413, 'body_too_large', 'answered before the body';

    $r = head_only("POST /v1/organizations/tfgw/members HTTP/1.1\r\nHost: x"
                   . "\r\nContent-Length: 20000\r\nExpect: 100-continue\r\n\r\n");
    is $r->{interim}, 0, 'Expect: no 100 Continue for a body over the cap';
    error_is $r, 413, 'body_too_large', 'Expect: 413';
    $spy->token_only($TOKEN, 0, 'named location over the cap');
};

subtest 'turso_members_max_body_size 0: no body at all' => sub {
    # Found by the attack: the cap is enforced by lowering client_max_body_size, for
    # which 0 means "no limit": with turso_members_max_body_size 0 nginx
    # reads a body of any size (to a temporary file), by Content-Length or
    # chunked, and only then does the gateway answer 413.  Either
    # "nginx -t" refuses 0, or 0 means what it says: every body over 0
    # bytes refused at once (Content-Length) or as soon as it arrives
    # (chunked).
    my $zero = <<"CONF";
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_max_body_size 0;
            proxy_pass http://127.0.0.1:$SPY\$turso_members_upstream_uri;
        }
CONF
    # 0 means no body: nginx's limit is 1 there, the handler refuses it
    my $z = TursoMembers::Test->new(config => $zero);
    reset_all();
    my $c = $z->connect;
    $c->send_raw("POST $LIST HTTP/1.1\r\nHost: x\r\n"
                 . "Content-Length: 1000000\r\n\r\n");
    my $r = $c->read_response(timeout => 2);
    $c->close;
    error_is $r, 413, 'body_too_large', 'Content-Length: 413 at once';

    $c = $z->connect;
    $c->send_raw("POST $LIST HTTP/1.1\r\nHost: x\r\n"
                 . "Transfer-Encoding: chunked\r\n\r\n");
    # 20 KiB and no last chunk: the client is not done
    $c->send_raw(sprintf("%x\r\n%s\r\n", 4096, 'x' x 4096)) for 1 .. 5;
    $r = $c->read_response(timeout => 2);
    $c->close;
    error_is $r, 413, 'body_too_large', 'chunked: 413 while it arrives';

    is $z->request(method => 'GET', path => $LIST)->{status}, 200,
       'a request without a body goes through';
    my ($gw) = $spy->split;
    is scalar(@$gw), 1, 'only that one reached Turso';
    $z->stop;
};

subtest 'a gateway location without proxy_pass: refused by nginx -t, or a JSON 500' => sub {
    # Not documented: a "turso_members on" location without proxy_pass (or
    # a nested one that inherits it) validates and then answers 500; pinned
    # here so that neither a static file nor the token ever goes out
    my $nopass = <<'CONF';
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
        }
CONF
    my ($code) = $t->nginx_t($nopass);
    if ($code != 0) {
        pass 'refused by nginx -t';
        return;
    }
    my $n = TursoMembers::Test->new(config => $nopass);
    my $r = $n->request(method => 'POST', path => $LIST, body => $BOB);
    error_is $r, 500, 'internal_error';
    no_token_in_answer($r, 'no proxy_pass');
    $n->stop;
};

is join(',', $t->workers), $workers, 'no worker died in this file';

done_testing;
