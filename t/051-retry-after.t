# The upstream's Retry-After reaches the client, byte for byte, beside the
# gateway's JSON error, when the upstream answered 429 or 503 with exactly
# one Retry-After of 1 to 128 digits or an HTTP-date as senders write it.
# On any other status, and when it is ambiguous or malformed (any other
# text: the gateway's token echoed, too), it is dropped with the
# upstream's other headers (docs/errors.md).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(config => default_locations() . <<'CONF');
        location /problem/ {
            rewrite ^/problem(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_error_format problem;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

my $DATE = 'Wed, 21 Oct 2026 07:28:00 GMT';

# The values of one header of an answer, every occurrence, in order.
sub answer_headers {
    my ($r, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name }
           @{ $r->{header_list} || [] };
}

# Adds bob to acme once the mock answers $status with %headers
# (a list value: that header several times).
sub answered {
    my ($status, %headers) = @_;
    my %a = (path => ADD_MEMBER);
    %a = (%a, %{ delete $headers{_request} }) if $headers{_request};
    $t->mock_reset;
    $t->mock_script([{ status => $status, headers => \%headers,
                       body => '{"error":"slow down"}' }]);
    my $c = delete $a{conn};
    my $r = ($c // $t->connect)->request(method => 'POST',
                                         body => '{"username":"bob"}', %a);
    is scalar @{ $t->upstream_requests }, 1, 'the request reached the upstream';
    return $r;
}

subtest '429 with Retry-After: seconds -> 429 rate_limited, Retry-After as sent' => sub {
    my $r = answered(429, 'Retry-After' => '30', 'X-Upstream-Only' => 'x');
    error_is $r, 429, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], ['30'],
              'exactly one Retry-After, the upstream\'s value';
    is_deeply [answer_headers($r, 'X-Upstream-Only')], [],
              'the upstream\'s other headers are dropped';
};

subtest '429 with Retry-After: an HTTP-date -> passed byte for byte' => sub {
    my $r = answered(429, 'Retry-After' => $DATE);
    error_is $r, 429, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], [$DATE];
};

subtest '503 with Retry-After -> 502 upstream_error, Retry-After as sent' => sub {
    my $r = answered(503, 'Retry-After' => '120');
    error_is $r, 502, 'upstream_error';
    is_deeply [answer_headers($r, 'Retry-After')], ['120'];

    $r = answered(503, 'Retry-After' => $DATE);
    error_is $r, 502, 'upstream_error';
    is_deeply [answer_headers($r, 'Retry-After')], [$DATE];
};

subtest 'problem format: Retry-After beside the problem object' => sub {
    my $r = answered(429, 'Retry-After' => '7',
                     _request => { path => '/problem' . ADD_MEMBER });
    is $r->{status}, 429;
    is $r->{headers}{'content-type'}, 'application/problem+json';
    is $r->{json}{code}, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], ['7'];
};

for my $status (404, 500, 502, 400, 401) {
    subtest "$status with Retry-After: dropped" => sub {
        my $r = answered($status, 'Retry-After' => '30');
        is $r->{json}{status}, $r->{status}, 'the gateway\'s JSON error';
        is_deeply [answer_headers($r, 'Retry-After')], [],
                  'no Retry-After';
    };
}

subtest 'two Retry-After headers: both dropped' => sub {
    my $r = answered(429, 'Retry-After' => ['30', '60']);
    error_is $r, 429, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], [], 'no Retry-After';

    $r = answered(503, 'Retry-After' => ['30', '30']);
    error_is $r, 502, 'upstream_error';
    is_deeply [answer_headers($r, 'Retry-After')], [],
              'not even two equal ones';
};

subtest 'a Retry-After that is not printable ASCII or too long: dropped' => sub {
    # UTF-8 for the mock's JSON; it sends the one byte 0xE9 (Latin-1)
    my $r = answered(429, 'Retry-After' => "3\xc3\xa9");
    error_is $r, 429, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], [], 'a non-ASCII byte';

    $r = answered(429, 'Retry-After' => "3\t0");
    is_deeply [answer_headers($r, 'Retry-After')], [], 'a tab';

    $r = answered(429, 'Retry-After' => '1' x 129);
    is_deeply [answer_headers($r, 'Retry-After')], [], '129 bytes';

    $r = answered(429, 'Retry-After' => '1' x 128);
    is_deeply [answer_headers($r, 'Retry-After')], ['1' x 128], '128 bytes';
};

subtest 'a Retry-After neither seconds nor an HTTP-date: dropped' => sub {
    my $TOKEN = $TursoMembers::Test::TOKEN;

    # the upstream echoing the gateway's token, as the value or in a date
    # that nginx's lenient date parser would read (it skips the weekday
    # and what follows the seconds)
    for my $v ($TOKEN, "Bearer $TOKEN", "$TOKEN, 21 Oct 2026 07:28:00 GMT",
               "Wed, 21 Oct 2026 07:28:00 $TOKEN",
               'Wed, 21 Oct 2026 07:28:00 GMTX',
               'Wed, 21 Oct 2026 07:28:00 XYZ',
               'Wednesday, 21-Oct-26 07:28:00 GMT',
               'Wed Oct 21 07:28:00 2026', 'soon', '-5', '+5', '5 s', '1.5')
    {
        my $r = answered(429, 'Retry-After' => $v);
        error_is $r, 429, 'rate_limited';
        is_deeply [answer_headers($r, 'Retry-After')], [], "'$v'";
    }

    # a date is passed as written, weekday and all
    my $r = answered(503, 'Retry-After' => 'Sun, 06 Nov 1994 08:49:37 GMT');
    is_deeply [answer_headers($r, 'Retry-After')],
              ['Sun, 06 Nov 1994 08:49:37 GMT'], 'a past date';
    $r = answered(503, 'Retry-After' => 'Thu, 21 Oct 2026 07:28:00 GMT');
    is_deeply [answer_headers($r, 'Retry-After')], [], 'a wrong weekday';
    $r = answered(429, 'Retry-After' => '0');
    is_deeply [answer_headers($r, 'Retry-After')], ['0'], '0 seconds';
};

subtest 'on a kept-alive connection, the next answer carries none' => sub {
    my $c = $t->connect;
    my $r = answered(429, 'Retry-After' => '5', _request => { conn => $c });
    error_is $r, 429, 'rate_limited';
    is_deeply [answer_headers($r, 'Retry-After')], ['5'];

    $t->mock_reset;
    $r = $c->request(method => 'GET', path => ADD_MEMBER);
    is $r->{status}, 200, 'the next request on the connection is answered';
    is_deeply [answer_headers($r, 'Retry-After')], [], 'without Retry-After';
    $c->close;
};

subtest 'HTTP/2: Retry-After as sent' => sub {
    $t->mock_reset;
    $t->mock_script([{ status => 429, headers => { 'Retry-After' => $DATE },
                       body => '{"error":"slow down"}' }]);
    my $r = $t->h2_request(method => 'POST', path => ADD_MEMBER,
                           body => '{"username":"bob"}');
    is $r->{status}, 429;
    is $r->{headers}{'retry-after'}, $DATE;
    is $r->{json}{code}, 'rate_limited';
};

done_testing;
