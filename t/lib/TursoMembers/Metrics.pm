package TursoMembers::Metrics;

# Reading "turso_members_status" from the outside, for the metrics tests:
#
#   use TursoMembers::Metrics qw(scrape delta series promtool);
#   my $m = scrape($t);              # { 'name{k="v",...}' => value },
#                                    # labels sorted by name; {_r} the raw
#                                    # response, {_bad} lines that did not
#                                    # parse or came twice
#   my $d = delta($before, $after);  # the series that moved, by how much
#   my $m = scrape_counted($t, $before, $n);
#                                    # a scrape once $n more requests are
#                                    # counted than in $before (a worker
#                                    # counts a request in the log phase,
#                                    # after its answer has gone: with two
#                                    # workers a scrape can come first)
#   my @s = series($m, 'turso_members_token_info');
#                                    # [ { label => value }, value ] each
#   my $p = promtool();              # path of Debian's promtool
#                                    # (tools/promtool.sh), or undef and
#                                    # the reason in $TursoMembers::Metrics::WHY
#
# TursoMembers::Metrics::Workers is TursoMembers::Test with
# "worker_processes 2" (pass reuseport on the listen lines so that the
# kernel spreads connections over both).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Time::HiRes qw(sleep time);

use Exporter ();
our @ISA = (q(Exporter));
our @EXPORT_OK = qw(scrape scrape_counted delta series promtool);

our $WHY;

my $REPO = abs_path(dirname(__FILE__) . '/../../..');


sub scrape {
    my ($t, $path) = @_;
    my $r = $t->request(method => 'GET', path => $path // '/metrics');
    my %m = (_r => $r);
    for my $line (split /\n/, $r->{body} // '') {
        next if $line =~ /^#/ || $line eq '';
        my ($name, $labels, $value) =
            $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
            or do { $m{_bad} .= "$line\n"; next };
        my %l = ($labels // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        my $key = $name . (%l ? '{' . join(',', map { qq($_="$l{$_}") }
                                             sort keys %l) . '}' : '');
        $m{_bad} .= "duplicate $key\n" if exists $m{$key};
        $m{$key} = $value;
    }
    return \%m;
}


sub delta {
    my ($a, $b) = @_;
    my %d;
    for my $k (keys %$b) {
        next if $k =~ /^_/;
        my $v = $b->{$k} - ($a->{$k} // 0);
        $d{$k} = $v if abs($v) > 1e-9;
    }
    return \%d;
}


sub scrape_counted {
    my ($t, $before, $n) = @_;
    my $deadline = time + 10 * $TursoMembers::Test::TIMEOUT_FACTOR;
    while (1) {
        my $m = scrape($t);
        my $d = delta($before, $m);
        my $sum = 0;
        $sum += $d->{$_} for grep { /^turso_members_requests_total\{/ }
                                 keys %$d;
        return $m if $sum >= $n || time > $deadline;
        sleep 0.05;
    }
}


sub series {
    my ($m, $name) = @_;
    my @s;
    for my $k (sort keys %$m) {
        my ($n, $labels) = $k =~ /^([^{]+)(?:\{(.*)\})?$/ or next;
        next unless $n eq $name;
        my %l = ($labels // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        push @s, [ \%l, $m->{$k} ];
    }
    return @s;
}


sub promtool {
    return $ENV{TEST_PROMTOOL} if $ENV{TEST_PROMTOOL};
    my $out = `"$REPO/tools/promtool.sh" 2>&1`;
    if ($? == 0) {
        my ($path) = $out =~ m{^(/\S*promtool)$}m;
        return $path if $path && -x $path;
    }
    $out =~ s/\s+$//;
    $WHY = 'promtool could not be had (tools/promtool.sh: '
           . (split /\n/, $out)[-1] . ')';
    return undef;
}


package TursoMembers::Metrics::Workers;

our @ISA = ('TursoMembers::Test');

sub nginx_conf {
    my $self = shift;
    my $c = $self->SUPER::nginx_conf(@_);
    $c =~ s/^worker_processes 1;/worker_processes 2;/m
        or die 'no worker_processes line';
    return $c;
}

1;
