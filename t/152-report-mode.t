# turso_members_mode report: the policy's rejections (organization_not_allowed,
# operation_not_allowed, role_not_allowed) are logged at warn, counted in
# turso_members_policy_reports_total and shown in $turso_members_report,
# and the request goes through.  Validation (malformed JSON, an invalid
# role, an invalid body, an invalid slug) still rejects.  The same policy
# in enforce mode (the default) rejects.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $POLICY = <<'POL';
            turso_members_organizations acme;
            turso_members_operations read add_member invite;
            turso_members_allowed_roles member viewer;
POL

my $t = TursoMembers::Test->new(
    http_config => <<'CONF',
    log_format report '$turso_members_operation $turso_members_code '
                      'report=$turso_members_report $status';
CONF
    config => <<"CONF");
        location = /metrics {
            turso_members_status;
        }

        # report mode from the server level down
        location /report/ {
            rewrite ^/report(/.*)\$ \$1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_mode report;
$POLICY
            access_log logs/report.log report;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }

        location /enforce/ {
            rewrite ^/enforce(/.*)\$ \$1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
$POLICY
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF

sub reports {
    my $body = $t->request(method => 'GET', path => '/metrics')->{body};
    my %r = $body =~ /^turso_members_policy_reports_total\{code="(\w+)"\} (\d+)$/mg;
    return \%r;
}

sub report_log_last {
    my @l = split /\n/,
            TursoMembers::Test::slurp($t->prefix . '/logs/report.log');
    return $l[-1] // '';
}

# A request in both locations: report lets it through, enforce rejects.
#   name, method, path, body, code, upstream check (sub on the recording)
for my $case (
    [ 'organization not allowed', 'GET', '/v1/organizations/personal/members',
      undef, 'organization_not_allowed', 'list_members', 200,
      sub { is $_[0]{url}, '/v1/organizations/personal/members', 'the url' } ],
    [ 'operation not allowed', 'DELETE', '/v1/organizations/acme/members/carol',
      undef, 'operation_not_allowed', 'remove_member', 200,
      sub { is $_[0]{method}, 'DELETE', 'DELETE' } ],
    [ 'role not allowed', 'POST', '/v1/organizations/acme/members',
      '{"username":"bob","role":"Admin"}', 'role_not_allowed', 'add_member',
      200,
      sub { is $_[0]{body}, '{"username":"bob","role":"admin"}',
               'the canonical body with the role asked for' } ],
    [ 'default role not allowed? no: member is allowed', 'POST',
      '/v2/organizations/acme/invites', '{"email":"e@example.com"}',
      undef, 'invite', 200,
      sub { is $_[0]{body}, '{"email":"e@example.com","role":"member"}',
               'the canonical body' } ],
) {
    my ($name, $method, $path, $body, $code, $op, $status, $check) = @$case;

    subtest "report: $name" => sub {
        $t->mock_reset;
        my $before = reports();
        my $mark = $t->log_mark;
        my $r = $t->request(method => $method, path => "/report$path",
                            defined $body ? (body => $body) : ());
        is $r->{status}, $status, "answered $status by the upstream";
        my $u = $t->upstream_requests;
        is scalar @$u, 1, 'the upstream received it';
        $check->($u->[0] // {});

        my $log = $t->error_log_since($mark);
        my $after = reports();
        if ($code) {
            like $log, qr/\[warn\].*turso_members: report mode: would reject \Q$op\E with \d{3} \Q$code\E/,
                 'a [warn] "report mode: would reject ..."' or diag $log;
            is(($after->{$code} // 0) - ($before->{$code} // 0), 1,
               "policy_reports_total{code=\"$code\"} +1");
            is report_log_last(), "$op ok report=$code $status",
               '$turso_members_report names it; the code is ok';
        } else {
            unlike $log, qr/report mode/, 'nothing to report';
            is_deeply $after, $before, 'no report counted';
            is report_log_last(), "$op ok report=- $status",
               '$turso_members_report is not set (-)';
        }
    };

    next unless $code;

    subtest "enforce: $name" => sub {
        $t->mock_reset;
        my $mark = $t->log_mark;
        my $r = $t->request(method => $method, path => "/enforce$path",
                            defined $body ? (body => $body) : ());
        error_is $r, 403, $code;
        $t->nothing_upstream;
        unlike $t->error_log_since($mark), qr/report mode/, 'no report line';
    };
}

# Validation is not policy: report mode rejects as enforce does.
for my $case (
    [ 'malformed JSON', '{"username":', 400, 'invalid_json' ],
    [ 'an invalid role', '{"username":"bob","role":"owner"}', 400,
      'invalid_role' ],
    [ 'an invalid body', '{"role":"member"}', 400, 'invalid_body' ],
    [ 'a duplicate key', '{"username":"bob","username":"dave"}', 400,
      'invalid_json' ],
) {
    my ($name, $body, $status, $code) = @$case;
    subtest "report mode still rejects $name" => sub {
        $t->mock_reset;
        my $before = reports();
        my $mark = $t->log_mark;
        my $r = $t->request(method => 'POST',
                            path => '/report/v1/organizations/acme/members',
                            body => $body);
        error_is $r, $status, $code;
        $t->nothing_upstream;
        unlike $t->error_log_since($mark), qr/report mode/, 'no report line';
        is_deeply reports(), $before, 'no report counted';
    };
}

subtest 'report mode still rejects an invalid slug and an unknown route' => sub {
    $t->mock_reset;
    error_is $t->request(method => 'GET',
                         path => '/report/v1/organizations/a.b/members'),
             400, 'invalid_organization';
    error_is $t->request(method => 'GET',
                         path => '/report/v1/organizations/acme/nope'),
             404, 'route_not_supported';
    $t->nothing_upstream;
};

subtest 'an invalid role in a disallowed organization: rejected, reported' => sub {
    $t->mock_reset;
    my $mark = $t->log_mark('report.log');
    my $r = $t->request(method => 'POST',
                        path => '/report/v1/organizations/personal/members',
                        body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role';
    $t->nothing_upstream;
    # the organization was checked (and reported) before the body was read;
    # the line is written after the answer
    $t->wait_log('report.log', qr/^add_member /m, $mark);
    is report_log_last(), 'add_member invalid_role '
                          . 'report=organization_not_allowed 400',
       'the log line: the code and the report';
};

subtest 'two policy reports on one request: both counted, the last shown' => sub {
    $t->mock_reset;
    my $before = reports();
    my $mark = $t->log_mark;
    my $r = $t->request(method => 'POST',
                        path => '/report/v1/organizations/personal/members',
                        body => '{"username":"bob","role":"admin"}');
    is scalar @{ $t->upstream_requests }, 1, 'the upstream received it';
    my $after = reports();
    for my $code (qw(organization_not_allowed role_not_allowed)) {
        is(($after->{$code} // 0) - ($before->{$code} // 0), 1, "$code +1");
    }
    my @warn = $t->error_log_since($mark) =~ /report mode: would reject/g;
    is scalar @warn, 2, 'two [warn] lines';
    like report_log_last(), qr/^add_member \w+ report=role_not_allowed /,
         '$turso_members_report: the last one';
};

subtest 'turso_members_mode: configuration' => sub {
    my ($code, $out) = $t->nginx_t(default_locations('turso_members_mode dry;'));
    isnt $code, 0, 'an unknown mode fails nginx -t';
    like $out, qr/invalid value "dry"/, 'and says so' or diag $out;

    ($code, $out) = $t->nginx_t(default_locations('turso_members_mode enforce;'));
    is $code, 0, 'enforce is accepted' or diag $out;

    ($code, $out) = $t->nginx_t(default_locations(), http_config =>
                                'turso_members_mode report;');
    is $code, 0, 'http level is accepted' or diag $out;
};

done_testing;
