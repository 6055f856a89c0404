# Attacks on the hand-off to proxy_pass, on every nginx the gateway builds
# for.  Each part asserts what the upstream received (the spy,
# t/lib/TursoMembers/Spy.pm) as well as what the client got.
#
# - nginx -t refuses the proxy settings that would change the validated
#   request again, on every nginx: before 1.29.4 the gateway reads them
#   through the proxy module's directive table (t/175-newer-nginx.t tests
#   the same with ngx_http_proxy_module.h).  proxy_cache is refused from
#   1.29.4 only: before, a build nginx defers is refused at run time
#   (t/164-handoff-contract.t), and proxy_cache_background_update, whose
#   clone of the request the gateway refuses, is refused: with
#   proxy_cache_use_stale updating, a stale answer would be served for
#   good, Turso never asked again.
use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;
use TursoMembers::Spy;

$TursoMembers::Test::TOKEN = 'tk.ATTACKsecret0123456789.SIGabcdef';
my $TOKEN = $TursoMembers::Test::TOKEN;

my $spy = TursoMembers::Spy->new;
my $SPY = $spy->port;

# A gateway location with @directives.
sub gw { gateway_location('spy', 'proxy_http_version 1.1;', @_) }

my $HTTP = "upstream spy { server 127.0.0.1:$SPY; keepalive 4; }\n"
           . "proxy_cache_path %%PREFIX%%/cache keys_zone=one:1m;\n";

# --- nginx -t: settings that undo the gateway ------------------------------

{
    my $t = TursoMembers::Test->new(start => 0, http_config => $HTTP);
    my $where = qr{in the "turso_members" location "/v1/organizations/"};

    my @refused = (
        ['proxy_set_header Authorization "Bearer other";',
         qr/"proxy_set_header Authorization" cannot be used $where/],
        ['proxy_set_header authorization "";',
         qr/"proxy_set_header authorization" cannot/],
        ['proxy_set_header Content-Type text/plain;',
         qr/"proxy_set_header Content-Type" cannot/],
        ['proxy_set_header Content-Length 5;',
         qr/"proxy_set_header Content-Length" cannot/],
        ['proxy_set_header Transfer-Encoding chunked;',
         qr/"proxy_set_header Transfer-Encoding" cannot/],
        ['proxy_pass_request_headers off;',
         qr/"proxy_pass_request_headers off" cannot be used $where/],
        ['proxy_pass_request_body off;',
         qr/"proxy_pass_request_body off" cannot/],
        ['proxy_set_body \'{"username":"root","role":"admin"}\';',
         qr/"proxy_set_body" cannot/],
        ['proxy_method DELETE;', qr/"proxy_method" cannot/],
        # its clone subrequest is refused: the stale answer would stay
        ['proxy_cache one; proxy_cache_use_stale updating; '
         . 'proxy_cache_background_update on;',
         qr/"proxy_cache(_background_update on)?" cannot/],
    );

    for my $case (@refused) {
        my ($directive, $re) = @$case;
        $t->nginx_t_refuses(gw($directive, 'proxy_set_header Connection "";'),
                            $re, $directive);
    }

    # inherited from the server and http levels
    $t->nginx_t_refuses("proxy_set_body x;\n" . gw(),
                        qr/"proxy_set_body" cannot/,
                        'proxy_set_body inherited from the server level');
    $t->nginx_t_refuses(gw(), qr/"proxy_set_header Content-Length" cannot/,
                        'proxy_set_header inherited from the http level',
                        http_config => $HTTP
                                       . "proxy_set_header Content-Length 5;");
    $t->nginx_t_refuses(gw(), qr/"proxy_pass_request_headers off" cannot/,
                        'proxy_pass_request_headers off from http level',
                        http_config => $HTTP
                                       . "proxy_pass_request_headers off;");

    # the same in a plain location, other headers, the README's lines
    my $plain = <<'CONF';
        location /other/ {
            proxy_set_header Authorization x;
            proxy_set_header Content-Length 5;
            proxy_set_body x;
            proxy_pass_request_headers off;
            proxy_method GET;
            proxy_pass http://spy;
        }
CONF
    for my $ok ([$plain . gw(), 'the refused settings in a plain location'],
                [gw('proxy_set_header Host api.turso.tech;',
                    'proxy_set_header X-Request-Id $turso_members_request_id;',
                    'proxy_pass_request_headers on;',
                    'proxy_pass_request_body on;'),
                 'Host, X-Request-Id, the defaults written out'])
    {
        subtest "nginx -t accepts: $ok->[1]" => sub {
            my ($code, $out) = $t->nginx_t($ok->[0]);
            is $code, 0, 'exit code' or diag $out;
        };
    }
}

# --- nginx -t, 1.29.4: proxy_pass with a URI part ------------------------
#
# It sends the client's path with the location's prefix replaced, not the
# path the gateway rebuilt: the Node client's POST .../members/bob went to
# .../members/bob instead of .../members.  Only ngx_http_proxy_module.h
# tells (the directive table has no slot for proxy_pass).

SKIP: {
    skip 'nginx ' . nginx_version() . ': ngx_http_proxy_module.h came with '
         . '1.29.4', 1
        unless nginx_at_least('1.29.4');

    my $t = TursoMembers::Test->new(start => 0, http_config => $HTTP);
    my $loc = <<'CONF';
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            proxy_pass PASS;
        }
CONF

    $t->nginx_t_refuses($loc =~ s{PASS}{http://spy/v1/organizations/}r,
                        qr/"proxy_pass with a URI part" cannot be used/,
                        'proxy_pass with a URI part');
    $t->nginx_t_refuses($loc =~ s{PASS}{http://spy/}r,
                        qr/"proxy_pass with a URI part" cannot be used/,
                        'proxy_pass with the URI part "/"');

    for my $pass ('http://spy', 'http://spy$turso_members_upstream_uri') {
        subtest "nginx -t accepts: proxy_pass $pass" => sub {
            my ($code, $out) = $t->nginx_t($loc =~ s{PASS}{$pass}r);
            is $code, 0, 'exit code' or diag $out;
        };
    }
}

done_testing;
