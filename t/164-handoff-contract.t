# The hand-off as one contract (ngx_turso_members_upstream.c): the
# gateway's headers, path and no arguments are in the request only while
# proxy_pass's handler builds the upstream request; before and after,
# every variable reads the client's values; and an upstream request that
# nginx would build after that call (a proxy_cache lock) is never built:
# the client gets the JSON 500, the error log an alert.  Every location
# proxies to one recording upstream (t/lib/TursoMembers/Spy.pm); each test
# asserts what it received, what the client got and what was logged.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;
use Time::HiRes qw(sleep time);

$TursoMembers::Test::TOKEN = 'tk.CONTRACTsecret0123456789.SIGabcdef';
my $TOKEN = $TursoMembers::Test::TOKEN;
my $BASIC = 'Basic cG9ydGFsOnB3';

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;

sub gw {
    my ($extra) = @_;
    return <<"LOC";
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            $extra
            proxy_pass http://spy\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
LOC
}

# what the upstream request gets from the variables, and what the log reads
my $VARS = 'proxy_set_header X-CT "$http_content_type";
            proxy_set_header X-Auth "$http_authorization";
            proxy_set_header X-UA "$http_user_agent";
            proxy_set_header X-Id "$http_x_request_id";
            proxy_set_header X-Args "$args|$arg_x|$is_args";
            proxy_set_header X-Uri "$request_uri";';

# nginx -t refuses proxy_cache in a gateway location from nginx 1.29.4
# (t/175-newer-nginx.t): the deferred build is tested before that
my $CACHE = !nginx_at_least('1.29.4');

# proxy_cache with a lock: a second request waits for the first, and nginx
# would build its upstream request after the call
my $CACHE_LOC = "        location /v1/organizations/cache/ {\n"
                . gw('proxy_cache gwcache;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 300ms;
            proxy_cache_valid 200 1m;') . "        }\n";

my $t = TursoMembers::Test->new(
    # the cache lock subtest's, which it asserts
    alerts => qr/turso_members: the upstream request would be built after/,
    http_config => <<"HTTP",
    upstream spy { server 127.0.0.1:$SPY; keepalive 4; }
    log_format hv '"\$http_content_type" "\$http_authorization" '
                  '"\$http_user_agent" "\$http_x_request_id" '
                  '"\$request_uri" "\$args" "\$arg_x" "\$is_args"';
    proxy_cache_path %%PREFIX%%/cache keys_zone=gwcache:1m;
HTTP
    config => <<'CONF'
        # the variables read during the call only
        location /v1/organizations/during/ {
            access_log logs/during.log hv;
CONF
      . gw($VARS) . <<'CONF'
        }

        # the same variables read before the call too ("set", rewrite
        # phase), so that nginx has their values cached by then
        location /v1/organizations/before/ {
            access_log logs/before.log hv;
            set $a "$http_content_type$http_authorization$http_x_request_id";
            set $b "$request_uri$args$arg_x$is_args$http_user_agent";
CONF
      . gw($VARS) . <<'CONF'
        }

CONF
      . ($CACHE ? $CACHE_LOC : '')
);

sub reset_all { $spy->reset }

# The lines of a log, once it has $n (at most 5 s).
sub log_lines {
    my ($name, $n) = @_;
    my $deadline = time + 5 * $TursoMembers::Test::TIMEOUT_FACTOR;
    my @l;
    for (;;) {
        @l = split /\n/, TursoMembers::Test::slurp($t->prefix . "/logs/$name");
        last if @l >= $n || time > $deadline;
        sleep 0.05;
    }
    return @l;
}

# No upstream request carries the client's credentials, in any header.
sub no_client_credentials {
    my ($gw, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @with = grep { $_->{head} =~ /Basic|cG9ydGFsOnB3/ } @$gw;
    ok !@with, "$name: the client's Authorization reached no upstream header"
        or diag join "\n---\n", map { $_->{head} } @with;
}

my $n = 0;

for my $where (qw(during before)) {
    subtest "\$http_*, \$args, \$request_uri read $where the hand-off" => sub {
        reset_all();
        $n++;
        my $path = "/v1/organizations/$where/members?x=1";
        my $r = $t->request(method => 'POST', path => $path,
                            body => '{"username":"bob"}',
                            headers => ["Authorization: $BASIC",
                                        'Content-Type: text/plain',
                                        'User-Agent: portal/2',
                                        'X-Request-Id: portal-9']);
        is $r->{status}, 200, 'answered';
        my ($gw, $other) = $spy->token_only($TOKEN, 1, $where);
        no_client_credentials($gw, $where);
        my $h = $gw->[0]{headers};
        my %v = map { $_ => $h->{"x-$_"} ? $h->{"x-$_"}[0] : 'absent' }
                qw(ct auth ua id args uri);
        is_deeply \%v, {
            ct => 'application/json', auth => 'absent', ua => 'portal/2',
            id => 'portal-9', args => '||',
            uri => "/v1/organizations/$where/members",
        }, 'the upstream request: the gateway\'s values, no credentials, '
           . 'no arguments' or diag explain \%v;
        is_deeply $h->{authorization}, ["Bearer $TOKEN"],
           'one Authorization: the token';

        my @l = log_lines("$where.log", 1);
        is $l[-1], qq("text/plain" "$BASIC" "portal/2" "portal-9" )
                   . qq("$path" "x=1" "1" "?"),
           'the access log: the client\'s values';
        ok index(join("\n", @l), $TOKEN) < 0, 'no token in the log';
    };
}

subtest 'HTTP/2: the access log reads the client\'s values' => sub {
    reset_all();
    my $path = '/v1/organizations/during/members?x=2';
    my $r = $t->h2_request(method => 'GET', path => $path,
                           headers => ["Authorization: $BASIC",
                                       'User-Agent: portal/h2',
                                       'X-Request-Id: portal-h2']);
    is $r->{status}, 200, 'answered';
    my ($gw) = $spy->token_only($TOKEN, 1, 'HTTP/2');
    no_client_credentials($gw, 'HTTP/2');
    my @l = log_lines('during.log', 2);
    is $l[-1], qq("-" "$BASIC" "portal/h2" "portal-h2" "$path" "x=2" "2" "?"),
       'the client\'s values';
};

subtest 'a gateway error: the log reads the client\'s values too' => sub {
    reset_all();
    my $path = '/v1/organizations/before/members?x=3';
    my $r = $t->request(method => 'POST', path => $path,
                        body => '{"username":"bob","role":"owner"}',
                        headers => ["Authorization: $BASIC",
                                    'Content-Type: application/json',
                                    'X-Request-Id: portal-err']);
    error_is $r, 400, 'invalid_role';
    my ($gw) = $spy->split;
    is scalar @$gw, 0, 'nothing upstream';
    my @l = log_lines('before.log', 2);
    is $l[-1], qq("application/json" "$BASIC" "-" "portal-err" "$path" )
               . qq("x=3" "3" "?"), 'the client\'s values';
};

# --- the HTTP version ------------------------------------------------------

# nginx's proxy module takes an answer without a status line for HTTP/0.9
# and sets the request's version so; the gateway answers a 502 in the
# client's own version, saved when the hand-off began (nginx writes
# "HTTP/1.1" in the status line of an HTTP/1.0 request's answer too)
subtest 'an answer that is not HTTP: a 502 in the client\'s version' => sub {
    my $path = '/v1/organizations/during/members/garbage';
    for my $v ('1.0', '1.1') {
        reset_all();
        my $c = $t->connect;
        $c->send_raw("GET $path HTTP/$v\r\nHost: x\r\n\r\n");
        my $r = $c->read_response(timeout => 5);
        $c->close;
        is $r->{version}, '1.1', "HTTP/$v: a status line";
        error_is $r, 502, 'upstream_error', "HTTP/$v";
        unlike $r->{body} // '', qr/SSH/, 'no raw bytes';
    }
    my $r = $t->h2_request(method => 'GET', path => $path);
    is $r->{status}, 502, 'HTTP/2: a 502';
    like $r->{version} // '', qr/^2/, 'in HTTP/2';
    is $r->{json}{code}, 'upstream_error', 'the JSON error';
};

# --- the upstream request is built within the call, or never -------------

SKIP: {
skip 'nginx -t refuses proxy_cache in a gateway location from 1.29.4', 1
    unless $CACHE;

subtest 'proxy_cache_lock: a waiter\'s deferred upstream request is never built' => sub {
    reset_all();
    my $mark = $t->log_mark;
    my $path = '/v1/organizations/cache/members/slowbob';
    my @c = map { $t->connect } 1 .. 2;
    # the first takes the cache lock and waits for the slow upstream; the
    # second waits for the lock, past its timeout, then nginx would build
    # its upstream request, outside proxy_pass's handler
    $c[0]->send_request(method => 'GET', path => $path,
                        headers => ["Authorization: $BASIC",
                                    'X-Request-Id: lock-first']);
    sleep 0.3;
    $c[1]->send_request(method => 'GET', path => $path,
                        headers => ["Authorization: $BASIC",
                                    'X-Request-Id: lock-second']);
    my @r = map { $_->read_response(timeout => 5) } @c;
    $_->close for @c;

    is $r[0]{status}, 200, 'the first: the upstream\'s answer';
    my $j = error_is $r[1], 500, 'internal_error', 'the waiter: a JSON 500';
    is $j->{request_id}, 'lock-second', 'its own id' if $j;

    my ($gw) = $spy->split;
    is scalar(@$gw), 1, 'one request reached the upstream'
        or diag join "\n---\n", map { $_->{head} } @$gw;
    is scalar(grep { ($_->{headers}{authorization}[0] // '') eq "Bearer $TOKEN"
                     && !$_->{headers}{authorization}[1] } @$gw),
       scalar(@$gw), 'every one with the token alone';
    no_client_credentials($gw, 'cache lock');
    like $t->error_log_since($mark),
         qr/\[alert\].*turso_members: the upstream request would be built after proxy_pass's handler returned/,
         'an alert in the error log';

    # the first answer is in the cache now: served without a build
    reset_all();
    my $r = $t->request(method => 'GET', path => $path,
                        headers => ["Authorization: $BASIC"]);
    is $r->{status}, 200, 'a cached answer';
    ($gw) = $spy->split;
    is scalar(@$gw), 0, 'from the cache, nothing upstream';
};
}

done_testing;
