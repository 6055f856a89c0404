# The configurations the README shows are the files in the repository, and
# nginx accepts them:
#
# - every block the README marks "<!-- file: PATH -->" is PATH, byte for
#   byte;
# - examples/nginx.conf, a whole nginx.conf: nginx -t, then nginx runs it and
#   the one gateway location holds the policy on /v1 and on /v2 alike;
# - the Debian way: Debian's own /etc/nginx/nginx.conf, the package's
#   modules-enabled snippet (debian/mod-http-turso-members.conf) and
#   examples/debian/turso-members.conf in conf.d/: nginx -t;
# - the example portal offers exactly the roles these files allow.
#
# What is put where the test has it (and nothing else): the module (a
# modules/ link in the nginx prefix, so the files' relative load_module
# stays), the token file, api.turso.tech's address in the upstream (the
# mock's: it must resolve, and there is no DNS in the tests), the listen
# ports, /var/log/nginx/ and /etc/nginx/ (the prefix's), and for
# examples/nginx.conf, which has no user directive, temp paths in the
# prefix: nginx -t as root would otherwise chown the packaged nginx's
# temp directories to nobody; and an http-level access_log in the prefix
# (the metrics server would log to the system's /var/log/nginx/).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Cwd qw(abs_path);
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);

my $REPO = abs_path('.');
my $MODULE = $ENV{TEST_NGINX_MODULE}
             || "$REPO/build/ngx_turso_members_module.so";
my $STATIC = $ENV{TEST_NGINX_STATIC};
my $slurp = \&TursoMembers::Test::slurp;


# --- the README shows the files --------------------------------------------

my $readme = $slurp->('README.md');
my %shown;
while ($readme =~ /^<!-- file: (\S+) -->\n```nginx\n(.*?)^```$/msg) {
    $shown{$1} = $2;
}
for my $file (qw(examples/nginx.conf debian/mod-http-turso-members.conf
                 examples/debian/turso-members.conf))
{
    ok exists $shown{$file}, "the README shows $file";
    is $shown{$file}, $slurp->($file), "the README's $file is the file"
        if exists $shown{$file};
}
unlike $slurp->('examples/debian/turso-members.conf'),
       qr/^\s*load_module/m, 'the Debian conf.d file has no load_module';

# the example portal offers the roles the example configurations allow
my ($roles) = $slurp->('examples/portal/index.html')
              =~ /^const ROLES = \[([^\]]*)\];/m;
for my $file (qw(examples/nginx.conf examples/debian/turso-members.conf)) {
    my ($allowed) = $slurp->($file) =~ /turso_members_allowed_roles\s+([^;]+);/;
    is join(' ', sort(($roles // '') =~ /'(\w+)'/g)),
       join(' ', sort split ' ', $allowed // ''),
       "the portal's roles are those $file allows";
}


# --- examples/nginx.conf ----------------------------------------------------

# The file with what the test must put in its place; %%...%% are the
# harness's placeholders.
sub adapt {
    my ($text, $inst) = @_;
    my $p = $inst->prefix;

    $text =~ s{^(\s*)load_module [^;]+;\n}{}m if $STATIC;
    $text =~ s{/etc/nginx/turso\.token}{%%TOKEN_FILE%%}g;
    $text =~ s{server api\.turso\.tech:443;}{server %%MOCK%%;}g;
    $text =~ s{listen 127\.0\.0\.1:8080;}{listen 127.0.0.1:%%PORT%%;}g;
    $text =~ s{listen 127\.0\.0\.1:9145;}{listen 127.0.0.1:%%H2PORT%%;}g;
    $text =~ s{/var/log/nginx/}{$p/logs/}g;
    $text =~ s{/etc/nginx/}{$p/etc/nginx/}g;
    return $text;
}

sub link_module {
    my ($inst) = @_;
    return if $STATIC;
    make_path($inst->prefix . '/modules');
    symlink $MODULE, $inst->prefix . '/modules/ngx_turso_members_module.so'
        or die "symlink: $!";
}

my $temp_paths = join '', map { "    ${_}_temp_path %%PREFIX%%/$_;\n" }
                 qw(client_body proxy fastcgi uwsgi scgi);
# the metrics server has no access_log of its own: nginx's compiled-in
# default is the system's /var/log/nginx/access.log
$temp_paths .= "    access_log %%PREFIX%%/logs/access.log;\n";

my $example = $slurp->('examples/nginx.conf');
like $example, qr/^load_module modules\/ngx_turso_members_module\.so;$/m,
     'examples/nginx.conf loads the module in the main context';
like $example, qr/^events \{/m, 'it has an events block';
like $example, qr/^\s*proxy_ssl_verify_depth 3;$/m, 'it sets proxy_ssl_verify_depth';
is scalar(() = $example =~ /^\s*turso_members\s+on;/mg), 1,
   'one gateway location';

my $globals = 'daemon off; master_process on; pid logs/nginx.pid; '
              . 'worker_shutdown_timeout 2s;';
my $t = TursoMembers::Test->new(start => 0, globals => $globals);
link_module($t);
my $conf = adapt($example, $t);
$conf =~ s/^(http \{\n)/$1$temp_paths/m or die 'no http block';
$t->{whole_config} = $conf;

my ($code, $out) = $t->nginx_t($conf);
is $code, 0, 'nginx -t accepts examples/nginx.conf' or diag $out;
like $out, qr/test is successful/, 'nginx -t: test is successful';
$t->start;

# the policy (member viewer) holds on /v1 and /v2 alike
error_is $t->request(method => 'POST', path => '/v1/organizations/acme/members',
                     body => '{"username":"bob","role":"admin"}'),
         403, 'role_not_allowed', '/v1: admin may not be granted';
error_is $t->request(method => 'POST', path => '/v2/organizations/acme/invites',
                     body => '{"email":"erin@example.com","role":"admin"}'),
         403, 'role_not_allowed', '/v2: admin may not be invited either';
error_is $t->request(method => 'POST', path => '/v1/organizations/acme/databases',
                     body => '{}'),
         404, 'route_not_supported', 'other routes: the gateway says 404';
$t->nothing_upstream('none of that reached the upstream');

# an allowed request goes upstream over TLS: the mock speaks plain HTTP, so
# the handshake fails, which the gateway answers as a JSON 502
my $r = $t->request(method => 'POST', path => '/v2/organizations/acme/invites',
                    body => '{"email":"erin@example.com","role":"viewer"}');
error_is $r, 502, 'upstream_unavailable', 'an allowed invite is proxied with TLS';
like $t->error_log, qr/SSL_do_handshake\(\) failed|wrong version number|SSL/,
     'nginx tried a TLS handshake';

# a worker counts a request after its answer has gone, and with
# "worker_processes auto" another worker may answer the scrape first
my $counted = qr/^turso_members_requests_total\{organization="\*",
                 operation="add_member",code="role_not_allowed",
                 upstream_status="0"\}\ 1$/mx;
my $deadline = time + 5 * $TursoMembers::Test::TIMEOUT_FACTOR;
for (;;) {
    $r = $t->connect(port => $t->h2port)->request(path => '/metrics');
    last if ($r->{body} // '') =~ $counted || time > $deadline;
    sleep 0.05;
}
is $r->{status}, 200, 'the metrics server answers';
like $r->{body}, $counted, 'and counted the refusals';
like $t->wait_log('access.log', qr{"GET /metrics HTTP/1\.1" 200}),
     qr{"GET /metrics HTTP/1\.1" 200},
     "its access log is the prefix's, not the system nginx's";
my $invite = qr/"operation":"invite","org":"acme".*"code":"role_not_allowed"/;
like $t->wait_log('turso-audit.log', $invite), $invite,
     'the audit log has the refused invite';


# --- the Debian way ---------------------------------------------------------

SKIP: {
    skip 'the Debian way needs the packaged nginx and its nginx.conf', 4
        if $STATIC || ($ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx')
                      ne '/usr/sbin/nginx'
                   || !-f '/etc/nginx/nginx.conf'
                   || !-f '/etc/nginx/mime.types';

    my $d = TursoMembers::Test->new(start => 0,
                                    globals => 'pid logs/nginx.pid;');
    my $p = $d->prefix;
    link_module($d);
    make_path(map { "$p/etc/nginx/$_" }
              qw(modules-enabled conf.d sites-enabled));

    my $main = $slurp->('/etc/nginx/nginx.conf');
    like $main, qr{^include /etc/nginx/modules-enabled/\*\.conf;}m,
         "Debian's nginx.conf includes modules-enabled in the main context";
    $main =~ s{^pid [^;]+;\n}{}m;           # -g sets it
    TursoMembers::Test::spew("$p/etc/nginx/mime.types",
                             $slurp->('/etc/nginx/mime.types'));
    TursoMembers::Test::spew(
        "$p/etc/nginx/modules-enabled/50-mod-http-turso-members.conf",
        $slurp->('debian/mod-http-turso-members.conf'));
    TursoMembers::Test::spew("$p/etc/nginx/conf.d/turso-members.conf",
        $d->expand(adapt($slurp->('examples/debian/turso-members.conf'), $d)));

    my ($code, $out) = $d->nginx_t(adapt($main, $d));
    is $code, 0, "nginx -t: Debian's nginx.conf, the package's snippet, "
                 . 'examples/debian/turso-members.conf' or diag $out;

    # the README's warning: a load_module in conf.d is refused
    TursoMembers::Test::spew("$p/etc/nginx/conf.d/turso-members.conf",
        "load_module modules/ngx_turso_members_module.so;\n"
        . $d->expand(adapt($slurp->('examples/debian/turso-members.conf'), $d)));
    ($code, $out) = $d->nginx_t(adapt($main, $d));
    isnt $code, 0, 'with a load_module in conf.d, nginx -t fails';
    like $out, qr/"load_module" directive is not allowed here/, '... saying why'
        or diag $out;
}

done_testing;
