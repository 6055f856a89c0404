# "proxy_pass http://upstream;" without the variable: while proxy_pass
# builds the upstream request, the gateway puts the validated path, escaped,
# in the request's unparsed URI, which that form sends as it is: exactly
# what $turso_members_upstream_uri holds, with no arguments.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new(config => <<'CONF');
        location / {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

my @cases = (
    [ 'Add Member, query dropped', 'POST',
      '/v1/organizations/acme/members?role=admin&next=/v1/orgs',
      '{"username":"bob","x":1}',
      '/v1/organizations/acme/members', '{"username":"bob","role":"member"}' ],
    [ 'the Node form: the user moves to the body', 'POST',
      '/v1/organizations/acme/members/dave', '{"member":"dave"}',
      '/v1/organizations/acme/members', '{"username":"dave","role":"member"}' ],
    [ 'a username segment', 'GET', '/v1/organizations/acme/members/carol',
      undef, '/v1/organizations/acme/members/carol', '' ],
    [ 'an email segment, %40 decoded then sent as "@"', 'DELETE',
      '/v2/organizations/acme/invites/a+b%40example.com', undef,
      '/v2/organizations/acme/invites/a+b@example.com', '' ],
    [ 'a "%" in a username is escaped again', 'GET',
      '/v1/organizations/acme/members/50%25off', undef,
      '/v1/organizations/acme/members/50%25off', '' ],
    [ 'dot segments resolved before the route is matched', 'GET',
      '/v1/organizations/other/../acme/members', undef,
      '/v1/organizations/acme/members', '' ],
);

for my $c (@cases) {
    my ($name, $method, $path, $body, $url, $want) = @$c;
    subtest $name => sub {
        $t->mock_reset;
        my $r = $t->request(method => $method, path => $path,
                            defined $body ? (body => $body) : ());
        my $u = $t->upstream_requests;
        is scalar @$u, 1, 'one upstream request';
        is $u->[0]{method}, $method, 'method';
        is $u->[0]{url}, $url, 'upstream URL';
        is $u->[0]{body}, $want, 'upstream body';
        is $u->[0]{headers}{authorization}, 'Bearer test-token', 'token';
        ok $r->{status} =~ /^(200|404)$/, "answered ($r->{status})";
    };
}

# Found by an attack: nginx's own escaping (NGX_ESCAPE_URI) left
# "; = , : ' ! $ [ ] * ( ) &" as they were, so a username "bob;" went as
# ".../members/bob;" with this form and ".../members/bob%3B" with the
# variable.  Every byte, in a username and in an email: both forms send
# the same bytes (or refuse alike), escaped as Turso's clients escape.
my $v = TursoMembers::Test->new(config => <<'CONF');
        location / {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

sub upstream_url {
    my ($gw, $method, $path) = @_;
    $gw->mock_reset;
    my $r = $gw->request(method => $method, path => $path);
    my $u = $gw->upstream_requests;
    return ($r->{status}, @$u ? $u->[0]{url} : 'nothing', scalar @$u);
}

sub turso_escape {
    join '', map { /[A-Za-z0-9\-._~@+]/ ? $_ : sprintf '%%%02X', ord }
             split //, $_[0];
}

subtest 'both proxy_pass forms send the same escaped path' => sub {
    my ($same, $escaped, $sent) = (0, 0, 0);
    for my $byte (0x20 .. 0x7e, 0xc3, 0xe2) {
        my $ch = chr $byte;
        my $enc = sprintf '%%%02X', $byte;
        $enc .= $byte == 0xc3 ? '%B8' : $byte == 0xe2 ? '%80%94' : '';
        my $raw = $byte == 0xc3 ? "\xc3\xb8" : $byte == 0xe2 ? "\xe2\x80\x94"
                : $ch;
        for my $c ([GET => '/v1/organizations/acme/members/', "b${raw}b",
                    "b${enc}b"],
                   [DELETE => '/v2/organizations/acme/invites/',
                    "a${raw}b\@example.com", "a${enc}b%40example.com"])
        {
            my ($method, $prefix, $item, $path_item) = @$c;
            my @plain = upstream_url($t, $method, $prefix . $path_item);
            my @var = upstream_url($v, $method, $prefix . $path_item);
            is "@plain", "@var", sprintf('%s 0x%02x: the same', $method,
                                          $byte)
                and $same++;
            next unless $plain[2];
            $sent++;
            is $plain[1], $prefix . turso_escape($item),
               sprintf('%s 0x%02x: escaped as Turso\'s clients do', $method,
                       $byte)
                and $escaped++;
        }
    }
    ok $sent > 100, "most bytes are valid in a username or an email ($sent)";
    diag "same $same, escaped $escaped of $sent sent";
};

subtest 'anything off the table is still never proxied' => sub {
    $t->mock_reset;
    for my $p ('/v1/organizations/acme/databases', '/', '/v1/organizations',
               '/v1/organizations/acme/members/x/y')
    {
        my $r = $t->request(method => 'GET', path => $p);
        is $r->{status}, 404, "GET $p: 404";
        is $r->{json}{code}, 'route_not_supported', "GET $p: code";
    }
    $t->nothing_upstream;
};

done_testing;
