# Reloads: 20 "nginx -s reload" (SIGHUP to the master) under steady
# loopback load must not fail a single request, and a reload is how the
# token rotates: the upstream receives the new token at once, and a token
# file readable by everyone draws a [warn] when it is loaded.
#
# The load is wrk (Debian's `wrk`) with a Lua script that checks every
# answer's status and body; without wrk, a few Perl keep-alive clients.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use POSIX ();
use Time::HiRes qw(sleep time);

my $LIST = '/v1/organizations/acme/members';
my $RELOADS = 20;
my $LOAD_SECS = 20;

my $t = TursoMembers::Test->new;

# Sends SIGHUP; waits until a worker that was not there before runs and
# every old worker has exited (an old worker accepts connections until
# the master tells it to quit, after the new ones started; it exits once
# its requests are done, within worker_shutdown_timeout 2s).  Returns true
# if the reload took effect within 5 s.
sub reload {
    my @old = $t->workers;
    my %old = map { $_ => 1 } @old;
    kill 'HUP', $t->{pid} or return 0;
    my $deadline = time + 5;
    while (time < $deadline) {
        my @now = $t->workers;
        return 1 if grep({ !$old{$_} } @now) && !grep({ $old{$_} } @now);
        sleep 0.02;
    }
    return 0;
}

# The mock's answer to the list, as every load request must get it.
$t->mock_reset;
my $canonical = $t->request(method => 'GET', path => $LIST)->{body};
like $canonical, qr/^\{"members":\[\{"username":"alice"/, 'the list answer';

# --- load ------------------------------------------------------------------

# Starts the load in the background; returns a sub that waits for it and
# returns { requests, non2xx, badbody, socket_errors, tool }.
sub start_load {
    my $out = $t->prefix . '/logs/load.out';
    my $wrk = `sh -c 'command -v wrk' 2>/dev/null`;
    chomp $wrk;

    if ($wrk) {
        my $lua = $t->write_file('conf/check.lua', <<'LUA');
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    want = args[1]; n = 0; non2xx = 0; bad = 0; sample = ""
end
function response(status, headers, body)
    n = n + 1
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if sample == "" then sample = status .. " " .. (body or "") end
    elseif body ~= want then
        bad = bad + 1
        if sample == "" then sample = "body " .. (body or "") end
    end
end
function done(summary, latency, requests)
    local n_, x_, b_, s_ = 0, 0, 0, ""
    for _, th in ipairs(threads) do
        n_ = n_ + th:get("n"); x_ = x_ + th:get("non2xx")
        b_ = b_ + th:get("bad")
        if s_ == "" then s_ = th:get("sample") end
    end
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d non2xx=%d badbody=%d connect=%d read=%d " ..
        "write=%d timeout=%d\nSAMPLE %s\n",
        n_, x_, b_, e.connect, e.read, e.write, e.timeout, s_))
end
LUA
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', $out or die;
            open STDERR, '>&', \*STDOUT or die;
            exec $wrk, '-t', 2, '-c', 8, '-d', "${LOAD_SECS}s", '--timeout', '3s',
                 '-s', $lua, 'http://127.0.0.1:' . $t->port . $LIST,
                 '--', $canonical
                or POSIX::_exit(127);
        }
        return sub {
            waitpid $pid, 0;
            my $text = TursoMembers::Test::slurp($out);
            diag $text =~ s/^/  /gmr;
            my %r = $text =~ /(\w+)=(\d+)/g;
            my ($sample) = $text =~ /^SAMPLE (.*)$/m;
            return { tool => 'wrk', requests => $r{requests} // 0,
                     non2xx => $r{non2xx} // -1, badbody => $r{badbody} // -1,
                     socket_errors => ($r{connect} // 0) + ($r{read} // 0)
                                      + ($r{write} // 0) + ($r{timeout} // 0),
                     sample => $sample // '', raw => $text };
        };
    }

    # Perl fallback: 4 keep-alive clients, each reconnecting when nginx
    # closes its connection (as an old worker does after a reload).
    my @kids;
    for my $i (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my %c = (requests => 0, non2xx => 0, badbody => 0,
                     socket_errors => 0);
            my $deadline = time + $LOAD_SECS;
            my $conn;
            while (time < $deadline) {
                $conn //= eval { $t->connect };
                unless ($conn) { $c{socket_errors}++; sleep 0.05; next }
                my $r = $conn->request(method => 'GET', path => $LIST);
                if ($r->{status} == 0) {
                    # closed between two requests: a reconnect, not a failure
                    # unless nothing of an answer came
                    $c{socket_errors}++ if length($r->{partial} // '');
                    $conn->close;
                    undef $conn;
                    next;
                }
                $c{requests}++;
                if ($r->{status} !~ /^2/) { $c{non2xx}++ }
                elsif ($r->{body} ne $canonical) { $c{badbody}++ }
            }
            TursoMembers::Test::spew("$out.$i",
                join(' ', map { "$_=$c{$_}" } sort keys %c));
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    return sub {
        waitpid $_, 0 for @kids;
        my %sum = (tool => 'perl');
        for my $i (1 .. 4) {
            my %r = TursoMembers::Test::slurp("$out.$i") =~ /(\w+)=(\d+)/g;
            $sum{$_} += $r{$_} // 0 for qw(requests non2xx badbody socket_errors);
        }
        $sum{sample} = '';
        return \%sum;
    };
}

subtest "$RELOADS reloads under load" => sub {
    $t->mock_reset;
    my $mark = $t->log_mark;
    my $start = time;
    my $wait = start_load();

    sleep 1;
    my $held = 0;
    for my $i (1 .. $RELOADS) {
        $held++ if reload();
        sleep 0.7;
    }
    my $res = $wait->();
    my $took = time - $start;

    is $held, $RELOADS, "$held reloads took effect (new workers)";
    ok $res->{requests} > 100, "$res->{requests} requests with $res->{tool}";
    is $res->{non2xx}, 0, 'no answer other than 2xx'
        or diag $res->{sample};
    is $res->{badbody}, 0, 'every body is the upstream answer'
        or diag $res->{sample};
    # A socket error is a keep-alive connection an old worker closed at
    # its graceful exit just as the client sent its next request on it
    # (wrk counts that as a read error and reconnects; nginx sent no
    # answer, so nothing failed that a client may not retry).  At most
    # one per connection and reload.
    ok $res->{socket_errors} <= 8 * $RELOADS,
       "socket errors: $res->{socket_errors} (connections closed by "
       . "exiting workers, at most one per connection and reload)";
    ok $took < $LOAD_SECS + 10, sprintf('bounded (%.0fs)', $took);

    my $log = $t->error_log_since($mark);
    unlike $log, qr/\[(alert|crit|emerg)\]/, 'no alert, crit or emerg';
    my @reloads = $log =~ /#\d+: (reconfiguring)$/mg;
    is scalar @reloads, $RELOADS, 'the master logged every reconfiguration';

    diag sprintf "reloads held: %d/%d; %d requests in %.0fs (%s), "
                 . "non-2xx %d, wrong body %d, socket errors %d",
                 $held, $RELOADS, $res->{requests}, $took, $res->{tool},
                 $res->{non2xx}, $res->{badbody}, $res->{socket_errors};
};

# --- token rotation ----------------------------------------------------------

my $token_file = $t->{token_file};

sub token_seen {
    my $u = $t->upstream_requests;
    return @$u ? $u->[-1]{headers}{authorization} : undef;
}

subtest 'a reload rotates the token' => sub {
    my $conn = $t->connect;               # a keep-alive client across reloads

    $t->mock_reset;
    is $conn->request(method => 'GET', path => $LIST)->{status}, 200,
       'served with the first token';
    is token_seen(), 'Bearer test-token', 'the upstream got the first token';

    TursoMembers::Test::spew($token_file, "rotated-token-2\n");
    chmod 0600, $token_file;
    ok reload(), 'reloaded';

    # the mock accepts only test-token: a 401, answered as a 502
    $t->mock_reset;
    my $r = $t->request(method => 'GET', path => $LIST);
    error_is $r, 502, 'upstream_unauthorized', 'the new token is refused';
    is token_seen(), 'Bearer rotated-token-2',
       'the upstream got the new token at once';

    # the old connection belonged to an old worker: closed, or served
    # with the new token
    $t->mock_reset;
    my $old = $conn->request(method => 'GET', path => $LIST);
    ok $old->{status} == 0 || $old->{status} == 502,
       "an old keep-alive connection never uses the old token ($old->{status})";
    is token_seen(), 'Bearer rotated-token-2', 'not the old token'
        if $old->{status};
    $conn->close;

    TursoMembers::Test::spew($token_file, "test-token\n");
    ok reload(), 'reloaded';
    $t->mock_reset;
    my $mark = $t->log_mark('access.log');
    is $t->request(method => 'GET', path => $LIST)->{status}, 200,
       'the first token again';
    is token_seen(), 'Bearer test-token';

    # every line, the last request's too (written after its answer)
    $t->wait_log('access.log', qr/" 200 /, $mark);
    unlike $t->error_log . $t->access_log, qr/rotated-token/,
           'the rotated token is in no log';
};

subtest 'a world-readable token file draws a [warn] at load' => sub {
    chmod 0644, $token_file;
    my $mark = $t->log_mark;
    ok reload(), 'reloaded';
    my $log = $t->error_log_since($mark);
    like $log, qr/\[warn\].*\Q$token_file\E/, 'a [warn] naming the file'
        or diag $log;
    unlike $log, qr/test-token/, 'without the token';
    $t->mock_reset;
    is $t->request(method => 'GET', path => $LIST)->{status}, 200,
       'still served';

    chmod 0600, $token_file;
    $mark = $t->log_mark;
    ok reload(), 'reloaded';
    unlike $t->error_log_since($mark), qr/\[warn\].*token/,
           'no warning once it is 0600';
};

done_testing;
