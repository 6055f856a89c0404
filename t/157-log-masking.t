# No fragment of a token in the log: the line that quotes an upstream
# error body (at error for 401 and 403, at info for the rest) masks every
# run of 8 or more bytes of any token the location holds, before the body
# is cut at 512 bytes (an echo straddling the cut once left half a token)
# and after it is escaped.  Checked by looking for every 8-byte window of
# every token in error.log.

use strict;
use warnings;

use lib 't/lib';

use TursoMembers::Test;

# the default token, the mock's unrestricted one (before the first new())
$TursoMembers::Test::TOKEN = 'tk.DEFAULT.s3cr3t-0123456789.abcdefghij';

my $DEFAULT = $TursoMembers::Test::TOKEN;
my $GLOBEX  = 'tk.GLOBEX.q"uote\\slash-9876543210.ZYXWV';
my @TOKENS  = ($DEFAULT, $GLOBEX);

my $t = TursoMembers::Test->new(start => 0, config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_token_file %%PREFIX%%/conf/globex.token organization=globex;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF
TursoMembers::Test::spew($t->prefix . '/conf/globex.token', "$GLOBEX\n");
chmod 0644, $t->prefix . '/conf/globex.token';
$t->start;
$t->mock_tokens({ $DEFAULT => '*', $GLOBEX => 'globex' });

# Every 8-byte window of every token found in $text.
sub fragments {
    my ($text) = @_;
    my @found;
    for my $tok (@TOKENS) {
        for my $i (0 .. length($tok) - 8) {
            my $w = substr($tok, $i, 8);
            push @found, $w if index($text, $w) >= 0;
        }
    }
    return @found;
}

sub no_fragment {
    my ($text, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @f = fragments($text);
    ok !@f, $name or diag 'found: ' . join(' | ', @f[0 .. ($#f > 4 ? 4 : $#f)]);
}

# An upstream error whose body is $body; the lines logged meanwhile.
sub echo {
    my ($status, $body, $org) = @_;
    $t->mock_reset;
    $t->mock_script([{ status => $status, body => $body,
                       headers => { 'Content-Type' => 'application/json' } }]);
    my $mark = $t->log_mark;
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/' . ($org // 'acme')
                                . '/members');
    my $log = $t->error_log_since($mark);
    return ($r, $log);
}

my @STATUSES = (401, 403, 404, 409, 500, 400);

# The upstream answers $status with $body; nothing is read from the log.
sub send_echo {
    my ($status, $body, $org) = @_;
    $t->mock_reset;
    $t->mock_script([{ status => $status, body => $body,
                       headers => { 'Content-Type' => 'application/json' } }]);
    return $t->request(method => 'GET',
                       path => '/v1/organizations/' . ($org // 'acme')
                               . '/members');
}

subtest 'the token echoed whole, at every offset around the cut' => sub {
    for my $status (@STATUSES) {
        for my $tok (@TOKENS) {
            my $mark = $t->log_mark;
            for my $off (470 .. 530) {
                send_echo($status, ('z' x $off) . $tok . ' and then text',
                          $tok eq $GLOBEX ? 'globex' : 'acme');
            }
            my $log = $t->error_log_since($mark);
            my $lines = () = $log =~ /upstream answered $status/g;
            is $lines, 61, "$status: 61 lines quote the body";
            if ($status == 401 || $status == 403) {
                my $errors = () = $log =~ /\[error\].*upstream answered/g;
                is $errors, 61, "$status: at error";
            }
            no_fragment($log, "$status: no 8 bytes of "
                              . ($tok eq $GLOBEX ? 'globex' : 'the default')
                              . "'s token at any offset 470..530");
        }
    }
};

subtest 'what is around the token is still logged' => sub {
    my (undef, $log) = echo(401, 'before ' . $DEFAULT . ' after');
    like $log, qr/upstream body: "before \*+ after"/,
         'the token masked, the rest kept' or diag $log;
    (undef, $log) = echo(404, '{"error":"could not find user ' . $DEFAULT . '"}');
    like $log, qr/could not find user \*+\\"/, 'at info too' or diag $log;
};

subtest 'pieces of a token' => sub {
    for my $tok (@TOKENS) {
        my $n = length $tok;
        my @pieces = (
            substr($tok, 0, 8), substr($tok, -8), substr($tok, 5, 8),
            substr($tok, 3, 12), substr($tok, 0, int($n / 2)),
            substr($tok, int($n / 2)),
            # one byte changed in the middle: both halves are runs
            substr($tok, 0, 12) . '#' . substr($tok, 13),
            # the pieces in another order, glued
            substr($tok, 20) . substr($tok, 0, 20),
            # with "Bearer " and inside JSON
            qq({"error":"bad token","echo":"Bearer $tok"}),
            # twice, overlapping runs
            substr($tok, 0, 10) . substr($tok, 4, 10),
        );
        for my $status (@STATUSES) {
            my $mark = $t->log_mark;
            for my $i (0 .. $#pieces) {
                for my $off (0, 497, 504, 508) {
                    send_echo($status, ('y' x $off) . $pieces[$i] . ' tail',
                              $tok eq $GLOBEX ? 'globex' : 'acme');
                }
            }
            no_fragment($t->error_log_since($mark),
                        "$status: no 8 bytes of a token from "
                        . scalar(@pieces) . ' pieces at 4 offsets');
        }
    }
};

subtest 'a token of the other organization in the same location' => sub {
    # the request is acme's (the default token), the echo is globex's
    my (undef, $log) = echo(403, "nope $GLOBEX nope");
    no_fragment($log, 'globex\'s token echoed on acme\'s request');
    like $log, qr/nope \*+ nope/, 'masked';
};

subtest 'the whole error.log' => sub {
    no_fragment($t->error_log, 'no 8-byte window of any token anywhere');
};

done_testing;
