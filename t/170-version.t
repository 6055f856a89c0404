# The module's version has one source, NGX_TURSO_MEMBERS_VERSION in
# ngx_turso_members_module.h, and must be the Debian package's
# (debian/changelog) and the newest release in CHANGELOG.md.  The module
# reports it in a [notice] at every configuration load (nginx -t included)
# and in turso_members_status as turso_members_build_info.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $header = TursoMembers::Test::slurp('ngx_turso_members_module.h');
my ($version) = $header =~ /^#define\s+NGX_TURSO_MEMBERS_VERSION\s+"([^"]+)"/m;
ok $version, "the header defines NGX_TURSO_MEMBERS_VERSION ($version)";

my ($deb) = TursoMembers::Test::slurp('debian/changelog')
            =~ /\A\S+ \(([^)]+)\)/;
is $deb, $version, 'debian/changelog has the same version';

my ($released) = TursoMembers::Test::slurp('CHANGELOG.md')
                 =~ /^## (\d+\.\d+\.\d+)\b/m;
is $released, $version, 'the newest release in CHANGELOG.md is the same';

my $t = TursoMembers::Test->new(config => default_locations() . <<'CONF');
        location = /metrics {
            turso_members_status;
        }
CONF

my ($code, $out) = $t->nginx_t(default_locations());
is $code, 0, 'nginx -t passes';
like $out, qr{\[notice\].*ngx_turso_members/\Q$version\E\b},
     'nginx -t shows the version in a [notice]' or diag $out;

like $t->error_log, qr{\[notice\].*ngx_turso_members/\Q$version\E\b},
     'the start-up log shows it';

my $r = $t->request(path => '/metrics');
is $r->{status}, 200, 'the status page';
my ($nginx) = `$ENV{TEST_NGINX_BINARY} -v 2>&1` =~ m{nginx/(\S+)}
    if $ENV{TEST_NGINX_BINARY};
($nginx) = `/usr/sbin/nginx -v 2>&1` =~ m{nginx/(\S+)} unless $nginx;
like $r->{body},
     qr/^turso_members_build_info\{version="\Q$version\E",nginx="\Q$nginx\E"\} 1$/m,
     'turso_members_build_info has the version and nginx\'s'
    or diag $r->{body};

done_testing;
