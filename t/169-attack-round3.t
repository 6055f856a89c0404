# A third attack from outside, on attack classes no other file covers;
# every case here held when it was written, and stays as a regression
# test.
#
# - Path tricks that could move a request from one organization to
#   another between the token's choice and the upstream path: encoded
#   slashes and dot segments (acme%2F..%2Fglobex), encoded letters,
#   trailing slashes, empty segments with merge_slashes off, ";", spaces,
#   backslashes.  With a token for acme and a default token, each one is
#   refused with nothing upstream, or goes upstream once, to the
#   organization its path names, with that organization's token.
# - Later filters that hold or grow the gateway's rewritten answer (gzip,
#   sub_filter, ssi) for an HTTP/2 client with a tiny stream window: the
#   answer arrives whole and the connection serves the next request.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;

use JSON::PP ();
use MIME::Base64 qw(decode_base64);

my $ACME = 'tok.acme.ROUND3secret0123456789';
my $DEFAULT = $TursoMembers::Test::TOKEN;
my $LIST = '/v1/organizations/acme/members';

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;
my $gid = getgrnam('nogroup') // getgrnam('nobody') // 65534;

sub gateway {
    my ($prefix, $pass, $extra) = @_;
    $extra //= '';
    return <<"LOC";
        location $prefix {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/acme.token
                                     organization=acme;
            turso_members_token_file %%TOKEN_FILE%%;
            $extra
            proxy_pass $pass;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
LOC
}

my %FILTERS = (
    gzip => 'gzip on; gzip_types application/json; gzip_min_length 1;',
    sub  => 'sub_filter "a" "AAAA"; sub_filter_once off; '
            . 'sub_filter_types application/json;',
    ssi  => 'ssi on; ssi_types application/json;',
);

my $t = TursoMembers::Test->new(
    start => 0,
    http_config => "    upstream spy { server 127.0.0.1:$SPY; }\n",
    config => "        merge_slashes off;\n"
              . gateway('/v1/organizations/', 'http://spy')
              . gateway('/v2/organizations/',
                        'http://spy$turso_members_upstream_uri')
              . join('', map { prefixed_location("/$_", $FILTERS{$_}) }
                             sort keys %FILTERS));

my $file = $t->prefix . '/conf/acme.token';
TursoMembers::Test::spew($file, "$ACME\n");
chown -1, $gid, $file;
chmod 0640, $file;
$t->start;


# --- organization slugs ------------------------------------------------------

# path => the organization it reaches upstream, or undef: refused
my @PATHS = (
    ['/v1/organizations/%61cme/members'                      => 'acme'],
    ['/v1/organizations/./acme/members'                      => 'acme'],
    ['/v1/organizations/acme/./members'                      => 'acme'],
    ['/v1/./organizations/acme/members'                      => 'acme'],
    ['/v1/organizations/x/../acme/members'                   => 'acme'],
    ['/v1/organizations/globex%2F..%2Facme/members'          => 'acme'],
    ['/v1/organizations/globex/members/..%2f..%2facme%2fmembers' => 'acme'],
    ['/v1/organizations/acme%2F..%2Fglobex/members'          => 'globex'],
    ['/v1/organizations/acme/members%2F..%2F..%2Fglobex%2Fmembers'
                                                             => 'globex'],
    ['/v1/organizations/acme/members/..%2F..%2Fglobex%2Fmembers'
                                                             => 'globex'],
    ['/v2/organizations/acme%2F..%2Fglobex/invites'          => 'globex'],
    ['/v2/organizations/globex%2F..%2Facme/invites'          => 'acme'],
    ['/v1/organizations/acme%2e/members'                     => undef],
    ['/v1/organizations/acme;x/members'                      => undef],
    ['/v1/organizations/acme%20/members'                     => undef],
    ['/v1/organizations/acme%09/members'                     => undef],
    ['/v1/organizations/ACME/members'                        => undef],
    ['/v1/organizations/%41cme/members'                      => undef],
    ['/v1/organizations/acme/members/'                       => undef],
    ['/v1/organizations//acme/members'                       => undef],
    ['/v1/organizations/acme//members'                       => undef],
    ['/v1/organizations/acme\\..\\globex/members'            => undef],
    ['/v1/organizations/acme/members/bob%2Fx'                => undef],
);

for my $case (@PATHS) {
    my ($path, $org) = @$case;

    subtest "slug: $path -> " . ($org // 'refused') => sub {
        $spy->reset;
        my $r = $t->request(method => 'GET', path => $path);
        my @got = $spy->requests;

        if (!defined $org) {
            ok $r->{status} >= 400 && $r->{status} < 500
               && ($r->{headers}{'content-type'} // '') =~ m{^application/}
               && ref $r->{json} eq 'HASH' && $r->{json}{code},
               "a JSON 4xx ($r->{status})" or diag explain $r;
            is scalar @got, 0, 'nothing upstream'
                or diag join "\n", map { $_->{head} } @got;
            return;
        }

        is $r->{status}, 200, 'answered';
        is scalar @got, 1, 'one upstream request' or return;
        my ($v) = $path =~ m{^/(v\d)/};
        my $what = $path =~ /invites$/ ? 'invites' : 'members';
        is $got[0]{path}, "/$v/organizations/$org/$what", "to $org's path";
        my $token = $org eq 'acme' ? $ACME : $DEFAULT;
        is_deeply $got[0]{headers}{authorization}, ["Bearer $token"],
                  "with $org's token, and only it";
    };
}


# --- later filters, an HTTP/2 window of 1 byte -------------------------------

my $seq = 0;

for my $filter (sort keys %FILTERS) {
    for my $kind (['a 409, normalized', 'POST',
                   { status => 409,
                     body => '{"error":"user carol is already a member"}' },
                   409, 'member_exists'],
                  ['{} for an empty chunked 200', 'DELETE',
                   { status => 200, body => '', fault => 'chunked' },
                   200, undef])
    {
        my ($name, $method, $script, $status, $code) = @$kind;

        subtest "HTTP/2 window 1, $filter: $name" => sub {
            my $org = 'r' . ++$seq;
            my $path = $method eq 'POST' ? "/v1/organizations/$org/members"
                                         : "/v1/organizations/$org/members/zed";
            $t->mock_reset;
            $t->mock_script([{ %$script, url => $path }]);

            local $ENV{H2_CLIENT_WINDOW} = 1;
            local $ENV{H2_CLIENT_THEN} = $LIST;

            my $r = $t->h2_request(client => 'node', method => $method,
                                   path => "/$filter$path",
                                   headers => ['Accept-Encoding: gzip'],
                                   $method eq 'POST'
                                   ? (body => '{"username":"carol"}') : ());

            ok !$r->{error}, 'read whole' or diag explain $r;
            is $r->{status}, $status, "status $status";

            my $body = $r->{body};
            if (($r->{headers}{'content-encoding'} // '') eq 'gzip') {
                require IO::Uncompress::Gunzip;
                my $plain;
                IO::Uncompress::Gunzip::gunzip(\$body => \$plain);
                $body = $plain;
            }
            $body =~ s/AAAA/a/g if $filter eq 'sub';

            my $json = eval { JSON::PP->new->decode($body) };
            if ($code) {
                is ref $json eq 'HASH' && $json->{code}, $code,
                   "the JSON error $code" or diag $body;
            } else {
                is $body, '{}', '{}';
            }

            my $n = $r->{then} || {};
            my $next = decode_base64($n->{body_base64} // '');
            ok +($n->{status} // 0) == 200 && $next =~ /"members"/,
               'the next request on the connection is served'
                or diag explain $n;

            my @up = grep { $_->{url} eq $path } @{ $t->upstream_requests };
            is scalar @up, 1, 'the validated request went upstream, once';
            is_deeply [ raw_headers($up[0], 'Authorization') ],
                      ["Bearer $DEFAULT"], 'with the token' if @up;
        };
    }
}

done_testing;
