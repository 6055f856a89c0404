# The Debian package: built by tools/deb.sh (./build.sh deb), installed with
# dpkg, enabled the Debian way (/etc/nginx/modules-enabled), used by nginx,
# then purged so the machine is left as it was.
#
# Needs root (dpkg -i); skipped otherwise.  Builds build/deb/*.deb first
# unless it is newer than every source it is built from (~10-20 s).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Time::HiRes qw(sleep time);

use constant PKG       => 'libnginx-mod-http-turso-members';
use constant SO        => '/usr/lib/nginx/modules/ngx_turso_members_module.so';
use constant AVAILABLE => '/usr/share/nginx/modules-available/'
                          . 'mod-http-turso-members.conf';
use constant ENABLED   => '/etc/nginx/modules-enabled/'
                          . '50-mod-http-turso-members.conf';

my $REPO = Cwd::abs_path('.');

plan skip_all => 'installing a package needs root (dpkg -i)' if $> != 0;
plan skip_all => 'the nginx under test has the module built in'
    if $ENV{TEST_NGINX_STATIC};
plan skip_all => 'not a Debian system (no dpkg-deb)'
    unless system('command -v dpkg-deb >/dev/null 2>&1') == 0;
plan skip_all => PKG . ' is already installed: this test would replace and '
                 . 'then remove it'
    if installed();
plan skip_all => ENABLED . ' already exists: this test would remove it'
    if -e ENABLED || -l ENABLED || -l ENABLED . '.removed';


# --- the package, built when older than its sources ------------------------

my $deb = newest_deb();
my @sources = (glob("$REPO/ngx_turso_members_*.[ch]"), "$REPO/config",
               "$REPO/README.md", glob("$REPO/docs/*.md"),
               "$REPO/tools/deb.sh", files_under("$REPO/debian"));
my $newest_source = 0;
for (@sources) {
    my $m = (stat $_)[9] // next;
    $newest_source = $m if $m > $newest_source;
}

if (!$deb || (stat $deb)[9] < $newest_source) {
    my $start = time;
    my $out = `timeout 300 $REPO/tools/deb.sh 2>&1`;
    my $ok = $? == 0;
    ok $ok, sprintf 'tools/deb.sh builds the package (%.1f s)', time - $start
        or diag $out;
    $deb = newest_deb();
} else {
    note "using $deb (newer than the sources)";
}
BAIL_OUT('no package in build/deb') unless $deb && -f $deb;

subtest 'the control fields' => sub {
    my %f = map { $_ => scalar `dpkg-deb -f $deb $_` }
            qw(Package Architecture Depends);
    chomp for values %f;

    is $f{Package}, PKG, 'Package';
    is $f{Architecture}, `dpkg --print-architecture` =~ s/\s+//r,
       'Architecture';

    # ${nginx:abi} from nginx-dev, which the installed nginx must provide
    my ($abi) = slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
                =~ /^nginx:abi=(\S+)/m;
    ok $abi, 'nginx-dev names the nginx ABI';
    like $f{Depends}, qr/(^|, )\Q$abi\E(,|$)/, "Depends on $abi";
    like `dpkg-query -W -f='\${Provides}' nginx 2>/dev/null`,
         qr/\Q$abi\E/, "the installed nginx provides $abi";

    # ${shlibs:Depends}: the libraries the module links
    like $f{Depends}, qr/\blibjansson4\b/, 'Depends on libjansson4';
    like $f{Depends}, qr/\blibssl3\b/, 'Depends on libssl3 (libcrypto)';
};


# --- install ------------------------------------------------------------

my $enabled_before = modules_enabled();
my $installed_by_us = 0;

END { purge() if $installed_by_us }

my ($code, $out) = dpkg('-i', $deb);
is $code, 0, 'dpkg -i installs the package' or diag $out;
$installed_by_us = 1;
BAIL_OUT("dpkg -i failed:\n$out") unless installed();

subtest 'the installed files' => sub {
    my %files = map { $_ => 1 } split /\n/, `dpkg -L ${\PKG}`;
    ok $files{+SO}, SO;
    ok $files{+AVAILABLE}, AVAILABLE;
    ok -f SO, 'the module is on disk';
    is slurp(AVAILABLE),
       "load_module modules/ngx_turso_members_module.so;\n",
       'the snippet loads the module from nginx\'s modules path';
};

# the postinst (dh_nginx) enables a freshly installed module
ok -l ENABLED, ENABLED . ' is a symbolic link';
is readlink(ENABLED), AVAILABLE, '... to the snippet';


# --- nginx with the packaged module --------------------------------------

my $include = 'include ' . ENABLED . ';';
my $t = TursoMembers::Test->new(no_module => 1, main_config => $include,
                                start => 0);

# "load_module modules/..." is relative to nginx's prefix: the packaged
# nginx's prefix /usr/share/nginx has modules -> /usr/lib/nginx/modules
symlink '/usr/lib/nginx/modules', $t->prefix . '/modules'
    or die "symlink: $!";

($code, $out) = $t->nginx_t(default_locations());
is $code, 0, 'nginx -t: turso_members on, a token file, the module '
             . 'enabled through modules-enabled' or diag $out;
like $out, qr/syntax is ok/, '... syntax is ok';
like $out, qr/test is successful/, '... test is successful';

($code, $out) = $t->nginx_t(default_locations(), main_config => '');
isnt $code, 0, 'nginx -t without the include: refused';
like $out, qr/unknown directive "turso_members"/,
     '... the directive comes from the package\'s module';

$t->start;

my $r = $t->request(method => 'POST', path => ADD_MEMBER,
                    headers => ['Authorization: Bearer client-token'],
                    body => '{"username":"bob","role":" Admin "}');
is $r->{status}, 200, 'a request through the packaged module: 200'
    or diag $r->{body};
my $up = $t->upstream_requests;
is scalar @$up, 1, 'one upstream request';
is $up->[0]{body}, '{"username":"bob","role":"admin"}',
   'the upstream got the normalized body';
is $up->[0]{headers}{authorization}, 'Bearer test-token',
   'the upstream got the token from the token file';

$t->stop;


# --- remove -------------------------------------------------------------

purge();
ok !installed(), 'dpkg -P removes the package';
ok !-e SO, 'the module is gone';
ok !-e AVAILABLE, 'the snippet is gone';
ok !-l ENABLED && !-l ENABLED . '.removed', 'the symbolic link is gone';
is_deeply modules_enabled(), $enabled_before,
          '/etc/nginx/modules-enabled is as it was';

done_testing;


# --- helpers ------------------------------------------------------------

sub installed {
    `dpkg-query -W -f='\${Status}' ${\PKG} 2>/dev/null`
        =~ /install ok (installed|unpacked|half)/;
}

# Purge, not just remove: "dpkg -r" keeps the link as *.removed (the prerm
# renames it, to restore it on a reinstall); the purge deletes it.
sub purge {
    $installed_by_us = 0;
    my ($code, $out) = dpkg('-P', PKG);
    diag "dpkg -P failed: $out" if $code;
}

# dpkg waits for nobody: retry while another apt/dpkg holds the lock.
sub dpkg {
    my (@args) = @_;
    my $deadline = time + 120;
    while (1) {
        my $out = `dpkg @args 2>&1`;
        my $code = $? >> 8;
        return ($code, $out)
            if !$code || $out !~ /lock/i || time > $deadline;
        sleep 1;
    }
}

sub newest_deb {
    my @debs = sort { (stat $b)[9] <=> (stat $a)[9] }
               glob("$REPO/build/deb/${\PKG}_*.deb");
    return $debs[0];
}

sub files_under {
    my ($dir) = @_;
    my @out;
    for my $f (glob("$dir/*")) {
        push @out, -d $f ? files_under($f) : $f;
    }
    return @out;
}

sub modules_enabled {
    opendir(my $d, '/etc/nginx/modules-enabled') or return [];
    return [ sort map { "$_ -> " . (readlink("/etc/nginx/modules-enabled/$_")
                                    // '') }
             grep { !/^\.\.?$/ } readdir $d ];
}

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or return '';
    local $/;
    return scalar <$fh>;
}
