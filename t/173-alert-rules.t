# The example alerting rules (examples/prometheus/turso-members-rules.yml):
# promtool finds them valid, their unit tests
# (t/prometheus/turso-members-rules.test.yml) pass, each has a summary and
# a description, together they cover a token Turso rejects (401), one
# without scope (403), a token file failing to refresh, the rate limit
# (429) and the gateway's 5xx, and every metric they name is one the
# module serves.  Skipped, saying why, when Debian's promtool cannot be
# had (tools/promtool.sh).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Metrics qw(promtool);

my $RULES = 'examples/prometheus/turso-members-rules.yml';
my $TESTS = 't/prometheus/turso-members-rules.test.yml';

my $rules = TursoMembers::Test::slurp($RULES);

subtest 'what the rules cover' => sub {
    my @alerts = $rules =~ /^\s+- alert: (\w+)$/mg;
    ok @alerts >= 5, scalar(@alerts) . ' alerts';
    my @blocks = split /^\s+- alert: /m, $rules;
    shift @blocks;
    for my $b (@blocks) {
        my ($name) = $b =~ /^(\w+)/;
        like $b, qr/^\s+summary: \S/m, "$name: a summary";
        like $b, qr/^\s+description: \S/m, "$name: a description";
        like $b, qr/^\s+severity: (page|warning|info)$/m, "$name: a severity";
    }
    like $rules, qr/code="upstream_unauthorized"/, '401: upstream_unauthorized';
    like $rules, qr/code="upstream_forbidden"/, '403: upstream_forbidden';
    like $rules, qr/turso_members_token_refresh_failures_total/,
         'a token file failing to refresh';
    like $rules, qr/code="rate_limited"/, '429: rate_limited';
    like $rules, qr/upstream_error\|upstream_unavailable\|upstream_timeout/,
         "the gateway's 5xx";
};

subtest 'every metric named is one the module serves' => sub {
    my $t = TursoMembers::Test->new(config => default_locations() . <<'CONF');
        location = /metrics {
            turso_members_status;
        }
CONF
    my $page = $t->request(method => 'GET', path => '/metrics')->{body};
    my %served = map { $_ => 1 } $page =~ /^# TYPE (\w+) /mg;
    (my $text = $rules) =~ s/^\s*#.*\n//mg;
    my %named = map { s/_(bucket|sum|count)$//r => 1 }
                $text =~ /\b(turso_members_\w+)/g;
    for my $m (sort keys %named) {
        ok $served{$m}, "$m is served";
    }
};

my $promtool = promtool();

SKIP: {
    skip $TursoMembers::Metrics::WHY, 2 unless $promtool;

    my $out = `"$promtool" check rules "$RULES" 2>&1`;
    is $?, 0, 'promtool check rules' or diag $out;

    $out = `"$promtool" test rules "$TESTS" 2>&1`;
    is $?, 0, 'promtool test rules' or diag $out;
}

done_testing;
