# Answers the gateway rewrites, under other modules' filters and nginx's
# ways of sending, from the attack on the whole-answer filter: each case
# asserts what the client got, what reached the upstream, and what
# follows on the connection.
#
#   - the addition filter (add_before_body, add_after_body) in a gateway
#     location around the "{}" of an empty success: it ends the answer by
#     sending its own last buffer through the whole filter chain, from
#     within the gateway's; that buffer must go on (it was dropped as the
#     upstream's rest: the answer never ended, nginx logged "http finalize
#     non-active request" and the client waited).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $URL = '/v1/organizations/acme/members/bob';

sub loc {
    my ($prefix, $extra) = @_;
    return <<"LOC";
        location $prefix/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            rewrite ^$prefix(/.*)\$ \$1 break;
            $extra
            proxy_pass http://turso_api\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
LOC
}

my $t = TursoMembers::Test->new(config => default_locations()
    . loc('/after', 'add_after_body /tail; addition_types *;')
    . loc('/both', 'add_before_body /head; add_after_body /tail;'
                   . ' addition_types *;')
    . loc('/slow', 'add_after_body /tail; addition_types *; limit_rate 200;')
    . <<'CONF');
        location = /head { return 200 "HEAD"; }
        location = /tail { return 200 "TAIL"; }
CONF

my %EMPTY = (
    'an empty 200'         => { status => 200, body => '' },
    'a 204'                => { status => 204, body => '' },
    'an empty chunked 200' => { status => 200, body => '', fault => 'chunked' },
);

for my $case (['/after', '{}TAIL'], ['/both', 'HEAD{}TAIL'],
              ['/slow', '{}TAIL'])
{
    my ($prefix, $want) = @$case;

    for my $name (sort keys %EMPTY) {
        subtest "$prefix: $name -> $want, then the next request" => sub {
            $t->mock_reset;
            $t->mock_script([$EMPTY{$name}]);

            my $c = $t->connect;
            my $r = $c->request(method => 'DELETE', path => "$prefix$URL");

            is $r->{status}, 200, 'status 200';
            is $r->{error}, undef, 'the answer ended';
            is $r->{body}, $want, 'the gateway\'s {} within the additions';
            like $r->{headers}{'content-type'} // '', qr{^application/json},
                 'JSON';
            $t->forwarded('DELETE', $URL, undef);

            $t->mock_reset;
            $r = $c->request(method => 'GET',
                             path => '/v1/organizations/acme/members');
            is $r->{status}, 200, 'the next request on the connection';
            like $r->{body} // '', qr/"members"/, 'with its own body';
            $c->close;
        };
    }
}

unlike $t->error_log, qr/finalize non-active/, 'no request left unfinished';

done_testing;
