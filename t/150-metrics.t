# Metrics: "turso_members_status" serves the Prometheus text format from
# the shared zone "turso_members": requests by operation, outcome code and
# upstream status, a latency histogram per operation, policy reports and
# dropped counts.  Counters live as long as the zone, so every assertion
# is on the difference between two scrapes around known traffic.  The
# zone is summed over workers (worker_processes 2) and kept across
# "nginx -s reload".

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Metrics qw(scrape scrape_counted delta);

use Time::HiRes qw(sleep time);

my $LIST = '/v1/organizations/acme/members';

my $status_loc = <<'CONF';
        location = /metrics {
            turso_members_status;
        }

        location /report/ {
            rewrite ^/report(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_mode report;
            turso_members_organizations acme;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

my $t = TursoMembers::Test->new(config => default_locations() . $status_loc);

# organization "*": the default token's requests, and those refused
# before a token was chosen (t/158-metrics-organizations.t: the others)
sub req_key {
    my ($op, $code, $up, $org) = @_;
    $org //= '*';
    return qq(turso_members_requests_total{code="$code",operation="$op",)
           . qq(organization="$org",upstream_status="$up"});
}

sub hist_key {
    my ($op, $what, $le, $org) = @_;
    $org //= '*';
    return "turso_members_request_duration_seconds_$what"
           . (defined $le ? qq({le="$le",operation="$op",organization="$org"})
                          : qq({operation="$op",organization="$org"}));
}

sub requests_delta {
    my ($d) = @_;
    return { map { $_ => $d->{$_} }
             grep { /^turso_members_requests_total/ } keys %$d };
}

subtest 'the status page' => sub {
    my $m = scrape($t);
    my $r = $m->{_r};
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4\b},
         'Prometheus text format 0.0.4';
    is $r->{headers}{'content-length'}, length $r->{body}, 'exact length';
    ok !$m->{_bad}, 'every line parses' or diag $m->{_bad};
    for my $name (qw(turso_members_requests_total
                     turso_members_request_duration_seconds
                     turso_members_policy_reports_total
                     turso_members_metrics_dropped_total))
    {
        like $r->{body}, qr/^# HELP $name \S/m, "HELP $name";
    }
    like $r->{body}, qr/^# TYPE turso_members_requests_total counter$/m;
    like $r->{body},
         qr/^# TYPE turso_members_request_duration_seconds histogram$/m;
    like $r->{body}, qr/^# TYPE turso_members_policy_reports_total counter$/m;
    like $r->{body},
         qr/^# TYPE turso_members_metrics_dropped_total counter$/m;
    is $m->{turso_members_metrics_dropped_total}, 0, 'nothing dropped';

    my $h = $t->request(method => 'HEAD', path => '/metrics');
    is $h->{status}, 200, 'HEAD';
    is $h->{body}, '', 'HEAD: no body';

    my $p = $t->request(method => 'POST', path => '/metrics', body => 'x');
    is $p->{status}, 405, 'POST: 405';

    my $again = scrape($t);
    is_deeply delta($m, $again), {}, 'scraping counts nothing';
};

subtest 'requests by operation, code and upstream status' => sub {
    $t->mock_reset;
    my $before = scrape($t);

    # 3 lists, 1 add (200), 1 invalid role, 1 add of a member (409),
    # 2 paths that are no route, 1 upstream 500
    $t->request(method => 'GET', path => $LIST) for 1 .. 3;
    is $t->request(method => 'POST', path => ADD_MEMBER,
                   body => '{"username":"bob"}')->{status}, 200, 'add bob';
    is $t->request(method => 'POST', path => ADD_MEMBER,
                   body => '{"username":"dave","role":"owner"}')->{status},
       400, 'invalid role';
    is $t->request(method => 'POST', path => ADD_MEMBER,
                   body => '{"username":"carol"}')->{status}, 409,
       'carol is a member';
    is $t->request(method => 'GET', path => '/v1/organizations/acme/x')
          ->{status}, 404, 'no route';
    is $t->request(method => 'GET', path => '/v1/organizations/acme/x/y/z')
          ->{status}, 404, 'no route';
    $t->mock_script([{ status => 500, body => 'boom' }]);
    is $t->request(method => 'GET', path => '/v1/organizations/acme/members/alice')
          ->{status}, 502, 'upstream 500';

    my $after = scrape($t);
    my $d = delta($before, $after);

    is_deeply requests_delta($d), {
        req_key('list_members', 'ok', 200)              => 3,
        req_key('add_member', 'ok', 200)                => 1,
        req_key('add_member', 'invalid_role', 0)        => 1,
        req_key('add_member', 'member_exists', 409)     => 1,
        req_key('none', 'route_not_supported', 0)       => 2,
        req_key('get_member', 'upstream_error', 500)    => 1,
    }, 'exactly these requests were counted' or diag explain $d;

    is $d->{ hist_key('list_members', 'count') }, 3, 'list_members: count 3';
    is $d->{ hist_key('list_members', 'bucket', '+Inf') }, 3,
       'list_members: +Inf bucket 3';
    is $d->{ hist_key('add_member', 'count') }, 3, 'add_member: count 3';
    is $d->{ hist_key('none', 'count') }, 2, 'none: count 2';
    is $d->{ hist_key('get_member', 'count') }, 1, 'get_member: count 1';
    is $d->{turso_members_metrics_dropped_total}, undef, 'nothing dropped';

    # every histogram: cumulative buckets, the documented bounds,
    # +Inf == _count
    my @le = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
    for my $op (qw(list_members add_member get_member none)) {
        my @v = map { $after->{ hist_key($op, 'bucket', $_) } } @le;
        ok !(grep { !defined } @v), "$op: the 12 buckets 0.005 ... +Inf";
        ok !(grep { $v[$_] < $v[$_ - 1] } 1 .. $#v), "$op: cumulative";
        is $v[-1], $after->{ hist_key($op, 'count') }, "$op: +Inf == count";
        like $after->{ hist_key($op, 'sum') }, qr/^\d+\.\d{3}$/,
             "$op: sum in seconds";
    }
};

subtest 'latency lands in the right bucket' => sub {
    $t->mock_reset;
    my $before = scrape($t);
    $t->mock_script([{ delay_ms => 300 }]);
    my $start = time;
    is $t->request(method => 'GET', path => '/v2/organizations/acme/invites')->{status}, 200, 'list invites, 300 ms late';
    my $took = time - $start;
    my $d = delta($before, scrape($t));

    is $d->{ hist_key('list_invites', 'bucket', '0.25') } // 0, 0,
       'not in le=0.25';
    is $d->{ hist_key('list_invites', 'bucket', '0.5') }, 1, 'in le=0.5';
    is $d->{ hist_key('list_invites', 'bucket', '+Inf') }, 1, 'in +Inf';
    my $sum = $d->{ hist_key('list_invites', 'sum') } // 0;
    ok $sum >= 0.29 && $sum <= $took + 0.01,
       sprintf('sum grew by %.3f s (request took %.3f s)', $sum, $took);
};

subtest 'policy reports are counted' => sub {
    $t->mock_reset;
    my $before = scrape($t);
    is $t->request(method => 'GET',
                   path => '/report/v1/organizations/personal/members')
          ->{status}, 200, 'report mode lets personal through';
    is scalar @{ $t->upstream_requests }, 1, 'the upstream got it';
    my $d = delta($before, scrape($t));
    is $d->{'turso_members_policy_reports_total{code="organization_not_allowed"}'},
       1, 'policy_reports_total{code="organization_not_allowed"} +1';
    is $d->{ req_key('list_members', 'ok', 200) }, 1,
       'and the request counted as ok';
};

# --- two workers -------------------------------------------------------------

# worker_processes 2; reuseport: the kernel spreads new connections over
# both workers
my $t2 = TursoMembers::Metrics::Workers->new(
    http_config => 'log_format pids "$pid $status";',
    config => <<'CONF');
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        listen 127.0.0.1:%%H2PORT%% reuseport http2;
        server_name localhost;
        access_log logs/pids.log pids;

        location = /metrics {
            turso_members_status;
        }
%%LOCATIONS%%
    }
CONF

subtest 'two workers: one sum' => sub {
    my @w = $t2->workers;
    is scalar @w, 2, 'two workers';

    my $mark = $t2->log_mark('pids.log');
    my $before = scrape($t2);
    my $n = 40;
    my $ok = 0;
    for (1 .. $n) {
        $ok++ if $t2->request(method => 'GET', path => $LIST)->{status} == 200;
    }
    is $ok, $n, "$n lists answered 200";

    # the scrape's line and the lists' (written after their answers)
    my %pids = map { (split / /)[0] => 1 }
               grep { / 200$/ } split /\n/,
               $t2->wait_log('pids.log', qr/(?:.*\n){${\($n + 1)}}/, $mark);
    ok keys %pids >= 2, 'both workers served lists ('
                        . join(', ', sort keys %pids) . ')';

    # whichever worker answers the scrape, it shows the sum
    scrape_counted($t2, $before, $n);
    for my $i (1 .. 6) {
        my $d = delta($before, scrape($t2));
        is $d->{ req_key('list_members', 'ok', 200) }, $n,
           "scrape $i: list_members ok 200 = $n";
    }
};

subtest 'counters survive a reload' => sub {
    my %old = map { $_ => 1 } $t2->workers;
    my $before = scrape($t2);
    ok $before->{ req_key('list_members', 'ok', 200) } >= 40,
       'counted before the reload';

    kill 'HUP', $t2->{pid};
    my $deadline = time + 10 * $TursoMembers::Test::TIMEOUT_FACTOR;
    my @new;
    while (time < $deadline) {
        @new = grep { !$old{$_} } $t2->workers;
        last if @new >= 2 && !grep { $old{$_} } $t2->workers;
        sleep 0.05;
    }
    is scalar @new, 2, 'two new workers';

    my $mid = scrape($t2);
    is_deeply delta($before, $mid), {}, 'the same counters after the reload'
        or diag explain delta($before, $mid);

    $t2->request(method => 'GET', path => $LIST) for 1 .. 5;
    my $d = delta($before, scrape_counted($t2, $before, 5));
    is_deeply requests_delta($d), { req_key('list_members', 'ok', 200) => 5 },
       'the new workers add to them';
};

done_testing;
