# W3C Trace Context: a valid traceparent, and the tracestate that goes
# with it, reach the upstream byte for byte; a malformed traceparent (or
# two of them) reaches it not at all, and its tracestate with it.  A
# tracestate that is malformed, longer than 512 bytes or sent twice is
# dropped on its own.  $turso_members_trace_id holds the trace id of a
# valid traceparent, also for a request the gateway refuses.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;

my $t = TursoMembers::Test->new(
    http_config => <<"HTTP",
    upstream spy { server 127.0.0.1:$SPY; }
    log_format trace '\$turso_members_trace_id|\$turso_members_code';
HTTP
    config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            access_log logs/trace.log trace;
            proxy_pass http://spy$turso_members_upstream_uri;
        }
CONF

my $TRACE  = '4bf92f3577b34da6a3ce929d0e0e4736';
my $PARENT = '00f067aa0ba902b7';
my $VALID  = "00-$TRACE-$PARENT-01";
my $STATE  = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
my $LIST   = '/v1/organizations/acme/members';

my $log_seen = 0;

# The access log lines written since the last call, once there is one
# (nginx writes it after the answer).
sub log_lines {
    my $text = $t->wait_log('trace.log', qr/\n/, $log_seen);
    $log_seen += length $text;
    return split /\n/, $text;
}

# Skips what the log holds so far.
sub log_skip {
    $log_seen = length TursoMembers::Test::slurp($t->prefix
                                                 . '/logs/trace.log');
}

# One list request with these headers: the client's answer, the single
# request the spy got (its raw head), and the log line.
sub traced {
    my (@headers) = @_;
    $spy->reset;
    log_skip();
    my $r = $t->request(method => 'GET', path => $LIST,
                        headers => \@headers);
    my @got = $spy->requests;
    my @l = log_lines();
    return ($r, $got[0], $l[0] // '', scalar @got);
}

# The values of a header in a raw head, in order, byte for byte.
sub raw_values {
    my ($head, $name) = @_;
    return [ $head =~ /^\Q$name\E: ([^\r\n]*)\r$/mgi ];
}

subtest 'a valid traceparent and tracestate go upstream as sent' => sub {
    my ($r, $u, $log, $n) = traced("traceparent: $VALID",
                                   "tracestate: $STATE");
    is $r->{status}, 200, 'answered 200';
    is $n, 1, 'one request upstream';
    is_deeply raw_values($u->{head}, 'traceparent'), [$VALID],
              'traceparent, byte for byte';
    is_deeply raw_values($u->{head}, 'tracestate'), [$STATE],
              'tracestate, byte for byte';
    is $log, "$TRACE|ok", '$turso_members_trace_id is the trace id';
};

subtest 'the header name as the client spelled it, flags as sent' => sub {
    my $v = "00-$TRACE-$PARENT-00";
    my ($r, $u, $log) = traced("TraceParent: $v");
    is_deeply raw_values($u->{head}, 'traceparent'), [$v], 'forwarded';
    like $u->{head}, qr/^TraceParent: \Q$v\E\r$/m, 'its spelling';
    is $log, "$TRACE|ok", 'trace id';
};

subtest 'a later version: the four known fields read, the rest passed' => sub {
    for my $v ("01-$TRACE-$PARENT-01", "cc-$TRACE-$PARENT-01-0a1b-2c") {
        my ($r, $u, $log) = traced("traceparent: $v", "tracestate: $STATE");
        is_deeply raw_values($u->{head}, 'traceparent'), [$v],
                  "$v forwarded";
        is_deeply raw_values($u->{head}, 'tracestate'), [$STATE],
                  'with its tracestate';
        is $log, "$TRACE|ok", 'trace id';
    }
};

my $ZERO_TRACE = '0' x 32;
my $ZERO_PARENT = '0' x 16;
my @malformed = (
    [ 'one byte short',     "00-$TRACE-$PARENT-0" ],
    [ 'one byte long',      "00-$TRACE-$PARENT-011" ],
    [ 'a short trace id',   '00-' . substr($TRACE, 1) . "-$PARENT-01" ],
    [ 'uppercase hex',      '00-' . uc($TRACE) . "-$PARENT-01" ],
    [ 'uppercase flags',    "00-$TRACE-$PARENT-0A" ],
    [ 'an all-zero trace id',  "00-$ZERO_TRACE-$PARENT-01" ],
    [ 'an all-zero parent id', "00-$TRACE-$ZERO_PARENT-01" ],
    [ 'version ff',         "ff-$TRACE-$PARENT-01" ],
    [ 'version 00 with an extra field', "00-$TRACE-$PARENT-01-ab" ],
    [ 'a later version, extra without a dash', "01-$TRACE-$PARENT-01ab" ],
    [ 'a later version, extra not hex', "01-$TRACE-$PARENT-01-xyz" ],
    [ 'not hex',            "00-$TRACE-$PARENT-0g" ],
    [ 'underscores',        "00_${TRACE}_${PARENT}_01" ],
    [ 'spaces inside',      "00- $TRACE-$PARENT-01" ],
    [ 'a longer later version', '01-' . $TRACE . "-$PARENT-01-"
                                . ('a' x 202) ],
);

for my $case (@malformed) {
    my ($name, $v) = @$case;
    subtest "dropped: $name" => sub {
        my ($r, $u, $log, $n) = traced("traceparent: $v",
                                       "tracestate: $STATE");
        is $r->{status}, 200, 'the request itself goes on';
        is $n, 1, 'one request upstream';
        is_deeply raw_values($u->{head}, 'traceparent'), [],
                  'no traceparent upstream';
        is_deeply raw_values($u->{head}, 'tracestate'), [],
                  'no tracestate upstream';
        is $log, '-|ok', 'no trace id';
    };
}

subtest 'dropped: two traceparent headers, even two valid ones' => sub {
    my ($r, $u, $log) = traced("traceparent: $VALID", "traceparent: $VALID",
                               "tracestate: $STATE");
    is_deeply raw_values($u->{head}, 'traceparent'), [], 'no traceparent';
    is_deeply raw_values($u->{head}, 'tracestate'), [], 'no tracestate';
    is $log, '-|ok', 'no trace id';
};

subtest 'a tracestate without a traceparent goes nowhere' => sub {
    my ($r, $u, $log) = traced("tracestate: $STATE");
    is_deeply raw_values($u->{head}, 'tracestate'), [], 'no tracestate';
    is $log, '-|ok', 'no trace id';
};

my @bad_state = (
    [ 'longer than 512 bytes', join ',', map { "k$_=" . ('v' x 40) } 1 .. 12 ],
    [ 'an uppercase key',      'Congo=t61rcWkgMzE' ],
    [ 'no "="',                'congo' ],
    [ 'an empty value',        'congo=' ],
    [ 'a "=" in the value',    'congo=a=b' ],
    [ 'a non-ASCII value',     "congo=caf\xc3\xa9" ],
    [ 'more than 32 members',  join ',', map { "k$_=v" } 1 .. 33 ],
);

for my $case (@bad_state) {
    my ($name, $s) = @$case;
    subtest "tracestate dropped alone: $name" => sub {
        my ($r, $u, $log) = traced("traceparent: $VALID",
                                   "tracestate: $s");
        is_deeply raw_values($u->{head}, 'traceparent'), [$VALID],
                  'the traceparent goes on';
        is_deeply raw_values($u->{head}, 'tracestate'), [],
                  'no tracestate';
        is $log, "$TRACE|ok", 'trace id';
    };
}

subtest 'tracestate dropped alone: two of them' => sub {
    my ($r, $u) = traced("traceparent: $VALID", 'tracestate: a=1',
                         'tracestate: b=2');
    is_deeply raw_values($u->{head}, 'traceparent'), [$VALID], 'traceparent';
    is_deeply raw_values($u->{head}, 'tracestate'), [], 'no tracestate';
};

subtest 'a tracestate at the bounds passes' => sub {
    my $ok = join ' , ', 'a@tenant=x y', 'b-_*/c=~!', '', 'k=v';
    my ($r, $u) = traced("traceparent: $VALID", "tracestate: $ok");
    is_deeply raw_values($u->{head}, 'tracestate'), [$ok],
              'spaces, empty members, tenant keys: as sent';

    my $max = join ',', map { sprintf 'k%02d=%s', $_, 'v' x 11 } 1 .. 32;
    $max .= 'v' x (512 - length $max);
    is length $max, 512, '512 bytes';
    ($r, $u) = traced("traceparent: $VALID", "tracestate: $max");
    is_deeply raw_values($u->{head}, 'tracestate'), [$max],
              '32 members, 512 bytes: as sent';
};

subtest 'a refused request logs its trace id, and nothing goes up' => sub {
    $spy->reset;
    log_skip();
    my $r = $t->request(method => 'POST', path => $LIST,
                        headers => ["traceparent: $VALID"],
                        body => '{"username":"bob","role":"owner"}');
    is $r->{status}, 400, 'invalid role: 400';
    my @l = log_lines();
    is $l[0], "$TRACE|invalid_role", 'the trace id in the log';
    is scalar($spy->requests), 0, 'nothing upstream';
};

done_testing;
