# The Debian package: built by tools/deb.sh (./build.sh deb), installed with
# dpkg, enabled the Debian way (/etc/nginx/modules-enabled), used by nginx,
# removed with a conf.d file still using it, then purged.
#
# All of it in a private root: the test re-runs itself (with
# TURSO_MEMBERS_DEB_ROOT set) under unshare, in a mount and PID namespace
# of its own where /usr, /var and /etc/nginx are overlays whose writes go
# to a tmpfs, and /run is an empty tmpfs.  dpkg installs into those
# overlays: the host's /etc/nginx, modules and dpkg database never change,
# and the nginx-reload trigger the package sets off cannot reach a running
# nginx (its pid file and processes are out of sight, a policy-rc.d
# refuses every init script action).  The namespace and its tmpfs go when
# the re-run ends; the outer run then checks that the host is as it was.
#
# Needs root (unshare, mount) and overlayfs; skipped otherwise, never run
# against the real system.  Builds build/deb/*.deb first unless it is
# newer than every source it is built from (~10-20 s).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

use constant PKG       => 'libnginx-mod-http-turso-members';
use constant SO        => '/usr/lib/nginx/modules/ngx_turso_members_module.so';
use constant AVAILABLE => '/usr/share/nginx/modules-available/'
                          . 'mod-http-turso-members.conf';
use constant ENABLED   => '/etc/nginx/modules-enabled/'
                          . '50-mod-http-turso-members.conf';
use constant DOC       => '/usr/share/doc/' . PKG;
use constant CONFD     => '/etc/nginx/conf.d/turso-members.conf';

my $REPO = abs_path('.');

if (my $root = $ENV{TURSO_MEMBERS_DEB_ROOT}) {
    in_private_root($root, $ENV{TURSO_MEMBERS_DEB});
    exit 0;     # not reached: done_testing's exit status
}

plan skip_all => 'the private root needs root (unshare, mount)' if $> != 0;
plan skip_all => 'the nginx under test has the module built in'
    if $ENV{TEST_NGINX_STATIC};
plan skip_all => 'not a Debian system (no dpkg-deb)'
    unless system('command -v dpkg-deb >/dev/null 2>&1') == 0;
if (my $why = no_private_root()) {
    plan skip_all => "no private root here ($why): this test installs the "
                     . 'package only in one, never into the real system';
}


# --- the package, built when older than its sources ------------------------

my $deb = newest_deb();
my @sources = (glob("$REPO/ngx_turso_members_*.[ch]"), "$REPO/config",
               "$REPO/README.md", "$REPO/CHANGELOG.md", glob("$REPO/docs/*"),
               "$REPO/tools/deb.sh", "$REPO/tools/lib.sh",
               files_under("$REPO/debian"),
               files_under("$REPO/examples"));
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


# --- install, use, remove, purge: in the private root ---------------------

my $host_before = host_state();

my $scratch = tempdir('turso-members-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $limit = int(300 * $TursoMembers::Test::TIMEOUT_FACTOR);
my $pid = open(my $fh, '-|') // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>&', \*STDOUT or die;
    $ENV{TURSO_MEMBERS_DEB_ROOT} = $scratch;
    $ENV{TURSO_MEMBERS_DEB} = $deb;
    # the re-run's $$ is 1 (a PID namespace): its nginx prefixes go under
    # this run's own directory, not servroot-140-deb-1 of every run
    $ENV{TEST_NGINX_SERVROOT} = TursoMembers::Test::servroot_dir() . '/inner';
    exec 'timeout', '-s', 'KILL', $limit, 'unshare', '--mount', '--pid',
         '--fork', '--mount-proc', '--propagation', 'private', '--',
         $^X, $0;
    die "exec: $!";
}
my $inner = do { local $/; <$fh> } // '';
close $fh;
my $status = $?;

# the re-run's TAP, shown as a subtest's
my $tap = Test::More->builder->output;
print $tap map { "    $_\n" } split /\n/, $inner;
ok $status == 0, 'in a private root: install, enable, use, remove with a '
                 . 'conf.d file in place, purge' or diag $inner;

is_deeply host_state(), $host_before,
          'the host is as it was: /etc/nginx, nginx\'s modules, the dpkg '
          . 'database, ' . DOC
    or diag 'the private root leaked into the host';

done_testing;


# --- in the private root ---------------------------------------------------

sub in_private_root {
    my ($root, $deb) = @_;

    # writes go to a tmpfs of this namespace: gone with it
    run_or_bail('mount', '-t', 'tmpfs', '-o', 'mode=0755', 'turso-deb',
                $root);
    for my $dir ('/usr', '/var', '/etc/nginx') {
        my $name = $dir =~ s{/}{_}gr;
        mkdir "$root/upper$name" or die;
        mkdir "$root/work$name" or die;
        run_or_bail('mount', '-t', 'overlay', 'overlay', '-o',
                    "lowerdir=$dir,upperdir=$root/upper$name,"
                    . "workdir=$root/work$name", $dir);
    }
    run_or_bail('mount', '-t', 'tmpfs', '-o', 'mode=0755', 'turso-run', '/run');

    # every mount in place before anything is written
    for my $dir ('/usr', '/var', '/etc/nginx', '/run') {
        my $fs = `stat -f -c %T $dir`;
        chomp $fs;
        BAIL_OUT("$dir is $fs, not the private root's") unless
            $fs eq ($dir eq '/run' ? 'tmpfs' : 'overlayfs');
    }
    open(my $p, '>', '/usr/sbin/policy-rc.d') or die "policy-rc.d: $!";
    print $p "#!/bin/sh\n# t/140-deb.t's private root: no service actions\n"
             . "exit 101\n";
    close $p;
    chmod 0755, '/usr/sbin/policy-rc.d';

    note 'a private root: /usr, /var, /etc/nginx overlays, /run a tmpfs, '
         . 'a PID namespace';

    # a clean start, whatever the host has (only here)
    my ($code, $out);
    if (installed()) {
        ($code, $out) = dpkg('-P', PKG);
        note "purged the host's " . PKG . " in the private root first";
    }
    unlink ENABLED, ENABLED . '.removed', CONFD;
    my $enabled_before = modules_enabled();

    ($code, $out) = dpkg('-i', $deb);
    is $code, 0, 'dpkg -i installs the package' or diag $out;
    BAIL_OUT("dpkg -i failed:\n$out") unless installed();
    unlike $out, qr/Triggering nginx reload/,
           'no nginx reloaded (the host\'s is out of reach)';

    installed_files();
    installed_docs();

    # the postinst (dh_nginx) enables a freshly installed module
    ok -l ENABLED, ENABLED . ' is a symbolic link';
    is readlink(ENABLED), AVAILABLE, '... to the snippet';

    with_nginx();

    # removal with the gateway's conf.d file still in place
    TursoMembers::Test::spew(CONFD,
                             slurp("$REPO/examples/debian/turso-members.conf"));
    ($code, $out) = dpkg('-r', PKG);
    is $code, 0, 'dpkg -r removes the package' or diag $out;
    like $out, qr/these files use the module's directives:\n\s+\Q${\CONFD}\E\n/,
         'the prerm names the conf.d file that uses the module';
    like $out, qr/fail with 'unknown directive': remove or disable them/,
         '... and says what to do';
    ok !-e SO, 'the module is gone';
    ok !-e DOC, 'its docs and examples are gone';
    ok !-e ENABLED && -l ENABLED . '.removed',
       'the link is kept as *.removed (restored on a reinstall)';

    my $t = TursoMembers::Test->new(no_module => 1, start => 0,
        main_config => 'include /etc/nginx/modules-enabled/*.conf;');
    symlink '/usr/lib/nginx/modules', $t->prefix . '/modules'
        or die "symlink: $!";
    ($code, $out) = $t->nginx_t(default_locations());
    isnt $code, 0, 'after the removal, a configuration using the '
                   . 'directives fails nginx -t (docs/packaging.md)';
    like $out, qr/unknown directive "turso_members/, '... unknown directive'
        or diag $out;

    ($code, $out) = dpkg('-P', PKG);
    is $code, 0, 'dpkg -P purges it' or diag $out;
    ok !installed(), 'the package is gone';
    ok !-e AVAILABLE, 'the snippet is gone';
    ok !-l ENABLED && !-l ENABLED . '.removed', 'the symbolic link is gone';
    ok -f CONFD, 'the administrator\'s conf.d file stays';
    unlink CONFD;
    is_deeply modules_enabled(), $enabled_before,
              '/etc/nginx/modules-enabled is as it was';

    done_testing;
}

sub installed_files {
    subtest 'the installed files' => sub {
        my %files = map { $_ => 1 } split /\n/, `dpkg -L ${\PKG}`;
        ok $files{+SO}, SO;
        ok $files{+AVAILABLE}, AVAILABLE;
        ok -f SO, 'the module is on disk';
        is slurp(AVAILABLE),
           "load_module modules/ngx_turso_members_module.so;\n",
           'the snippet loads the module from nginx\'s modules path';

        # the docs and examples as in the repository, uncompressed
        for my $f ('README.md', 'CHANGELOG.md',
                   (map { s{^\Q$REPO\E/}{}r } glob("$REPO/docs/*")),
                   'examples/nginx.conf', 'examples/debian/turso-members.conf',
                   'examples/portal/index.html')
        {
            ok $files{DOC . "/$f"}, DOC . "/$f";
            ok slurp(DOC . "/$f") eq slurp("$REPO/$f"),
               "... is the repository's $f";
        }
        ok !grep({ m{^\Q${\DOC}\E/.*\.gz$} && !m{/changelog\.gz$} }
                 keys %files),
           'nothing compressed but the Debian changelog';
    };
}

# Every relative link of the installed Markdown leads to an installed file.
sub installed_docs {
    subtest 'the links of the installed docs' => sub {
        my @md = grep { /\.md$/ } split /\n/, `find ${\DOC} -type f`;
        ok @md >= 10, scalar(@md) . ' Markdown files';
        my $links = 0;
        for my $md (@md) {
            my $text = slurp($md);
            (my $dir = $md) =~ s{/[^/]+$}{};
            while ($text =~ /\]\(([^)\s]+)\)/g) {
                my $target = $1 =~ s/#.*//r;
                next if $target eq '' || $target =~ m{^[a-z]+:}i;
                $links++;
                ok -e "$dir/$target", "$md: $target"
                    or diag "$md links to $target, which is not installed";
            }
        }
        ok $links >= 30, "$links links checked";
    };
}

sub with_nginx {
    my $include = 'include ' . ENABLED . ';';
    my $t = TursoMembers::Test->new(no_module => 1, main_config => $include,
                                    start => 0);

    # "load_module modules/..." is relative to nginx's prefix: the packaged
    # nginx's prefix /usr/share/nginx has modules -> /usr/lib/nginx/modules
    symlink '/usr/lib/nginx/modules', $t->prefix . '/modules'
        or die "symlink: $!";

    my ($code, $out) = $t->nginx_t(default_locations());
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
}


# --- helpers ------------------------------------------------------------

# Why this machine cannot make the private root, or '' when it can: the
# same mounts, tried on directories of a scratch tmpfs.
sub no_private_root {
    return 'no unshare' unless system('command -v unshare >/dev/null') == 0;
    my $d = tempdir('turso-members-probe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $o = "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w";
    my $out = `unshare --mount --pid --fork --mount-proc \\
               --propagation private -- sh -c '
        set -e
        mount -t tmpfs probe "$d"
        mkdir "$d/l" "$d/u" "$d/w"
        mount -t overlay overlay -o "$o" "$d/l"
        touch "$d/l/x" && test -f "$d/u/x"
        mount -t tmpfs probe "$d/l"
    ' 2>&1`;
    return $? == 0 ? '' : "unshare -m -p with overlayfs: "
                          . (split /\n/, $out)[0] // 'failed';
}

sub run_or_bail {
    my @cmd = @_;
    my $out = `@cmd 2>&1`;
    BAIL_OUT("@cmd: $out") if $?;
}

# What the package could change on the host: checked before and after.
sub host_state {
    my %s;
    my $where = join ' ', '/etc/nginx', '/usr/lib/nginx',
                '/usr/share/nginx/modules-available', DOC,
                '/usr/sbin/policy-rc.d';
    $s{files} = sha256_hex(scalar `find $where -printf \\
        '%p %y %m %s %T@ %l\n' 2>/dev/null | sort`);
    $s{packages} = `dpkg-query -W \\
        -f='\${Package} \${Status} \${Version}\n' \\
        'nginx*' 'libnginx-mod-*' 2>/dev/null | sort`;
    $s{info} = join ' ', glob('/var/lib/dpkg/info/' . PKG . '.*');
    return \%s;
}

sub installed {
    `dpkg-query -W -f='\${Status}' ${\PKG} 2>/dev/null`
        =~ /install ok (installed|unpacked|half)/;
}

# dpkg waits for nobody: retry while another dpkg of this root holds the
# lock.
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
