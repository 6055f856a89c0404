# Token files: only a regular file (or a symbolic link to one) is read, at
# load and at refresh, and never in a way that blocks.  A FIFO, a
# directory, a device, a socket or a file over 8 KiB makes nginx -t fail
# at once with a message naming the file and what it is; at refresh the
# current token is kept and an [error] says why.  A FIFO once hung
# nginx -t and, with refresh=, the worker that looked at it: every step
# here is bounded in time.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use IO::Socket::UNIX;
use POSIX qw(mkfifo);
use Time::HiRes qw(sleep time);

my $LIST = '/v1/organizations/acme/members';
my $NEW  = 'rotated-token-NEW1';


my $gid = getgrnam('nogroup') // getgrnam('nobody') // 65534;

my $t = TursoMembers::Test->new(start => 0, config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%PREFIX%%/conf/refresh.token refresh=1s organization=acme;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
CONF

my $P = $t->prefix;
my $file = "$P/conf/refresh.token";
my @sockets;

# Puts one kind of thing at $path (whatever was there goes).
sub make {
    my ($kind, $path) = @_;
    unlink $path;
    rmdir $path;
    if ($kind eq 'fifo') {
        mkfifo($path, 0644) or die "mkfifo: $!";
    } elsif ($kind eq 'directory') {
        mkdir $path or die "mkdir: $!";
        chmod 0755, $path;
    } elsif ($kind eq 'device') {
        symlink '/dev/zero', $path or die "symlink: $!";
    } elsif ($kind eq 'socket') {
        push @sockets, IO::Socket::UNIX->new(Local => $path, Listen => 1)
            or die "socket: $!";
    } elsif ($kind eq 'big') {
        TursoMembers::Test::spew($path, ('x' x 9000) . "\n");
    } elsif ($kind eq 'token') {
        TursoMembers::Test::spew("$path.new", "$NEW\n");
        chown -1, $gid, "$path.new";
        chmod 0640, "$path.new";
        rename "$path.new", $path or die;
    } else {
        die $kind;
    }
    return $path;
}

my %what = (
    fifo      => qr/is a FIFO, not a regular file/,
    directory => qr/is a directory, not a regular file/,
    device    => qr/is a device, not a regular file/,
    socket    => qr/is a socket, not a regular file/,
    big       => qr/is larger than 8192 bytes/,
);

# --- at load: nginx -t fails at once -----------------------------------------

for my $kind (sort keys %what) {
    subtest "nginx -t: a $kind" => sub {
        my $path = make($kind, "$P/conf/load-$kind.token");
        my $start = time;
        my ($code, $out) = $t->nginx_t(<<"CONF", timeout => 10);
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $path organization=acme;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
        my $took = time - $start;
        isnt $code, 0, 'fails';
        isnt $code, 137, 'and was not killed by the timeout';
        ok $took < 5, sprintf('at once (%.1f s)', $took);
        like $out, qr/\[emerg\].*the Turso API token file "\Q$path\E" $what{$kind} \(organization "acme"\)/,
             'the message names the file, what it is and the organization'
            or diag $out;
    };
}

subtest 'nginx -t: a FIFO with a writer waiting is not read either' => sub {
    my $path = make('fifo', "$P/conf/load-fifo2.token");
    my $pid = fork // die;
    if ($pid == 0) {
        # blocks until a reader opens it, then offers a token
        open my $w, '>', $path or POSIX::_exit(1);
        print $w "fifo-token-never-read\n";
        close $w;
        POSIX::_exit(0);
    }
    my ($code, $out) = $t->nginx_t(<<"CONF", timeout => 10);
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $path;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
    isnt $code, 0, 'fails';
    like $out, qr/is a FIFO/, 'a FIFO' or diag $out;
    unlike $out, qr/fifo-token-never-read/, 'nothing of it printed';
    kill 'KILL', $pid;
    waitpid $pid, 0;
};

subtest 'nginx -t: a symbolic link to a regular file, and 8192 bytes' => sub {
    my $real = "$P/conf/real.token";
    TursoMembers::Test::spew($real, "test-token\n");
    symlink $real, "$P/conf/link.token" or die;
    my $max = "$P/conf/max.token";
    TursoMembers::Test::spew($max, ('y' x 8191) . "\n");
    my ($code, $out) = $t->nginx_t(<<"CONF");
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $P/conf/link.token;
            turso_members_token_file $max organization=acme;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
    is $code, 0, 'accepted' or diag $out;

    TursoMembers::Test::spew($max, ('y' x 8192) . "\n");
    ($code, $out) = $t->nginx_t(<<"CONF");
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file $max organization=acme;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
    isnt $code, 0, '8193 bytes: refused';
    like $out, qr/is larger than 8192 bytes/, 'too large' or diag $out;
};

# --- at refresh: the current token is kept -------------------------------------

TursoMembers::Test::spew($file, "test-token\n");
chown -1, $gid, $file;
chmod 0640, $file;
$t->start;


# One list request: (Authorization upstream, the answer, seconds it took).
sub auth_of {
    $t->mock_reset;
    my $start = time;
    my $r = $t->request(method => 'GET', path => $LIST);
    my $took = time - $start;
    my $u = $t->upstream_requests;
    return ($u->[-1] ? $u->[-1]{headers}{authorization} : 'nothing', $r,
            $took);
}

subtest 'refresh: the first token' => sub {
    my ($auth, $r) = auth_of();
    is $auth, 'Bearer test-token', 'test-token';
    is $r->{status}, 200, 'status 200';
};

for my $kind (sort keys %what) {
    subtest "refresh: a $kind in place of the file" => sub {
        my $mark = $t->log_mark;
        make($kind, $file);
        past_interval();
        my ($auth, $r, $took) = auth_of();
        is $r->{status}, 200, 'answered 200' or diag explain $r;
        ok $took < 3, sprintf('at once (%.1f s)', $took);
        is $auth, 'Bearer test-token', 'the current token is kept';
        like $t->error_log_since($mark),
             qr/\[error\].*the Turso API token file "\Q$file\E" $what{$kind}, keeping the token ${\ token_id('test-token')} \(organization "acme"\)/,
             'an [error] naming the file and what it is';

        # the worker still serves, and a good file is taken again
        make('token', $file);
        past_interval();
        ($auth) = auth_of();
        is $auth, "Bearer $NEW", 'a regular file again: its token';
        TursoMembers::Test::spew("$file.new", "test-token\n");
        chown -1, $gid, "$file.new";
        chmod 0640, "$file.new";
        rename "$file.new", $file or die;
        past_interval();
        ($auth) = auth_of();
        is $auth, 'Bearer test-token', 'and back';
    };
}

subtest 'refresh: a FIFO with a writer waiting does not hang the worker' => sub {
    my $mark = $t->log_mark;
    make('fifo', $file);
    my $pid = fork // die;
    if ($pid == 0) {
        open my $w, '>', $file or POSIX::_exit(1);
        print $w "fifo-token-never-read\n";
        close $w;
        POSIX::_exit(0);
    }
    past_interval();
    my ($auth, $r, $took) = auth_of();
    is $r->{status}, 200, 'answered';
    ok $took < 3, sprintf('at once (%.1f s)', $took);
    is $auth, 'Bearer test-token', 'the current token';
    like $t->error_log_since($mark), qr/is a FIFO, not a regular file/,
         'logged';
    kill 'KILL', $pid;
    waitpid $pid, 0;
    unlike $t->error_log, qr/fifo-token-never-read/, 'nothing of it logged';
};

done_testing;
