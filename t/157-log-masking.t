# No fragment of a token in the log: the line that quotes an upstream
# error body (at error for 401 and 403, at info for the rest) masks every
# run of 8 or more bytes of any token the location holds, before the body
# is cut at 512 bytes (an echo straddling the cut once left half a token)
# and after it is escaped.  Checked by looking for every 8-byte window of
# every token in error.log.  The same holds for a token echoed encoded:
# percent-encoded, with \u escapes, JSON-escaped, in base64 or base64url
# (of the token or of "Bearer <token>", at each offset, padded or not),
# checked by looking for every 8 characters of each form; a compressed
# (Content-Encoding) or binary body is not quoted at all.

use strict;
use warnings;

use lib 't/lib';

use IO::Compress::Gzip qw(gzip $GzipError);
use MIME::Base64 qw(encode_base64);

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

# The token in each encoded form an upstream could echo: name => the
# encoded bytes of the token one by one (base64: the whole text, one).
sub forms {
    my ($tok) = @_;
    my @c = split //, $tok;
    my %f;
    for my $lower (0, 1) {
        for my $some (0, 1) {
            my $i = 0;
            $f{"percent lower=$lower some=$some"} = [ map {
                ($some && $i++ % 2) ? $_
                : sprintf($lower ? '%%%02x' : '%%%02X', ord $_) } @c ];
            $i = 0;
            $f{"\\u lower=$lower some=$some"} = [ map {
                ($some && $i++ % 2) ? $_
                : sprintf($lower ? '\\u%04x' : '\\u%04X', ord $_) } @c ];
        }
    }
    $f{'json-escaped'} = [ map { m{["\\/]} ? "\\$_" : $_ } @c ];
    for my $what ('', 'Bearer ') {
        for my $k (0 .. 2) {
            my $b = encode_base64(('x' x $k) . $what . $tok, '');
            for my $url (0, 1) {
                for my $pad (0, 1) {
                    my $e = $b;
                    $e =~ tr{+/}{-_} if $url;
                    $e =~ s/=+$// unless $pad;
                    $f{"base64 of '${what}token' after $k bytes, url=$url "
                       . "pad=$pad"} = [$e];
                }
            }
        }
    }
    return %f;
}

# What the log must not hold of a token: each 8 bytes of it in each
# byte-by-byte form, as they are and as the log escapes them; in base64,
# every 8 characters that encode only bytes of the token: of its base64
# after 0, 1 or 2 other bytes, in both alphabets, wherever it is in the
# text ("Bearer <token>" is one of those).
sub needles {
    my ($tok) = @_;
    my %forms = forms($tok);
    my @runs;
    for my $name (grep { !/^base64/ } keys %forms) {
        my $p = $forms{$name};
        for my $i (0 .. $#$p - 7) {
            my $run = join '', @$p[$i .. $i + 7];
            (my $logged = $run) =~ s{(["\\])}{\\$1}g;
            push @runs, $run, $logged;
        }
    }
    my %n = map { $_ => 1 } @runs;
    for my $k (0 .. 2) {
        my $b = encode_base64(("\0" x $k) . $tok, '');
        $b =~ s/=+$//;
        # character $i is bits 6i to 6i+6; the token's are 8k to 8k+8n
        my ($first, $last) = (int((8 * $k + 5) / 6),
                              int((8 * $k + 8 * length $tok) / 6) - 1);
        my $run = substr($b, $first, $last - $first + 1);
        (my $url = $run) =~ tr{+/}{-_};
        for my $r ($run, $url) {
            $n{ substr($r, $_, 8) } = 1 for 0 .. length($r) - 8;
        }
    }
    return keys %n;
}

my %NEEDLES = map { $_ => [needles($_)] } @TOKENS;

sub no_encoded {
    my ($text, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @found = fragments($text);
    for my $tok (@TOKENS) {
        push @found, grep { index($text, $_) >= 0 } @{ $NEEDLES{$tok} };
    }
    ok !@found, $name
        or diag 'found: ' . join(' | ', @found[0 .. ($#found > 4 ? 4 : $#found)]);
}

subtest 'the token echoed in encoded forms' => sub {
    for my $tok (@TOKENS) {
        my $org = $tok eq $GLOBEX ? 'globex' : 'acme';
        my %forms = forms($tok);
        for my $status (401, 403, 404) {
            my $mark = $t->log_mark;
            for my $name (sort keys %forms) {
                send_echo($status, '{"error":"invalid token","echo":"'
                                   . join('', @{ $forms{$name} }) . '"}',
                          $org);
            }
            my $log = $t->error_log_since($mark);
            my $lines = () = $log =~ /upstream answered $status/g;
            is $lines, scalar(keys %forms),
               "$status, $org: a line for each of the forms";
            like $log, qr/upstream body: "\{\\"error\\":\\"invalid token\\"/,
                 "$status, $org: the bodies are quoted";
            no_encoded($log, "$status, $org: no 8 characters of the token "
                             . 'in any of ' . scalar(keys %forms) . ' forms');
        }
    }
};

subtest 'encoded text without a token is logged as it is' => sub {
    my $body = 'a%20b %41%42%43 \\u0041\\u0062 QmVhcmVyIGFiYw== '
               . 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJib2IifQ';
    (my $logged = $body) =~ s{\\}{\\\\}g;
    my (undef, $log) = echo(401, $body);
    like $log, qr/upstream body: "\Q$logged\E"/, 'unchanged' or diag $log;
};

# The upstream answers $status with these bytes and headers.
sub send_bytes {
    my ($status, $bytes, $headers, $org) = @_;
    $t->mock_reset;
    $t->mock_script([{ status => $status,
                       body_base64 => encode_base64($bytes, ''),
                       headers => { 'Content-Type' => 'application/json',
                                    %$headers } }]);
    my $mark = $t->log_mark;
    my $r = $t->request(method => 'GET',
                        path => '/v1/organizations/' . ($org // 'acme')
                                . '/members');
    return ($r, $t->error_log_since($mark));
}

subtest 'a compressed or binary body is not quoted' => sub {
    for my $tok (@TOKENS) {
        my $org = $tok eq $GLOBEX ? 'globex' : 'acme';
        my $plain = qq({"error":"token $tok is not valid"});
        gzip(\$plain => \my $gz) or die $GzipError;
        for my $status (401, 403, 404) {
            my ($r, $log) = send_bytes($status, $gz,
                                       { 'Content-Encoding' => 'gzip' },
                                       $org);
            my $n = length $gz;
            like $log, qr/upstream answered $status.*upstream body: \($n bytes, gzip, not quoted\)/,
                 "$status, $org: gzip, not quoted" or diag $log;
            is $r->{headers}{'content-encoding'}, undef,
               "$status, $org: the client's answer is not said to be gzip";
            ok $r->{json} && $r->{json}{error}, "$status, $org: a JSON error";
            no_encoded($log, "$status, $org: nothing of the token");

            ($r, $log) = send_bytes($status, $plain,
                                    { 'Content-Encoding' => 'Br' }, $org);
            like $log, qr/upstream body: \(\d+ bytes, br, not quoted\)/,
                 "$status, $org: any encoding" or diag $log;

            ($r, $log) = send_bytes($status, "\x00\x01binary $tok", {}, $org);
            like $log, qr/upstream body: \(\d+ bytes, not text, not quoted\)/,
                 "$status, $org: binary" or diag $log;

            ($r, $log) = send_bytes($status, "caf\xe9 $tok", {}, $org);
            like $log, qr/upstream body: \(\d+ bytes, not text, not quoted\)/,
                 "$status, $org: not UTF-8" or diag $log;

            ($r, $log) = send_bytes($status, "caf\xc3\xa9 $tok",
                                    { 'Content-Encoding' => 'identity' },
                                    $org);
            like $log, qr/upstream body: "caf\xc3\xa9 \*+"/,
                 "$status, $org: UTF-8 and identity: quoted, masked"
                or diag $log;
            no_encoded($log, "$status, $org: nothing of the token");
        }
    }
};

subtest 'the whole error.log' => sub {
    no_fragment($t->error_log, 'no 8-byte window of any token anywhere');
    no_encoded($t->error_log, 'nor 8 characters of any encoded form');
};

done_testing;
