# turso_members_token_file PATH refresh=TIME: each worker looks at the file
# at most once per interval, on a request, and re-reads it when it changed
# (inode, mtime or size).  A valid new token is used from then on (a
# [notice] gives its id); an invalid new file keeps the current token and
# logs an [error] naming the file.  No token ever reaches a log.
#
# The workers (user nobody) re-read the file: it must be readable by them,
# here through the group nogroup (0640 root:nogroup).

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use Time::HiRes qw(sleep time);

my $LIST = '/v1/organizations/acme/members';
my $NEW  = 'rotated-token-NEW1';
my $NEW2 = 'rotated-token-NEW2';


my $gid = getgrnam('nogroup') // getgrnam('nobody') // 65534;

# A token file under the instance's conf/ whose absolute path is $rem bytes
# past a multiple of 8 (the module once kept the path without its NUL:
# whether refresh found the file depended on the path's length), holding
# test-token, readable by the workers' group.
sub token_file_at {
    my ($inst, $name, $rem) = @_;
    my $f = $inst->prefix . "/conf/$name";
    $f .= 'x' while length($f) % 8 != $rem;
    TursoMembers::Test::spew($f, "test-token\n");
    chown -1, $gid, $f;
    chmod 0640, $f;
    return $f;
}

# new() with start => 0, %%REFRESH_FILE%% replaced by such a file, start.
sub instance {
    my ($class, $rem, %args) = @_;
    my $inst = $class->new(%args, start => 0);
    my $f = token_file_at($inst, 'refresh-token', $rem);
    $inst->{config} =~ s/%%REFRESH_FILE%%/$f/g;
    $inst->{refresh_file} = $f;
    $inst->start;
    return $inst;
}


my $t = instance('TursoMembers::Test', 4,
    http_config => 'log_format tid "$turso_members_token_id";',
    config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%REFRESH_FILE%% refresh=1s;
            access_log logs/tid.log tid;
            proxy_pass http://turso_api$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /static/ {
            rewrite ^/static(/.*)$ $1 break;
            turso_members on;
            turso_members_token_file %%REFRESH_FILE%%;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

my $file = $t->{refresh_file};

# Writes a new file and renames it over the token file (a new inode).
sub rotate {
    my ($content, $mode) = @_;
    my $tmp = "$file.new";
    TursoMembers::Test::spew($tmp, $content);
    chown -1, $gid, $tmp;
    chmod $mode // 0640, $tmp;
    rename $tmp, $file or die "rename: $!";
}

my $last_tid = '';

# The Authorization the upstream got for one list request (and the answer).
# A request to $LIST waits for its line in tid.log (nginx writes it after
# the answer): last_tid() is that line, and no line written late can pass
# for the next request's.
sub auth_of {
    my ($path) = @_;
    $t->mock_reset;
    my $mark = $t->log_mark('tid.log');
    my $r = $t->request(method => 'GET', path => $path // $LIST);
    ($last_tid) = $t->wait_log('tid.log', qr/\n/, $mark) =~ /^(.*)\n/
        unless defined $path;
    my $u = $t->upstream_requests;
    return ($u->[-1]{headers}{authorization} // 'none', $r);
}

sub last_tid { $last_tid // '' }


subtest 'the first token' => sub {
    my ($auth, $r) = auth_of();
    is $auth, 'Bearer test-token', 'the upstream gets the token';
    is $r->{status}, 200, 'status 200';
    is last_tid(), token_id('test-token'), '$turso_members_token_id';
};

subtest 'a rotated file: the new token after the interval' => sub {
    my $mark = $t->log_mark;
    rotate("$NEW\n");

    past_interval();
    my ($auth, $r) = auth_of();
    is $auth, "Bearer $NEW", 'the upstream gets the new token';
    # the mock knows only test-token: its 401 is the gateway's 502
    error_is $r, 502, 'upstream_unauthorized';
    is last_tid(), token_id($NEW), '$turso_members_token_id is the new id';

    my $log = $t->error_log_since($mark);
    like $log, qr/\[notice\].*turso_members: the Turso API token file "\Q$file\E" changed, now using the token ${\ token_id($NEW)}/,
         'a [notice] with the new token id' or diag $log;

    ($auth) = auth_of('/static' . $LIST);
    is $auth, 'Bearer test-token',
       'a location without refresh= keeps the token of the configuration';
};

subtest 'within the interval nothing is looked at' => sub {
    SKIP: {
        skip 'timing: slow binary', 2 if $TursoMembers::Test::TIMEOUT_FACTOR > 1;
        past_interval();
        my ($auth) = auth_of();             # checks: no change
        is $auth, "Bearer $NEW", 'still the new token';
        rotate("$NEW2\n");
        ($auth) = auth_of();                # well within the second
        is $auth, "Bearer $NEW", 'a change within the interval waits';
        past_interval();
        ($auth) = auth_of();
        is $auth, "Bearer $NEW2", 'and is taken after it';
        rotate("$NEW\n");
        past_interval();
        ($auth) = auth_of();
        is $auth, "Bearer $NEW", 'back to the first new token';
    }
};

for my $case (
    [ 'a token with a space', "bad token here\n",
      qr/contains a space, a control character or a non-ASCII byte/ ],
    [ 'an empty file', '', qr/is empty/ ],
    [ 'a lone newline', "\n", qr/is empty/ ],
    [ 'two lines', "line-one\nline-two\n", qr/contains a space/ ],
    [ 'a file the workers cannot read', "unreadable-token\n",
      qr/cannot be opened/, 0600 ],
) {
    my ($name, $content, $why, $mode) = @$case;

    subtest "an invalid new file: $name" => sub {
        my $mark = $t->log_mark;
        rotate($content, $mode);
        past_interval();
        my ($auth) = auth_of();
        is $auth, "Bearer $NEW", 'the current token is kept';
        is last_tid(), token_id($NEW), 'and its id';
        my $log = $t->error_log_since($mark);
        like $log, qr/\[error\].*turso_members: the Turso API token file "\Q$file\E" $why.*keeping the token ${\ token_id($NEW)}/,
             'an [error] naming the file' or diag $log;
        (my $whole = $content) =~ s/\n\z//;
        for my $secret ($NEW, $whole) {
            next unless length $secret;
            unlike $log, qr/\Q$secret\E/, "\"$secret\" is not in the log";
        }

        # logged once, not on every request
        $mark = $t->log_mark;
        past_interval();
        auth_of();
        unlike $t->error_log_since($mark), qr/\[error\].*token file/,
               'an unchanged bad file is not logged again';
    };
}

subtest 'a deleted file: the current token is kept' => sub {
    my $mark = $t->log_mark;
    unlink $file;
    past_interval();
    my ($auth) = auth_of();
    is $auth, "Bearer $NEW", 'the current token is kept';
    like $t->error_log_since($mark),
         qr/\[error\].*"\Q$file\E" cannot be examined, keeping the current token/,
         'an [error] naming the file';
};

subtest 'a file rewritten in place (same inode, new size)' => sub {
    rotate("$NEW2\n");
    past_interval();
    my ($auth) = auth_of();
    is $auth, "Bearer $NEW2", 'the new token';

    open my $fh, '+<', $file or die "$file: $!";
    truncate $fh, 0;
    print $fh "test-token\n";
    close $fh;
    past_interval();
    ($auth, my $r) = auth_of();
    is $auth, 'Bearer test-token', 'rewritten in place: read again';
    is $r->{status}, 200, 'the mock takes it: 200';
};

# Found by an attack: the file was compared by its modification time in
# whole seconds, so a rewrite in place with a token of the same length, in
# the second the worker had read the file, was never seen.
subtest 'a rewrite in place in the second it was read (same size)' => sub {
    SKIP: {
        skip 'timing: slow binary', 4 if $TursoMembers::Test::TIMEOUT_FACTOR > 1;
        my ($a, $b) = ('same-second-token-A', 'same-second-token-B');
        past_interval();
        sleep 1.05 - (time - int time);       # early in a second
        my $start = int time;
        open my $fh, '+<', $file or die "$file: $!";
        truncate $fh, 0;
        print $fh "$a\n";
        close $fh;
        my ($auth) = auth_of();
        is $auth, "Bearer $a", 'the token written';
        my $mark = $t->log_mark;
        open $fh, '+<', $file or die "$file: $!";
        truncate $fh, 0;
        print $fh "$b\n";
        close $fh;
        skip 'the second ended before the second write', 3
            if int(time) != $start;
        past_interval();
        ($auth) = auth_of();
        is $auth, "Bearer $b", 'rewritten within that second: read again';
        past_interval();
        ($auth) = auth_of();
        is $auth, "Bearer $b", 'and kept';
        my @n = $t->error_log_since($mark) =~ /now using the token/g;
        is scalar @n, 1, 'one [notice]';
    }
};

subtest 'a touched file that holds the same token: no change, no [notice]' => sub {
    my ($auth) = auth_of();
    my $mark = $t->log_mark;
    my $now = time + 5;
    utime $now, $now, $file or die "utime: $!";
    past_interval();
    my $before = $auth;
    ($auth) = auth_of();
    is $auth, $before, 'the same token';
    unlike $t->error_log_since($mark), qr/now using the token|keeping the token/,
           'nothing logged' or diag $t->error_log_since($mark);
};

# Found by an attack: a request's upstream error was masked against the
# token the worker held when the answer came, and named that token, so a
# refresh while the request was upstream let the old token into the log
# and blamed the new one.
subtest 'a request upstream while the token is replaced: its own token' => sub {
    my $old = 'in-flight-OLD-token-0123456789';
    my $new = 'in-flight-NEW-token-9876543210';
    rotate("$old\n");
    past_interval();
    my ($auth) = auth_of();
    is $auth, "Bearer $old", 'the old token';

    my $mark = $t->log_mark;
    my $tids = length TursoMembers::Test::slurp($t->prefix . '/logs/tid.log');
    $t->mock_script([{ status => 401, delay_ms => 3000,
                       body => qq({"error":"echo Authorization: Bearer $old"}) }]);
    my $c = $t->connect;
    $c->send_raw("GET $LIST HTTP/1.1\r\nHost: localhost\r\n"
                 . "Connection: close\r\n\r\n");
    sleep 0.3;
    my $u = $t->upstream_requests;
    is $u->[-1]{headers}{authorization}, "Bearer $old",
       'the slow request went with the old token';

    rotate("$new\n");
    past_interval();
    ($auth) = auth_of();
    is $auth, "Bearer $new", 'a request after the refresh: the new token';

    my $r = $c->read_response(timeout => 10);
    $c->close;
    error_is $r, 502, 'upstream_unauthorized', 'the slow request';
    # its line (written after the answer) and the refreshed request's
    my $tid = $t->wait_log('tid.log', qr/\n.*\n/, $tids);

    my $log = $t->error_log_since($mark);
    my @leaks = grep { index($log, substr($old, $_, 8)) >= 0 }
                0 .. length($old) - 8;
    is scalar @leaks, 0, 'no 8 bytes of the old token in the error log'
        or diag $log;
    my @ids = $log =~ /upstream answered 401.*?; token (\w+)/g;
    is_deeply [ sort @ids ], [ sort(token_id($old), token_id($new)) ],
              'each 401 names the token it went with' or diag $log;
    is_deeply [ sort split /\n/, $tid ],
              [ sort(token_id($old), token_id($new)) ],
              '$turso_members_token_id: the same';
};

# The path of the file, whatever its length, is a C string for stat() and
# open(): for each remainder mod 8, one nginx, one rotation.
for my $rem (0 .. 7) {
    subtest "a path of 8n+$rem bytes" => sub {
        my $i = instance('TursoMembers::Test', $rem, config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%REFRESH_FILE%% refresh=1s;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF
        my $f = $i->{refresh_file};
        is length($f) % 8, $rem, "the path: $f";
        my $mark = $i->log_mark;
        $i->request(method => 'GET', path => $LIST);
        TursoMembers::Test::spew("$f.new", "$NEW\n");
        chown -1, $gid, "$f.new";
        chmod 0640, "$f.new";
        rename "$f.new", $f or die;
        past_interval();
        $i->mock_reset;
        $i->request(method => 'GET', path => $LIST);
        my $u = $i->upstream_requests;
        is $u->[-1]{headers}{authorization}, "Bearer $NEW", 'the new token';
        unlike $i->error_log_since($mark), qr/cannot be examined/,
               'the file was found' or diag $i->error_log_since($mark);
        $i->stop;
    };
}

subtest 'refresh=: configuration' => sub {
    for my $bad ('refresh=0', 'refresh=abc', 'refresh=', 'every=1s') {
        my ($code, $out) = $t->nginx_t(<<"CONF");
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%% $bad;
            proxy_pass http://turso_api\$turso_members_upstream_uri;
        }
CONF
        isnt $code, 0, "\"$bad\" fails nginx -t";
        like $out, qr/invalid (refresh interval|parameter) "\Q$bad\E"/,
             'and names it' or diag $out;
    }
    my ($code, $out) = $t->nginx_t(default_locations() =~
        s/(turso_members_token_file \S+);/$1 refresh=5m;/gr);
    is $code, 0, 'refresh=5m is fine' or diag $out;
};

subtest 'no token in any log' => sub {
    my $all = $t->error_log . $t->access_log
              . TursoMembers::Test::slurp($t->prefix . '/logs/tid.log');
    for my $secret ($NEW, $NEW2, 'unreadable-token', 'test-token') {
        unlike $all, qr/\Q$secret\E/, "no $secret";
    }
};

# --- two workers: each re-reads the file -------------------------------------------

package TwoWorkers {
    our @ISA = ('TursoMembers::Test');
    sub nginx_conf {
        my $self = shift;
        my $c = $self->SUPER::nginx_conf(@_);
        $c =~ s/^worker_processes 1;/worker_processes 2;/m or die;
        return $c;
    }
}

my $t2 = instance('TwoWorkers', 4,
    http_config => 'log_format pidtid "$pid $turso_members_token_id";',
    config => <<'CONF');
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        listen 127.0.0.1:%%H2PORT%% reuseport http2;
        server_name localhost;
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%REFRESH_FILE%% refresh=1s;
            access_log logs/pids.log pidtid;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
    }
CONF

subtest 'two workers: every worker takes the new token' => sub {
    my $f2 = $t2->{refresh_file};

    $t2->request(method => 'GET', path => $LIST) for 1 .. 10;
    my $tmp = "$f2.new";
    TursoMembers::Test::spew($tmp, "$NEW\n");
    chown -1, $gid, $tmp;
    chmod 0640, $tmp;
    rename $tmp, $f2 or die;
    past_interval();

    my $seen = $t2->log_mark('pids.log');
    $t2->mock_reset;
    $t2->request(method => 'GET', path => $LIST) for 1 .. 20;
    my @auth = map { $_->{headers}{authorization} } @{ $t2->upstream_requests };
    is scalar @auth, 20, '20 requests upstream';
    is_deeply [ grep { $_ ne "Bearer $NEW" } @auth ], [],
              'every one with the new token';
    # every line, the last requests' too (written after their answers)
    my %by_pid;
    for (split /\n/, $t2->wait_log('pids.log', qr/(?:.*\n){20}/, $seen)) {
        my ($pid, $tid) = split / /;
        $by_pid{$pid}{$tid}++;
    }
    ok keys %by_pid >= 2, 'both workers served ('
                           . join(', ', sort keys %by_pid) . ')';
    is_deeply [ grep { !$by_pid{$_}{ token_id($NEW) }
                       || keys %{ $by_pid{$_} } != 1 } keys %by_pid ], [],
              'each with the new token id';
    my @notices = $t2->error_log =~ /\[notice\] (\d+)#\d+: .*now using the token/g;
    my %n = map { $_ => 1 } @notices;
    ok keys %n >= 2, 'each worker logged its [notice]';
};

done_testing;
