# ./build.sh run: the gateway with the bundled Turso mock, as the README
# shows it.  The README's example commands give the outputs it shows (the
# request ids aside), the metrics page and the audit log work, and the
# script stops cleanly -- on a TERM to the script and on Ctrl-C (INT to its
# process group) -- leaving no nginx, no mock and both ports free, with no
# error printed; it starts again right after.
#
# Free ports of the harness's, not the README's 8080, 8081 and 8082 (a
# server may hold them, and two suites on one machine would race for
# them): TURSO_MEMBERS_RUN_PORT, TURSO_MEMBERS_RUN_MOCK_PORT and
# TURSO_MEMBERS_RUN_PORTAL_PORT; that the README's ports are the script's
# defaults is read from both.  The run directory is under this test's
# servroot (TURSO_MEMBERS_RUN_DIR), or, as root, the build/run of a copy
# of the checkout in a 0700 folder, where the example portal must still be
# served (200 on the portal port).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use JSON::PP;
use Net::EmptyPort qw(can_bind wait_port);
use POSIX qw(setsid WNOHANG);
use Time::HiRes qw(sleep time);

plan skip_all => './build.sh run uses the packaged nginx and the built '
                 . 'module, not the nginx under test'
    if $ENV{TEST_NGINX_STATIC} || $ENV{TEST_NGINX_BINARY};
plan skip_all => 'no build/ngx_turso_members_module.so: run ./build.sh'
    unless -f 'build/ngx_turso_members_module.so';

my ($gw, $mock, $portal) = (free_port(), free_port(), free_port());

my %default = TursoMembers::Test::slurp('build.sh')
    =~ /^run_(gateway|mock|portal)_port=\$\{TURSO_MEMBERS_RUN_\w+:-(\d+)\}$/mg;
is_deeply \%default, { gateway => 8080, mock => 8081, portal => 8082 },
          "build.sh run's ports by default: 8080, 8081, 8082";
my $readme = TursoMembers::Test::slurp('README.md');
like $readme, qr{^    build\.sh: gateway on http://127\.0\.0\.1:8080 -> }m,
     'the README says so: the gateway on 8080';
like $readme, qr{-> the bundled Turso mock on 127\.0\.0\.1:8081$}m,
     '... the mock on 8081';
like $readme, qr{<http://127\.0\.0\.1:8082/>}, '... the portal on 8082';

# As a user runs it: as root, from a checkout in a folder only root may
# enter (under /root, or what mktemp -d makes), where nginx's workers
# (nobody) cannot read the checkout's files.  A copy of the tracked files
# as they are now, in a 0700 directory; it builds its own build/, and
# build/run is the run directory, as for the user.  Otherwise this
# checkout, with the run directory under this test's servroot.
my $top = '.';
my $dir = TursoMembers::Test::servroot_dir() . '/run';
if ($> == 0) {
    my $private = TursoMembers::Test::servroot_dir() . '/private';
    mkdir $private;
    chmod 0700, $private or die "chmod $private: $!";
    $top = "$private/checkout";
    mkdir $top or die "mkdir $top: $!";
    system("git ls-files -z | tar --null -T - -cf - | tar -xf - -C '$top'")
        == 0 or die 'copying the checkout failed';
    $dir = "$top/build/run";
}
my $out_n = 0;

# Starts ./build.sh run in its own session; returns (pid, output file).
sub start_run {
    my $out = TursoMembers::Test::servroot_dir() . '/run.out.' . ++$out_n;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null' or die;
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        $ENV{TURSO_MEMBERS_RUN_PORT} = $gw;
        $ENV{TURSO_MEMBERS_RUN_MOCK_PORT} = $mock;
        $ENV{TURSO_MEMBERS_RUN_PORTAL_PORT} = $portal;
        $ENV{TURSO_MEMBERS_RUN_DIR} = $dir if $top eq '.';
        delete $ENV{TURSO_API_TOKEN};
        exec "$top/build.sh", 'run';
        die "exec: $!";
    }
    my $up = wait_port({ port => $gw, max_wait => 120 });
    ok $up, "./build.sh run #$out_n listens on $gw"
        or diag TursoMembers::Test::slurp($out);
    # the script prints its lines once it has seen nginx listen
    my $deadline = time + 10;
    sleep 0.05 while time < $deadline
                     && TursoMembers::Test::slurp($out) !~ /stop: Ctrl-C/;
    return ($pid, $out);
}

sub alive { my $pid = shift; return $pid && kill(0, $pid) }

# Waits for the script; returns its wait status or undef (killed).
sub reap {
    my ($pid) = @_;
    my $deadline = time + 15;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', -$pid;
    waitpid $pid, 0;
    return undef;
}

# The stop: the script gone, nothing printed that looks like an error,
# nginx and the mock gone, the ports free.
sub stopped_cleanly {
    my ($how, $pid, $out, $nginx) = @_;

    my $st = reap($pid);
    ok defined $st, "$how: the script ends";
    my $text = TursoMembers::Test::slurp($out);
    my @bad = grep { /unbound variable|error(?!\.log)|No such|Terminated|line \d+:/i }
              split /\n/, $text;
    ok !@bad, "$how: no error printed" or diag join "\n", @bad;
    like $text, qr/^build\.sh: stopped$/m, "$how: it says it stopped";
    ok !alive($nginx), "$how: the nginx master (pid $nginx) is gone";
    ok !mock_pids(), "$how: the mock is gone" or diag join ' ', mock_pids();
    ok can_bind('127.0.0.1', $gw), "$how: $gw is free";
    ok can_bind('127.0.0.1', $mock), "$how: $mock is free";
    ok can_bind('127.0.0.1', $portal), "$how: $portal is free";
}

sub mock_pids {
    my @pids;
    for my $cmdline (glob '/proc/[0-9]*/cmdline') {
        my $c = TursoMembers::Test::slurp($cmdline);
        push @pids, $cmdline =~ m{(\d+)} if $c =~ /turso-mock\.js\x00--port\x00$mock\x00/;
    }
    return @pids;
}

sub nginx_pid {
    my $pid = TursoMembers::Test::slurp("$dir/logs/nginx.pid");
    chomp $pid;
    return $pid;
}

sub curl {
    my ($cmd) = @_;
    $cmd =~ s/127\.0\.0\.1:8080/127.0.0.1:$gw/g;
    my $out = `$cmd`;
    chomp $out;
    return $out;
}


# --- the first run: the README's examples, metrics, audit log -------------

my ($pid, $out) = start_run();
my $text = TursoMembers::Test::slurp($out);
like $text, qr/stop: Ctrl-C/, 'it says how to stop';
like $text, qr{^\Qbuild.sh: gateway on http://127.0.0.1:$gw -> the bundled \E
                \QTurso mock on 127.0.0.1:$mock\E$}mx,
     "the README's first line, on this run's ports";
like $text, qr/alice \(owner\), carol \(admin\)/, "it names the mock's members";
like $text, qr/bob, dave, erin, frank/, "and the mock's other users";

# the README's examples: "$ curl ..." lines, each followed by its output
my @examples = $readme =~ /^    \$ (curl [^\n]+)\n((?:    [^\$\n][^\n]*\n)+)/mg;
ok @examples >= 6, 'the README shows at least three commands and outputs';
while (my ($cmd, $want) = splice @examples, 0, 2) {
    $want =~ s/^    //mg;
    chomp $want;
    my $got = curl($cmd);
    # request ids differ from run to run
    s/"request_id":"[0-9a-f]{32}"/"request_id":"..."/g for $got, $want;
    is $got, $want, "README: $cmd";
}

my $metrics = curl("curl -s http://127.0.0.1:8080/metrics");
like $metrics, qr/^turso_members_requests_total\{organization="\*",operation="add_member",code="ok",upstream_status="200"\} \d+$/m,
     'the metrics page counts the requests';

my @audit = split /\n/, TursoMembers::Test::slurp("$dir/logs/audit.log");
ok @audit >= 3, 'the audit log has a line per request';
my $a = eval { decode_json($audit[0]) };
ok $a && $a->{operation} eq 'add_member' && $a->{org} eq 'acme'
      && $a->{request_id} =~ /^[0-9a-f]{32}$/,
   'audit lines are JSON with the operation, organization, request id'
    or diag $audit[0];

# the example portal, on its own origin
my $page = curl("curl -s -w '\n%{http_code}' http://127.0.0.1:$portal/");
my ($status) = $page =~ /(\d+)\z/;
is $status, 200, "the portal: 200 on $portal"
    or diag TursoMembers::Test::slurp("$dir/logs/error.log");
is $page, TursoMembers::Test::slurp("$top/examples/portal/index.html")
          . "\n200", '... examples/portal/index.html';
my ($www) = $text =~ /a copy in (\S+)\/portal$/m;
ok $www && -d $www, 'it says where the copy the workers read is';
if ($> == 0 && $top ne '.') {
    like $www, qr{^\Q${\($ENV{TMPDIR} || '/tmp')}\E/|^/tmp/},
         '... in the temp folder, out of the 0700 checkout';
}
ok !-e "$dir/client_body_temp" && !-e "$dir/proxy_temp",
   'no temp directory in the run directory itself';

my $nginx = nginx_pid();
ok alive($nginx), "nginx runs (pid $nginx)";
ok scalar(mock_pids()), 'the mock runs';

kill 'TERM', $pid;
stopped_cleanly('TERM to the script', $pid, $out, $nginx);
ok !-e $www, 'the copy is gone' if $www && $www !~ /^\Q$dir\E/;


# --- again at once; stopped with Ctrl-C -------------------------------------

($pid, $out) = start_run();
is curl(q{curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/v1/organizations/acme/members}),
   '200', 'the second run serves';
$nginx = nginx_pid();
kill 'INT', -$pid;          # what the terminal does on Ctrl-C
stopped_cleanly('Ctrl-C', $pid, $out, $nginx);

# and once more, after Ctrl-C
($pid, $out) = start_run();
$nginx = nginx_pid();
kill 'TERM', $pid;
stopped_cleanly('TERM after Ctrl-C', $pid, $out, $nginx);

done_testing;
