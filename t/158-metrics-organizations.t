# Metrics by organization and the health of each token line, from the
# outside (scrape /metrics, parse, assert), with two workers:
#
# - turso_members_requests_total and the duration histogram carry
#   organization="<slug>" for a request that went (or would have gone)
#   with its organization's own token line, organization="*" for every
#   other one (the default token's, and a request refused before a token
#   was chosen): a client sending many slugs makes no new series;
# - turso_members_token_info{organization,source,token_id} 1,
#   turso_members_token_changed_timestamp_seconds and
#   turso_members_token_refresh_failures_total per token line, the default
#   token's with organization="*": the same whichever worker answers, a
#   failure counted once however many workers saw it, all of it kept over
#   "nginx -s reload";
# - a token file rotated, emptied, made unreadable, removed, replaced by a
#   directory and restored while requests keep coming: every request went
#   upstream with a whole token, and the metrics tell each step;
# - promtool check metrics finds nothing to say about the page.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Metrics qw(scrape scrape_counted delta series promtool);

use POSIX ();
use Time::HiRes qw(sleep time);

my $gid = getgrnam('nogroup') // getgrnam('nobody') // 65534;

my %TOKENS = (
    'test-token'    => '*',          # the default: any organization
    'acme-token-1'  => 'acme',
    'acme-token-2'  => 'acme',
    'globex-token'  => 'personal',   # no scope on globex: 403
);                                   # initech's token: unknown, 401

my $t = TursoMembers::Metrics::Workers->new(
    env => { GLOBEX_TOKEN => 'globex-token' },
    start => 0,
    config => <<'CONF');
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        listen 127.0.0.1:%%H2PORT%% reuseport http2;
        server_name localhost;

        location = /metrics {
            turso_members_status;
        }

        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_token_file %%PREFIX%%/conf/acme.token
                                     organization=acme refresh=1s;
            turso_members_token_env GLOBEX_TOKEN organization=globex;
            turso_members_token_file %%PREFIX%%/conf/initech.token
                                     organization=initech;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
    }
CONF

my $ACME = $t->prefix . '/conf/acme.token';
my $INITECH = $t->prefix . '/conf/initech.token';

# Writes a new file and renames it over the token file (a new inode).
sub put {
    my ($file, $content, $mode) = @_;
    my $tmp = "$file.new";
    TursoMembers::Test::spew($tmp, $content);
    chown -1, $gid, $tmp;
    chmod $mode // 0640, $tmp;
    rename $tmp, $file or die "rename: $!";
    return (stat $file)[9];
}

put($ACME, "acme-token-1\n");
put($INITECH, "initech-revoked-token\n");
$t->start;
$t->mock_tokens(\%TOKENS);

my $LIST = '/v1/organizations/%s/members';

sub list { $t->request(method => 'GET', path => sprintf($LIST, $_[0])) }

sub req_key {
    my ($org, $op, $code, $up) = @_;
    return qq(turso_members_requests_total{code="$code",operation="$op",)
           . qq(organization="$org",upstream_status="$up"});
}

# The token series of one organization: { info => token_id, source,
# changed, failures }.
sub health {
    my ($m, $org) = @_;
    my %h;
    for (series($m, 'turso_members_token_info')) {
        next unless $_->[0]{organization} eq $org;
        $h{info} = $_->[0]{token_id};
        $h{source} = $_->[0]{source};
        $h{info_lines}++;
    }
    for (series($m, 'turso_members_token_changed_timestamp_seconds')) {
        $h{changed} = $_->[1] if $_->[0]{organization} eq $org;
    }
    for (series($m, 'turso_members_token_refresh_failures_total')) {
        $h{failures} = $_->[1] if $_->[0]{organization} eq $org;
    }
    return \%h;
}

# Scrapes until $cond->($m) holds (at most 10 s); the last scrape.
sub scrape_until {
    my ($cond) = @_;
    my $deadline = time + 10 * $TursoMembers::Test::TIMEOUT_FACTOR;
    my $m;
    while (1) {
        $m = scrape($t);
        return $m if $cond->($m) || time > $deadline;
        sleep 0.1;
    }
}


subtest 'requests by organization: slugs of token lines, else "*"' => sub {
    my $before = scrape($t);
    ok !$before->{_bad}, 'every line parses' or diag $before->{_bad};
    like $before->{_r}{body},
         qr/^# HELP turso_members_token_info \S/m, 'HELP token_info';

    is list('acme')->{status}, 200, 'acme: its own token';
    is list('globex')->{status}, 502, 'globex: a token without scope';
    is list('initech')->{status}, 502, 'initech: a token Turso rejects';
    is list('personal')->{status}, 200, 'personal: the default token';
    is $t->request(method => 'GET', path => '/v1/organizations/acme/x')
          ->{status}, 404, 'no route';

    my $d = delta($before, scrape_counted($t, $before, 5));
    my %req = map { $_ => $d->{$_} }
              grep { /^turso_members_requests_total/ } keys %$d;
    is_deeply \%req, {
        req_key('acme', 'list_members', 'ok', 200)                      => 1,
        req_key('globex', 'list_members', 'upstream_forbidden', 403)    => 1,
        req_key('initech', 'list_members', 'upstream_unauthorized', 401) => 1,
        req_key('*', 'list_members', 'ok', 200)                         => 1,
        req_key('*', 'none', 'route_not_supported', 0)                  => 1,
    }, 'each request under its organization' or diag explain \%req;

    is $d->{'turso_members_request_duration_seconds_count{operation="list_'
            . 'members",organization="acme"}'}, 1, 'acme: histogram count';
    is $d->{'turso_members_request_duration_seconds_bucket{le="+Inf",'
            . 'operation="list_members",organization="globex"}'}, 1,
       'globex: histogram +Inf bucket';
};

subtest 'many slugs make no new series' => sub {
    my $before = scrape($t);
    my $n = 0;
    for my $i (1 .. 200) {
        $n++ if list("slug-$i-" . int(rand 1e9))->{status};
    }
    is $n, 200, '200 requests for 200 other organizations';
    my $after = scrape_counted($t, $before, 200);
    my @new = grep { !exists $before->{$_} && !/^_/ } keys %$after;
    ok @new <= 4, scalar(@new) . ' new series at most (no slug of theirs)'
        or diag explain \@new;
    ok !(grep { /slug-/ } keys %$after), 'none names a slug';
    my @orgs = sort keys %{{ map { $_->[0]{organization} => 1 }
                             series($after, 'turso_members_requests_total') }};
    is_deeply \@orgs, [qw(* acme globex initech)],
              'organization: the token lines\' slugs and "*"';
};

subtest 'token health: one series set per token line, never the token' => sub {
    my $m = scrape($t);
    my %want = (
        '*'     => [ token_id('test-token'), $t->{token_file} ],
        acme    => [ token_id('acme-token-1'), $ACME ],
        globex  => [ token_id('globex-token'), 'GLOBEX_TOKEN' ],
        initech => [ token_id('initech-revoked-token'), $INITECH ],
    );
    for my $org (sort keys %want) {
        my $h = health($m, $org);
        is $h->{info_lines}, 1, "$org: one token_info";
        is $h->{info}, $want{$org}[0], "$org: token_id";
        is $h->{source}, $want{$org}[1], "$org: source";
        is $h->{failures}, 0, "$org: no refresh failure";
        ok $h->{changed} > 0, "$org: a changed timestamp";
    }
    is health($m, 'acme')->{changed}, (stat $ACME)[9],
       'acme: changed is the file\'s modification time';
    my $start = time;
    ok abs(health($m, 'globex')->{changed} - $start) < 120,
       'globex (environment): changed is the start';
    for my $tok (keys %TOKENS, 'initech-revoked-token') {
        ok index($m->{_r}{body}, $tok) < 0, "the page has no $tok";
    }

    # whichever worker answers
    for (1 .. 6) {
        my $again = scrape($t);
        my @tok = grep { /^turso_members_token_/ } keys %$again;
        is_deeply { map { $_ => $again->{$_} } @tok },
                  { map { $_ => $m->{$_} } @tok },
                  "scrape $_: the same token series";
    }
};


# --- a token file under load -------------------------------------------------

# A child that lists acme's members on fresh connections (the kernel
# spreads them over both workers) until told to stop, at most 20000
# requests or 300 s; writes each answer's status to $file.
sub load_start {
    my ($file) = @_;
    my $stop = "$file.stop";
    unlink $stop;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open my $out, '>', $file or POSIX::_exit(1);
        $out->autoflush(1);
        my $deadline = time + 300;
        for (1 .. 20000) {
            last if -e $stop || time > $deadline;
            my $r = eval { list('acme') };
            print $out (($r && $r->{status}) // 'none'), "\n";
            sleep 0.002;
        }
        close $out;
        POSIX::_exit(0);
    }
    return sub {
        TursoMembers::Test::spew($stop, '');
        waitpid $pid, 0;
        return split /\n/, TursoMembers::Test::slurp($file);
    };
}

subtest 'a token file rotated, emptied, broken and restored under load' => sub {
    $t->mock_reset;
    my $mark = $t->log_mark;
    my $start = scrape($t);
    my $stop = load_start($t->prefix . '/logs/load.statuses');
    my $id1 = token_id('acme-token-1');
    my $id2 = token_id('acme-token-2');
    my $m = scrape($t);
    my $f0 = health($m, 'acme')->{failures};
    is $f0, 0, 'no failure yet';

    my $mtime = put($ACME, "acme-token-2\n");
    $m = scrape_until(sub { health($_[0], 'acme')->{info} eq $id2 });
    is health($m, 'acme')->{info}, $id2, 'rotated: token_info shows the new id';
    is health($m, 'acme')->{changed}, $mtime,
       'changed: the new file\'s modification time';
    is health($m, 'acme')->{failures}, 0, 'no failure';

    my @steps = (
        [ 'emptied',    sub { put($ACME, '') } ],
        [ 'a blank line', sub { put($ACME, "\n") } ],
        [ 'unreadable by the workers', sub { put($ACME, "acme-token-x\n", 0600) } ],
        [ 'removed',    sub { unlink $ACME or die "unlink: $!" } ],
        [ 'a directory', sub { mkdir $ACME or die "mkdir: $!" } ],
    );
    my $failures = 0;
    for my $step (@steps) {
        my ($name, $do) = @$step;
        $do->();
        $failures++;
        $m = scrape_until(sub {
            (health($_[0], 'acme')->{failures} // 0) >= $failures });
        # both workers look at the file again meanwhile
        past_interval();
        past_interval();
        $m = scrape($t);
        is health($m, 'acme')->{failures}, $failures,
           "$name: refresh_failures_total $failures, once for two workers";
        is health($m, 'acme')->{info}, $id2, "$name: the token is kept";
    }

    rmdir $ACME or die "rmdir: $!";
    put($ACME, "acme-token-2\n");
    past_interval();
    past_interval();
    $m = scrape($t);
    is health($m, 'acme')->{failures}, $failures, 'restored: no new failure';
    is health($m, 'acme')->{info}, $id2, 'restored: the same token';
    is health($m, 'acme')->{changed}, $mtime,
       'the same token: changed stays';

    # emptied again after the restore: a new failure
    put($ACME, '');
    $failures++;
    $m = scrape_until(sub {
        (health($_[0], 'acme')->{failures} // 0) >= $failures });
    is health($m, 'acme')->{failures}, $failures, 'emptied again: counted';
    my $back = put($ACME, "acme-token-1\n");
    $m = scrape_until(sub { health($_[0], 'acme')->{info} eq $id1 });
    is health($m, 'acme')->{info}, $id1, 'back to the first token';
    is health($m, 'acme')->{changed}, $back, 'changed: that file\'s time';
    past_interval();

    my @statuses = $stop->();
    ok @statuses >= 50, scalar(@statuses) . ' requests during the changes';
    is scalar(grep { $_ ne '200' } @statuses), 0, 'every one answered 200'
        or diag join ' ', grep { $_ ne '200' } @statuses;

    my $u = $t->upstream_requests;
    my %auth;
    $auth{ $_->{headers}{authorization} // 'none' }++ for @$u;
    is_deeply [ sort keys %auth ],
              [ 'Bearer acme-token-1', 'Bearer acme-token-2' ],
              'upstream: only whole tokens, never an empty one'
        or diag explain \%auth;
    is scalar(@$u), scalar(@statuses), 'each request reached the upstream';
    # a request is counted after its answer has gone: the last ones are
    # waited for here, not seen moving the next subtest's counters
    my $d = delta($start, scrape_counted($t, $start, scalar @statuses));
    is $d->{ req_key('acme', 'list_members', 'ok', 200) }, scalar @statuses,
       'each request counted';

    my $log = $t->error_log_since($mark);
    like $log, qr/\[error\].*acme\.token" is empty, keeping the token $id2/,
         '[error]: emptied, the token kept';
    like $log, qr/\[notice\].*acme\.token" changed, now using the token $id2/,
         '[notice]: the rotation';
    ok index($log, 'acme-token') < 0, 'no token in the error log';
    my %pids = map { $_ => 1 }
               $log =~ /\[error\] (\d+)#\d+: .*acme\.token" is empty/g;
    ok keys %pids >= 2, 'both workers saw the empty file ('
                        . join(', ', sort keys %pids) . '): counted once';
};

subtest 'health and counters survive a reload' => sub {
    my %old = map { $_ => 1 } $t->workers;
    my $before = scrape($t);
    kill 'HUP', $t->{pid};
    my $deadline = time + 10 * $TursoMembers::Test::TIMEOUT_FACTOR;
    my @new;
    while (time < $deadline) {
        @new = grep { !$old{$_} } $t->workers;
        last if @new >= 2 && !grep { $old{$_} } $t->workers;
        sleep 0.05;
    }
    is scalar @new, 2, 'two new workers';
    my $after = scrape($t);
    is_deeply delta($before, $after), {}, 'every series as it was'
        or diag explain delta($before, $after);
    is_deeply [ sort grep { !/^_/ } keys %$after ],
              [ sort grep { !/^_/ } keys %$before ], 'the same series';

    is list('acme')->{status}, 200, 'acme again';
    is delta($after, scrape_counted($t, $after, 1))
           ->{ req_key('acme', 'list_members', 'ok', 200) }, 1,
       'the new workers count on';
};

subtest 'a reload with another token set' => sub {
    my $before = scrape($t);
    my $conf = TursoMembers::Test::slurp($t->prefix . '/conf/nginx.conf');
    $conf =~ s/turso_members_token_file \S+initech\.token\s+organization=initech;//
        or die 'no initech line';
    $conf =~ s/(turso_members_token_env GLOBEX_TOKEN organization=globex;)/$1
            turso_members_token_file $INITECH organization=hooli;/ or die;
    TursoMembers::Test::spew($t->prefix . '/conf/nginx.conf', $conf);
    my %old = map { $_ => 1 } $t->workers;
    kill 'HUP', $t->{pid};
    my $deadline = time + 10 * $TursoMembers::Test::TIMEOUT_FACTOR;
    while (time < $deadline) {
        last unless grep { $old{$_} } $t->workers;
        sleep 0.05;
    }
    my $m = scrape($t);
    is health($m, 'initech')->{info}, undef, 'initech\'s line is gone';
    is health($m, 'hooli')->{info}, token_id('initech-revoked-token'),
       'hooli\'s is there';
    is health($m, 'acme')->{failures}, health($before, 'acme')->{failures},
       'acme\'s failures kept';
    is list('hooli')->{status}, 502, 'hooli: 401 upstream';
    is delta($before, scrape_counted($t, $before, 1))
           ->{ req_key('hooli', 'list_members', 'upstream_unauthorized', 401) },
       1, 'counted under hooli';
};

subtest 'promtool check metrics' => sub {
    my $promtool = promtool();
    plan skip_all => $TursoMembers::Metrics::WHY unless $promtool;
    my $m = scrape($t);
    my $page = $t->prefix . '/logs/metrics.txt';
    TursoMembers::Test::spew($page, $m->{_r}{body});
    my $out = `"$promtool" check metrics < "$page" 2>&1`;
    is $?, 0, 'exit 0' or diag $out;
    is $out, '', 'nothing to say' or diag $out;
};

done_testing;
