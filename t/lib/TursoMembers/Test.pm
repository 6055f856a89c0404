package TursoMembers::Test;

# A small test harness for ngx_turso_members: one stateful Turso mock per
# test file (t/mock/turso-mock.js), one nginx per TursoMembers::Test object,
# a raw HTTP/1.1 client that controls every byte, HTTP/2 through curl.
#
#   use lib 't/lib';
#   use TursoMembers::Test;            # also exports Test::More
#
#   my $t = TursoMembers::Test->new;   # the default locations, module loaded
#   my $r = $t->request(method => 'POST',
#                       path   => '/v1/organizations/acme/members',
#                       body   => '{"username":"bob"}');
#   is $r->{status}, 200;
#   is $t->upstream_requests->[0]{body}, '{"username":"bob","role":"member"}';
#   done_testing;                      # also stops nginx, checks error.log
#
# What a test asks of an answer and of what reached the upstream (the mock):
#   error_is($r, $status, $code, $name, %fields)   the gateway's JSON error
#   $t->refused($r, $status, $code, $name, %fields) that, and nothing upstream
#   $t->nothing_upstream($name)
#   $t->forwarded($method, $url, $body)    exactly one upstream request, as:
#   $t->upstream_is($i, $method, $url, $body)  request $i: method, URL, the
#                                          gateway's token only, the canonical
#                                          body with its headers, or no body
#   raw_headers($u, $name)                 every value of a header, in order
#   $t->nginx_t_refuses($config, $re, $name, %args)   nginx -t fails, says so
#   $t->workers                            the worker processes' pids
#   token_id($token)                       its $turso_members_token_id
#   nginx_version()                        the nginx under test, as the
#                                          number nginx_version is in C
#                                          (1030006 for 1.30.6)
#   nginx_at_least('1.29.4')               true from that version on
#   past_interval()                        sleeps past a refresh=1s
#
# new(%args):
#   config       server-level text (locations ...) replacing the default
#                locations; if it starts with "server {", it is http-level
#                text replacing the default server block instead
#   http_config  extra http-level text (before the server block)
#   main_config  extra main-level text
#   no_module    1: don't load_module (to test the harness itself)
#   env          { NAME => value } added to nginx's environment
#   start        0: write the prefix but don't start nginx (for nginx_t)
#   alerts       a pattern of the [alert] lines a test expects (and asserts
#                itself): the end-of-file check of error.log skips them
#   whole_config a whole nginx.conf used as it is (placeholders expanded),
#                instead of the harness's; it must listen on %%PORT%% and
#                %%H2PORT%%.  For a configuration written for production
#                (examples/), whose main context lacks what the harness
#                needs, pass those as
#   globals      main-context directives given with nginx -g (start and
#                nginx_t): e.g. 'daemon off; pid logs/nginx.pid;'
#
# Placeholders in any config text: %%MOCK%% (127.0.0.1:port), %%MOCK_PORT%%,
# %%MOCK_H2%% (the mock over h2c, for proxy_http_version 2),
# %%TOKEN_FILE%%, %%PORT%%, %%H2PORT%%, %%CLOSED_PORT%% (nothing listens),
# %%PREFIX%%, %%LOCATIONS%% (the default locations).
#
# Environment: TEST_NGINX_BINARY, TEST_NGINX_MODULE, TEST_NGINX_KEEP (keep
# the servroot-* directories even when every test passed),
# TEST_NGINX_SERVROOT (where the servroot-* directories go).
#
# Where the nginx prefixes live: t/servroot-<test>-<pid>/<n>/, unless the
# tests run as root and nginx's workers (user nobody) cannot reach t/ --
# a checkout under /root or in a 0700 folder -- then in a 0755 directory
# made under $TMPDIR (or /tmp): /tmp/turso-members-XXXXXX/servroot-.../.
# TEST_NGINX_SERVROOT=DIR puts them in DIR instead, in every case.
#
# Sanitizers and valgrind (tools/sanitize.sh sets these):
#   TEST_NGINX_STATIC=1        the module is built into TEST_NGINX_BINARY:
#                              no load_module (%%LOAD_MODULE%% expands to
#                              nothing)
#   TEST_NGINX_SANITIZE=1      ASan/UBSan binary: each nginx gets
#                              log_path=<prefix>/logs/reports/asan (ubsan)
#                              added to ASAN_OPTIONS (UBSAN_OPTIONS); any
#                              report file, sanitizer text or a process
#                              exiting with code 86 in error.log or
#                              stderr.log, or a master exiting with a
#                              non-zero status fails the test file
#   TEST_NGINX_VALGRIND=1      every nginx (and nginx -t) runs under
#                              valgrind memcheck, logs in
#                              <prefix>/logs/reports/valgrind.<pid>; any error
#                              counted there fails the test file.  Extra
#                              valgrind arguments: TEST_NGINX_VALGRIND_OPTS
#   TEST_NGINX_TIMEOUT_FACTOR  multiplies every time the harness waits for
#                              nginx (start, stop, answers): for slow
#                              binaries (valgrind)

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Digest::SHA ();
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::IP;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Net::EmptyPort qw(can_bind wait_port);
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

use Exporter ();
our @ISA = (q(Exporter));
our @EXPORT = qw(default_locations json_body error_is free_port
                 raw_headers token_id past_interval ADD_MEMBER
                 nginx_version nginx_at_least gateway_location
                 prefixed_location);

use constant ADD_MEMBER => '/v1/organizations/acme/members';

our $TIMEOUT_FACTOR = $ENV{TEST_NGINX_TIMEOUT_FACTOR} || 1;
our $TIMEOUT = 5 * $TIMEOUT_FACTOR;

my $REPO = abs_path(dirname(__FILE__) . '/../../..');
my $TEST = basename($0, '.t');

my $NGINX  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $MODULE = $ENV{TEST_NGINX_MODULE}
             || "$REPO/build/ngx_turso_members_module.so";
my $STATIC   = $ENV{TEST_NGINX_STATIC};
my $SANITIZE = $ENV{TEST_NGINX_SANITIZE};
my $VALGRIND = $ENV{TEST_NGINX_VALGRIND};

our $TOKEN = 'test-token';

my $JSON = JSON::PP->new->canonical->allow_nonref;

my (@instances, $mock_pid, $mock_port, $mock_h2_port, $checked, $seq,
    $nginx_version);

my ($SERVROOT, $SERVROOT_TMP) = servroot();


# --- import: Test::More into the caller, and our done_testing -------------

sub import {
    my $caller = caller;

    eval "package $caller; use Test::More; 1" or die $@;

    no strict 'refs';
    no warnings 'redefine';
    *{"${caller}::done_testing"} = \&done_testing;
    __PACKAGE__->export_to_level(1, @_);
}


# Stops every nginx, checks the logs (as tests), then Test::More's.
sub done_testing {
    run_checks();
    Test::More->builder->done_testing(@_);
}


# The id the gateway logs for a token ($turso_members_token_id).
sub token_id { substr(Digest::SHA::sha256_hex($_[0]), 0, 12) }


# The version of the nginx under test (nginx -v) as a number, 1.30.6 being
# 1030006: expectations that follow nginx's changes ask for it.
sub nginx_version {
    return $nginx_version if defined $nginx_version;
    my $v = `'$NGINX' -v 2>&1`;
    $v =~ m{nginx/(\d+)\.(\d+)\.(\d+)} or croak "$NGINX -v: $v";
    return $nginx_version = $1 * 1_000_000 + $2 * 1_000 + $3;
}

sub nginx_at_least {
    my ($x, $y, $z) = split /\./, $_[0];
    return nginx_version() >= $x * 1_000_000 + $y * 1_000 + ($z // 0);
}


# Sleeps past a token file's refresh=1s.
sub past_interval { sleep 1.3 * $TIMEOUT_FACTOR }


# A gateway location /v1/organizations/ proxying to the upstream block
# named $upstream, with @directives: for nginx -t tests.
sub gateway_location {
    my ($upstream, @directives) = @_;
    my $d = join '', map { "            $_\n" } @directives;
    return <<"CONF";
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
${d}            proxy_pass http://$upstream\$turso_members_upstream_uri;
        }
CONF
}


# A gateway location under $prefix ("/after"), its path rewritten to the
# API's (/after/v1/... to /v1/...), in front of the mock, with $extra: a
# location beside the default ones, for one directive's effect.
sub prefixed_location {
    my ($prefix, $extra) = @_;
    $extra //= '';
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


sub default_locations {
    my ($extra) = @_;

    $extra //= '';

    my $out = '';
    for my $v (qw(v1 v2)) {
        $out .= <<"LOC";
        location /$v/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            $extra
            proxy_pass http://turso_api\$turso_members_upstream_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
LOC
    }

    return $out;
}


# The gateway's error answer: status, JSON content type, exact length,
# {"error":"<message>","code":"<code>","status":<int>, ...}.  %fields:
# organization/username => value (must be equal) or undef (must be absent).
sub error_is {
    my ($r, $status, $code, $name, %fields) = @_;

    my $tb = Test::More->builder;

    my @why;
    push @why, "status $r->{status}, want $status" if $r->{status} != $status;
    push @why, "content-type " . ($r->{headers}{'content-type'} // 'none')
        unless ($r->{headers}{'content-type'} // '') =~ m{^application/json\b};
    push @why, "content-length " . ($r->{headers}{'content-length'} // 'none')
               . " for " . length($r->{body} // '') . " bytes"
        unless defined $r->{headers}{'content-length'}
               && $r->{headers}{'content-length'} == length($r->{body} // '');

    my $j = decode_json_maybe($r->{body});
    if (ref $j ne 'HASH') {
        push @why, "body is not a JSON object";
    } else {
        push @why, "code " . ($j->{code} // 'none') . ", want $code"
            if ($j->{code} // '') ne $code;
        push @why, "error is not a non-empty string"
            unless defined $j->{error} && !ref $j->{error}
                   && length $j->{error};
        push @why, "status field is not the number $status"
            unless $r->{body} =~ /"status"\s*:\s*$status\s*[,}]/;
        for my $f (sort keys %fields) {
            if (!defined $fields{$f}) {
                push @why, "$f present: $j->{$f}" if exists $j->{$f};
            } elsif (($j->{$f} // '') ne $fields{$f}) {
                push @why, "$f is " . ($j->{$f} // 'absent')
                           . ", want $fields{$f}";
            }
        }
    }

    $tb->ok(!@why, $name // "$status $code")
        or $tb->diag(join("\n", @why, "body: " . ($r->{body} // '')
                                      . ($r->{error} ? "\n($r->{error})" : '')));
    return $j;
}


# Asserts that the mock received nothing (since the last mock_reset).
sub nothing_upstream {
    my ($self, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $u = $self->upstream_requests;
    Test::More::is(scalar @$u, 0, $name // 'nothing reached the upstream')
        or Test::More::diag(Test::More::explain($u));
}


# The gateway refused the request: its error (error_is), and nothing
# reached the upstream (since the last mock_reset).
sub refused {
    my ($self, $r, $status, $code, $name, %fields) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    error_is($r, $status, $code, $name, %fields);
    $self->nothing_upstream(defined $name ? "$name: nothing upstream"
                                          : undef);
}


# The values of one header of an upstream request, in the order received,
# every occurrence (the mock's rawHeaders: name, value, name, value ...).
sub raw_headers {
    my ($u, $name) = @_;
    my @raw = @{ $u->{rawHeaders} || [] };
    return map { $raw[2 * $_ + 1] } grep { lc $raw[2 * $_] eq lc $name }
           0 .. $#raw / 2;
}


# Upstream request number $i (0: the first since the last mock_reset) is
# what the gateway must send: $method $url, the gateway's token as its only
# Authorization, no Transfer-Encoding, and either the canonical $body with
# its own Content-Length and Content-Type: application/json, or no body.
# Returns the request.
sub upstream_is {
    my ($self, $i, $method, $url, $body) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $u = $self->upstream_requests->[$i] // {};

    Test::More::subtest("upstream #$i: $method $url" => sub {
        Test::More::is($u->{method}, $method, 'method');
        Test::More::is($u->{url}, $url, 'URL');
        Test::More::is_deeply([raw_headers($u, 'Authorization')],
                              ["Bearer $TOKEN"],
                              'only the gateway token as Authorization');
        Test::More::ok(!exists $u->{headers}{'transfer-encoding'},
                       'no Transfer-Encoding');

        if (defined $body) {
            Test::More::is($u->{body}, $body, 'canonical body');
            Test::More::is_deeply([raw_headers($u, 'Content-Length')],
                                  [length $body],
                                  'Content-Length of the canonical body');
            Test::More::is_deeply([raw_headers($u, 'Content-Type')],
                                  ['application/json'],
                                  'Content-Type: application/json');
        } else {
            Test::More::is($u->{body_length}, 0, 'no body');
            my @cl = raw_headers($u, 'Content-Length');
            Test::More::ok(!@cl || (@cl == 1 && $cl[0] eq '0'),
                           'no Content-Length but 0')
                or Test::More::diag("Content-Length: @cl");
        }
    });

    return $u;
}


# Exactly one request reached the upstream, as upstream_is() says.
sub forwarded {
    my ($self, $method, $url, $body) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $all = $self->upstream_requests;
    Test::More::is(scalar @$all, 1, 'one upstream request')
        or Test::More::diag(Test::More::explain($all));

    return $self->upstream_is(0, $method, $url, $body);
}


sub json_body {
    my ($data) = @_;
    return JSON::PP->new->canonical->encode($data);
}


# --- ports -----------------------------------------------------------------

# A free TCP port on 127.0.0.1 below the kernel's ephemeral range: a port
# the kernel picked (Net::EmptyPort's empty_port) can be taken by any
# outgoing connection (nginx to the mock, a client, wrk) before nginx binds
# it, and nginx then fails with "Address already in use".
my %given;

sub free_port {
    my ($lo) = split ' ', slurp('/proc/sys/net/ipv4/ip_local_port_range')
               || '32768';
    $lo = 32768 if $lo < 12000;

    for (1 .. 1000) {
        my $port = 10000 + int rand($lo - 10000);
        next if $given{$port};
        next unless can_bind('127.0.0.1', $port);
        $given{$port} = 1;
        return $port;
    }
    croak 'no free port below the ephemeral range';
}


# --- the mock --------------------------------------------------------------

sub mock_port {
    start_mock() unless $mock_pid;
    return $mock_port;
}


sub start_mock {
    return if $mock_pid;

    my $dir = $SERVROOT;
    make_path($dir);
    chmod 0755, $dir;

    $mock_port = free_port();
    $mock_h2_port = free_port();

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/mock.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'node', "$REPO/t/mock/turso-mock.js", '--port', $mock_port,
             '--token', $TOKEN, '--h2port', $mock_h2_port;
        die "exec node: $!";
    }
    $mock_pid = $pid;

    unless (wait_port({ port => $mock_port, max_wait => $TIMEOUT })
            && wait_port({ port => $mock_h2_port, max_wait => $TIMEOUT }))
    {
        croak "turso-mock did not listen on $mock_port: "
              . slurp("$dir/mock.log");
    }
}


sub stop_mock {
    return unless $mock_pid;
    kill 'TERM', $mock_pid;
    wait_pid($mock_pid, 3) or do { kill 'KILL', $mock_pid; waitpid $mock_pid, 0 };
    undef $mock_pid;
}


sub mock_http {
    my ($method, $path, $content) = @_;

    my $res = HTTP::Tiny->new(timeout => $TIMEOUT, keep_alive => 0)->request(
        $method, 'http://127.0.0.1:' . mock_port() . $path,
        defined $content ? { content => $content } : {});
    croak "mock $method $path: $res->{status} $res->{content}"
        unless $res->{success};

    return $JSON->decode($res->{content});
}


sub mock_reset { mock_http('POST', '/__mock/reset') }

sub mock_script {
    my ($self, $list) = @_;
    mock_http('POST', '/__mock/script', $JSON->encode($list));
}

# The tokens the mock takes: { token => organization slug or '*' } (see
# t/mock/turso-mock.js); kept across mock_reset.
sub mock_tokens {
    my ($self, $map) = @_;
    mock_http('POST', '/__mock/tokens', $JSON->encode($map));
}

# Every request the mock received since the last reset, oldest first: each
# { method, url, headers => {lowercased => value}, rawHeaders, body,
#   body_base64, body_length, http_version }.
sub upstream_requests { mock_http('GET', '/__mock/requests') }


# --- nginx -----------------------------------------------------------------

sub new {
    my ($class, %args) = @_;

    my $self = bless { %args }, $class;

    $self->{n} = ++$seq;
    $self->{prefix} = "$SERVROOT/$self->{n}";
    $self->pick_ports;

    $self->write_prefix;
    push @instances, $self;

    $self->mock_reset;

    return $self if defined $args{start} && !$args{start};

    # ports nobody has seen yet: taken meanwhile, try others
    for my $try (1 .. 3) {
        my $started = eval { $self->start; 1 };
        return $self if $started;
        croak $@ if $try == 3 || $@ !~ /Address already in use/;
        Test::More::note("nginx #$self->{n}: a port was taken, new ports");
        rename "$self->{prefix}/logs/error.log",
               "$self->{prefix}/logs/error.log.bind-$try";
        $self->pick_ports;
    }

    return $self;
}


sub pick_ports {
    my ($self) = @_;
    $self->{$_} = free_port() for qw(port h2port closed_port);
}


sub prefix { $_[0]{prefix} }

# This test file's directory for nginx prefixes and the like (made on
# demand, 0755): for tests that run nginx themselves.
sub servroot_dir {
    make_path($SERVROOT);
    chmod 0755, $SERVROOT;
    return $SERVROOT;
}
sub port   { $_[0]{port} }
sub h2port { $_[0]{h2port} }


sub write_prefix {
    my ($self) = @_;

    my $p = $self->{prefix};
    make_path(map { "$p/$_" } qw(conf logs client_body_temp proxy_temp
                                 fastcgi_temp uwsgi_temp scgi_temp));

    # workers run as nobody when root: every directory readable
    chmod 0755, $SERVROOT, $p,
          map { "$p/$_" } qw(conf logs client_body_temp proxy_temp);

    # sanitizer and valgrind reports, written by workers running as nobody
    if ($SANITIZE || $VALGRIND) {
        make_path("$p/logs/reports");
        chmod 01777, "$p/logs/reports";
    }

    $self->{token_file} = "$p/conf/token";
    spew($self->{token_file}, "$TOKEN\n");
    chmod 0640, $self->{token_file};
}


sub expand {
    my ($self, $text) = @_;

    $text =~ s/%%LOCATIONS%%/default_locations()/ge;

    my %v = (
        MOCK        => '127.0.0.1:' . mock_port(),
        MOCK_PORT   => mock_port(),
        MOCK_H2     => '127.0.0.1:' . $mock_h2_port,
        TOKEN_FILE  => $self->{token_file},
        PORT        => $self->{port},
        H2PORT      => $self->{h2port},
        CLOSED_PORT => $self->{closed_port},
        PREFIX      => $self->{prefix},
        LOAD_MODULE => $STATIC ? '' : "load_module $MODULE;",
    );
    $text =~ s/%%(\w+)%%/exists $v{$1} ? $v{$1} : croak "unknown %%$1%%"/ge;

    return $text;
}


# The whole nginx.conf for a config (see new() for the arguments).
sub nginx_conf {
    my ($self, %args) = @_;

    return $self->expand($args{whole_config}) if defined $args{whole_config};

    my $config = $args{config} // default_locations();
    my $http = $args{http_config} // '';
    my $main = $args{main_config} // '';
    my $p = $self->{prefix};

    my $server;
    if ($config =~ /\A\s*server\s*\{/) {
        $server = $config;
    } else {
        $server = <<"SERVER";
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%H2PORT%% http2;
        server_name localhost;

$config
    }
SERVER
    }

    my $load = $args{no_module} || $STATIC ? '' : "load_module $MODULE;";

    return $self->expand(<<"CONF");
$load
daemon off;
master_process on;
worker_processes 1;
worker_shutdown_timeout 2s;
error_log logs/error.log info;
pid logs/nginx.pid;
$main

events {
    worker_connections 256;
}

http {
    access_log logs/access.log;

    client_body_temp_path $p/client_body_temp;
    proxy_temp_path $p/proxy_temp;
    fastcgi_temp_path $p/fastcgi_temp;
    uwsgi_temp_path $p/uwsgi_temp;
    scgi_temp_path $p/scgi_temp;

    upstream turso_api {
        server 127.0.0.1:%%MOCK_PORT%%;
        keepalive 8;
    }

$http

$server
}
CONF
}


sub start {
    my ($self) = @_;

    croak "nginx module not found at $MODULE (run ./build.sh first)"
        if !$self->{no_module} && !$STATIC && !-f $MODULE;

    my $p = $self->{prefix};
    spew("$p/conf/nginx.conf", $self->nginx_conf(%$self));
    my $log_start = -s "$p/logs/error.log" || 0;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$p/logs/stderr.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        @ENV{ keys %{ $self->{env} || {} } } = values %{ $self->{env} || {} };
        $self->checker_env;
        exec $self->checker_cmd, $NGINX, '-p', "$p/", '-c', 'conf/nginx.conf',
             '-e', 'logs/error.log', $self->globals;
        die "exec $NGINX: $!";
    }
    $self->{pid} = $pid;
    delete $self->{exit_status};

    my $deadline = time + $TIMEOUT;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            croak "nginx exited at start-up (status $?):\n"
                  . slurp("$p/logs/stderr.log") . slurp("$p/logs/error.log")
                  . join('', map { slurp($_) } $self->checker_logs);
        }
        # a port taken by another process: nginx retries for 2.5 s while
        # the other process may answer the checks below
        my $log = substr slurp("$p/logs/error.log"), $log_start;
        if ($log =~ /bind\(\) to .* failed/) {
            kill 'TERM', $pid;
            wait_pid($pid, 2 * $TIMEOUT_FACTOR)
                or do { kill 'KILL', $pid; waitpid $pid, 0 };
            delete $self->{pid};
            croak "nginx could not listen:\n$log";
        }
        return $self if can_connect($self->{port})
                        && can_connect($self->{h2port});
        sleep 0.05;
    }

    croak "nginx did not listen on $self->{port} within ${TIMEOUT}s";
}


sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;

    # exit_status: the master's wait status (a sanitizer's exit code), or
    # 'killed' when it had to be killed
    kill 'QUIT', $pid;
    if (wait_pid($pid, 4 * $TIMEOUT_FACTOR)) {
        $self->{exit_status} = $?;
        return;
    }
    kill 'TERM', $pid;
    if (wait_pid($pid, 2 * $TIMEOUT_FACTOR)) {
        $self->{exit_status} = $?;
        return;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    $self->{exit_status} = 'killed';
}


# --- sanitizers and valgrind -------------------------------------------------

# True if a sanitizer report is only nginx's own leak after a failed
# configuration: main() never destroys init_cycle's pool when
# ngx_init_cycle() fails (nginx -t of a bad config, a start that fails).
# LeakSanitizer suppressions cannot tell it apart (every allocation has
# main() on its stack), so it is recognised here by its exact stack.
sub known_nginx_leak {
    my ($text) = @_;

    (my $t = $text) =~ s/^SUMMARY: .*\n?//mg;
    my ($head, @leaks) = split /\n(?=(?:Direct|Indirect) leak of )/, $t;

    return 0 unless @leaks && $head =~
        /\A\s*=+\s*==\d+==ERROR: LeakSanitizer: detected memory leaks\s*\z/;

    for my $l (@leaks) {
        return 0 unless $l =~ m{\A Direct\ leak\ of\ \d+\ byte\(s\)
            \ in\ 1\ object\(s\)\ allocated\ from:\n
            \s+\#0\ [^\n]*\ in\ \S*(?:posix_memalign|malloc)\ [^\n]*\n
            \s+\#1\ [^\n]*\ in\ ngx_memalign\ [^\n]*\n
            \s+\#2\ [^\n]*\ in\ ngx_create_pool\ [^\n]*\n
            \s+\#3\ [^\n]*\ in\ main\ \S*src/core/nginx\.c:\d+\n}x;
    }

    return 1;
}


# In the child, before exec: per-instance report files.
#
# nginx -t (test => 1) exits without freeing its cycle, and whether
# LeakSanitizer finds the cycle still referenced depends on the stack at
# exit: no leak detection there.  A running nginx destroys its cycle pool
# at exit (master and workers), so leaks of the module's own allocations
# show there.
sub checker_env {
    my ($self, %a) = @_;

    my $p = $self->{prefix};

    if ($SANITIZE) {
        # later options win: the caller's options, then ours
        for my $v (qw(ASAN UBSAN)) {
            $ENV{"${v}_OPTIONS"} = join ':', grep { defined && length }
                $ENV{"${v}_OPTIONS"}, "log_path=$p/logs/reports/" . lc $v,
                ($a{test} && $v eq 'ASAN' ? 'detect_leaks=0' : ());
        }
    }
}


# The command nginx is run under (empty: nginx itself).
sub checker_cmd {
    my ($self, %a) = @_;

    return () unless $VALGRIND;

    return ('valgrind', '--tool=memcheck', '--quiet',
            "--log-file=$self->{prefix}/logs/reports/valgrind.%p",
            '--error-exitcode=86',
            $a{test} ? '--leak-check=no' : '--leak-check=full',
            '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite',
            '--num-callers=30', '--track-origins=no',
            split(' ', $ENV{TEST_NGINX_VALGRIND_OPTS} // ''));
}


sub checker_logs {
    my ($self) = @_;
    my $p = $self->{prefix};
    return sort glob("$p/logs/reports/asan.* $p/logs/reports/ubsan.* "
                     . "$p/logs/reports/valgrind.*");
}


# What the sanitizers or valgrind reported for this instance: a list of
# problems (empty when clean or when neither is in use).
sub checker_problems {
    my ($self) = @_;

    return () unless $SANITIZE || $VALGRIND;

    my @why;
    my $p = $self->{prefix};
    # 86: the exit code tools/sanitize.sh gives ASan, UBSan and valgrind;
    # "Can't open file": a report that could not be written
    my $re = qr/AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer
               |runtime\ error:|==\d+==\s*ERROR|ERROR:\ Can't\ open\ file
               |exited\ with\ code\ 86\b/x;

    for my $log (qw(error.log stderr.log), map { "nginx-t-$_.log" }
                 1 .. ($self->{nt} // 0))
    {
        my @l = grep { $_ =~ $re } split /\n/, slurp("$p/logs/$log");
        push @why, "logs/$log: " . join("\n", @l[0 .. ($#l > 9 ? 9 : $#l)])
            if @l;
    }

    for my $file ($self->checker_logs) {
        my $text = slurp($file);
        my $name = basename($file);
        if ($name =~ /^valgrind/) {
            # valgrind --quiet writes nothing for a clean process; count
            # "ERROR SUMMARY: N" when it is there
            my $n = 0;
            $n += $1 while $text =~ /ERROR SUMMARY: (\d+) errors/g;
            $n ||= () = $text =~ /^==\d+== \S/mg;
            push @why, "logs/$name:\n" . substr($text, 0, 6000) if $n;
        } elsif (length $text && !known_nginx_leak($text)) {
            push @why, "logs/$name:\n" . substr($text, 0, 6000);
        }
    }

    my $st = $self->{exit_status};
    if (defined $st && $st ne 'killed' && $st != 0) {
        push @why, "nginx master exited with status " . ($st >> 8)
                   . ($st & 127 ? " (signal " . ($st & 127) . ")" : '');
    }

    return @why;
}


# Runs "nginx -t" on a config: a full nginx.conf (if it has an "http {"
# block) or anything new() takes as config.  Returns (exit code, output:
# stderr and the start-up error log).  With timeout => secs, an nginx -t
# still running then is killed (exit code 137).
sub nginx_t {
    my ($self, $config, %args) = @_;

    my $p = $self->{prefix};
    my $n = ++$self->{nt};
    my $text = $config =~ /^\s*http\s*\{/m
               ? $self->expand($config)
               : $self->nginx_conf(%$self, %args, config => $config);

    spew("$p/conf/nginx-t-$n.conf", $text);
    unlink "$p/logs/nginx-t-$n.log";

    my $env = { %{ $self->{env} || {} }, %{ $args{env} || {} } };
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die;
        @ENV{ keys %$env } = values %$env;
        $self->checker_env(test => 1);
        my @timeout = $args{timeout}
                      ? ('timeout', '-s', 'KILL',
                         $args{timeout} * $TIMEOUT_FACTOR)
                      : ();
        exec @timeout, $self->checker_cmd(test => 1), $NGINX, '-t', '-p', "$p/",
             '-c', "conf/nginx-t-$n.conf", '-e', "logs/nginx-t-$n.log",
             $self->globals(%args);
        die "exec: $!";
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    # killed by a signal (a crash at configuration time) is a failure too
    my $code = ($? & 127) ? 128 + ($? & 127) : $? >> 8;

    return ($code, $out . slurp("$p/logs/nginx-t-$n.log"));
}


# nginx's -g option for the "globals" argument (see new()), or nothing.
sub globals {
    my ($self, %args) = @_;
    my $g = $args{globals} // $self->{globals};
    return defined $g && length $g ? ('-g', $g) : ();
}


# "nginx -t" refuses the config: a non-zero exit, an [emerg] line naming
# the problem ($re), no token in the output.
sub nginx_t_refuses {
    my ($self, $config, $re, $name, %args) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    Test::More::subtest("nginx -t refuses: $name" => sub {
        my ($code, $out) = $self->nginx_t($config, %args);
        Test::More::isnt($code, 0, 'exit code');
        Test::More::like($out, qr/\[emerg\]/, 'an emerg message');
        Test::More::like($out, $re, 'the message names the problem');
        Test::More::unlike($out, qr/\Q$TOKEN\E|s3cret/,
                           'the token is not printed');
    });
}


# The pids of the running nginx's worker processes, in order.
sub workers {
    my ($self) = @_;
    return sort { $a <=> $b } grep { /^\d+$/ } map { s/\s+//gr }
           split /\n/, `ps -o pid= --ppid $self->{pid}`;
}


# Writes a file under the prefix; returns its absolute path.
sub write_file {
    my ($self, $rel, $content) = @_;
    my $path = "$self->{prefix}/$rel";
    spew($path, $content);
    return $path;
}


sub error_log  { slurp("$_[0]{prefix}/logs/error.log") }

# $t->log_mark, then $t->error_log_since($mark): what was logged meanwhile.
# $t->log_mark($name): the length of another log of the prefix, for
# wait_log.
sub log_mark { -s "$_[0]{prefix}/logs/" . ($_[1] // 'error.log') // 0 }

sub error_log_since {
    my ($self, $mark) = @_;
    # a worker logs after it sent the answer: give it a moment
    sleep 0.1 * $TIMEOUT_FACTOR;
    return substr($self->error_log, $mark);
}
sub access_log { slurp("$_[0]{prefix}/logs/access.log") }

# A log of the prefix once it matches, at most 5 s; its text either way.
# nginx writes the access log lines of a request (and counts it for
# turso_members_status) in the log phase, after the answer has gone: a
# test that reads a log right after an answer waits for the line.  With
# $mark (a log_mark($name)), only the text past it, e.g. the next line:
#   my $mark = $t->log_mark('access.log');
#   $t->request(...);
#   my ($line) = $t->wait_log('access.log', qr/\n/, $mark) =~ /(.*)\n/;
sub wait_log {
    my ($self, $name, $re, $mark) = @_;
    my $deadline = Time::HiRes::time() + 5 * $TIMEOUT_FACTOR;
    my $text;
    for (;;) {
        $text = substr(slurp("$self->{prefix}/logs/$name"), $mark // 0);
        last if $text =~ $re || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    return $text;
}


# --- HTTP/1.1 client -------------------------------------------------------

# One request on a fresh connection; returns the response (see
# TursoMembers::Test::Connection::read_response).
sub request {
    my ($self, %args) = @_;

    my $c = $self->connect;
    my $r = $c->request(%args);
    $c->close;

    return $r;
}


sub connect {
    my ($self, %args) = @_;
    return TursoMembers::Test::Connection->new($args{port} || $self->{port});
}


# HTTP/2 without TLS (prior knowledge) through curl.
# Returns { status, headers, body, json, version, exit, curl_error }.
# client => 'node' uses t/lib/h2-client.js instead: curl drops a complete
# answer when nginx then resets the stream of an unread body (early 413);
# returns { status, headers, body, json, version, error, reset }.
sub h2_request {
    my ($self, %args) = @_;

    my $p = $self->{prefix};
    my $n = ++$self->{h2n};

    if (($args{client} // 'curl') eq 'node') {
        my $file = '-';
        if (defined $args{body}) {
            $file = "$p/logs/h2-$n.request";
            spew($file, $args{body});
        }
        my @h = map { ref $_ ? "$_->[0]: $_->[1]" : $_ } @{ $args{headers} || [] };
        open(my $fh, '-|', 'node', "$REPO/t/lib/h2-client.js", $self->{h2port},
             $args{method} || 'GET', $args{path}, $file, @h)
            or die "node: $!";
        my $out = do { local $/; <$fh> };
        close $fh;
        my $r = eval { JSON::PP->new->decode($out) }
                || { error => "h2-client: $out" };
        $r->{version} = '2';
        $r->{body} = decode_base64(delete $r->{body_base64} // '');
        $r->{json} = decode_json_maybe($r->{body});
        return $r;
    }
    my @cmd = ('curl', '--http2-prior-knowledge', '-sS', '--max-time', $TIMEOUT,
               '-X', $args{method} || 'GET',
               '-D', "$p/logs/h2-$n.headers", '-o', "$p/logs/h2-$n.body",
               '-w', '%{http_version}');

    for my $h (@{ $args{headers} || [] }) {
        push @cmd, '-H', ref $h ? "$h->[0]: $h->[1]" : $h;
    }
    if (defined $args{body}) {
        spew("$p/logs/h2-$n.request", $args{body});
        push @cmd, '--data-binary', "\@$p/logs/h2-$n.request";
    }
    push @cmd, "http://127.0.0.1:$self->{h2port}$args{path}";

    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', "$p/logs/h2-$n.stderr" or die;
        exec @cmd;
        die "exec curl: $!";
    }
    my $version = do { local $/; <$fh> };
    close $fh;

    # exit: curl's exit code; curl_error: its message (e.g. a stream error)
    my $r = { exit => $? >> 8, version => $version, headers => {},
              curl_error => slurp("$p/logs/h2-$n.stderr"),
              body => slurp("$p/logs/h2-$n.body") };
    my $head = slurp("$p/logs/h2-$n.headers");
    $head =~ s/\A.*\r?\n\r?\n(?=HTTP\/)//s;     # interim responses
    for my $line (split /\r?\n/, $head) {
        if ($line =~ m{^HTTP/\S+\s+(\d+)}) {
            $r->{status} = $1;
        } elsif ($line =~ /^([^:]+):\s*(.*)$/) {
            $r->{headers}{ lc $1 } = $2;
        }
    }
    $r->{json} = decode_json_maybe($r->{body});

    return $r;
}


# --- end of a test file ----------------------------------------------------

sub run_checks {
    return if $checked++;

    $_->stop for @instances;

    for my $t (@instances) {
        my $log = $t->error_log;
        my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/
                         && !($t->{alerts} && /\[alert\]/ && /$t->{alerts}/) }
                  split /\n/, $log;
        Test::More::ok(!@bad, "error.log of nginx #$t->{n} has no alert, "
                              . "crit, emerg or crash")
            or Test::More::diag(join "\n", @bad);

        my @leaks = grep { index($_->[1], $TOKEN) >= 0 }
                    ['error.log', $log], ['access.log', $t->access_log];
        Test::More::ok(!@leaks, "the token is in no log of nginx #$t->{n}")
            or Test::More::diag("token found in " . join ', ',
                                map { $_->[0] } @leaks);

        if ($SANITIZE || $VALGRIND) {
            my @why = $t->checker_problems;
            Test::More::ok(!@why, "no " . ($VALGRIND ? 'valgrind' : 'sanitizer')
                                  . " report from nginx #$t->{n}")
                or Test::More::diag(join "\n", @why);
        }
    }

    stop_mock();
}


END {
    my $status = $?;

    if (!$checked && @instances) {
        my $tb = Test::More->builder;
        if (!$tb->has_plan) {
            run_checks();
        } else {
            $checked++;
            $_->stop for @instances;
            for my $t (@instances) {
                if (grep { /\[(alert|crit|emerg)\]|exited on signal/
                           && !($t->{alerts} && /\[alert\]/
                                && /$t->{alerts}/) }
                    split /\n/, $t->error_log)
                {
                    Test::More::diag("error.log of nginx #$t->{n} has "
                                     . "alert/crit/emerg or a crash");
                    $status ||= 1;
                }
                if (my @why = $t->checker_problems) {
                    Test::More::diag("nginx #$t->{n}: " . join "\n", @why);
                    $status ||= 1;
                }
            }
        }
    }

    stop_mock();

    my $tb = Test::More->builder;
    if (!$ENV{TEST_NGINX_KEEP} && $tb->is_passing && !$status) {
        remove_tree($SERVROOT);
        rmdir $SERVROOT_TMP if $SERVROOT_TMP;
    } elsif (@instances && $SERVROOT_TMP) {
        Test::More::diag("nginx prefixes kept in $SERVROOT");
    }

    $? = $status;
}


# --- helpers ---------------------------------------------------------------

# The directory of this test file's nginx prefixes (see the header), and
# the temporary directory made for it, if one was.
sub servroot {
    my $name = "servroot-$TEST-$$";

    if (my $dir = $ENV{TEST_NGINX_SERVROOT}) {
        make_path($dir);
        return (abs_path($dir) . "/$name", undef);
    }

    return ("$REPO/t/$name", undef) if $> != 0 || others_can_enter("$REPO/t");

    for my $tmp (File::Spec->tmpdir, '/tmp') {
        next unless others_can_enter($tmp);
        my $dir = File::Temp::tempdir('turso-members-XXXXXX', DIR => $tmp);
        chmod 0755, $dir;
        return ("$dir/$name", $dir);
    }
    croak "no directory nginx's workers can enter: set TEST_NGINX_SERVROOT";
}


# True when a process of another user (nginx's workers as nobody) can
# reach $path: every directory from / down to it has o+x.
sub others_can_enter {
    my ($path) = @_;

    my $dir = '';
    for my $part ('', grep { length } split m{/}, abs_path($path) // return 0) {
        $dir .= "$part/";
        my $mode = (stat $dir)[2] // return 0;
        return 0 unless $mode & 0001;
    }
    return 1;
}


sub slurp {
    my ($file) = @_;
    open(my $fh, '<:raw', $file) or return '';
    local $/;
    return scalar <$fh> // '';
}


sub spew {
    my ($file, $data) = @_;
    open(my $fh, '>:raw', $file) or die "$file: $!";
    print $fh $data;
    close $fh or die "$file: $!";
}


sub wait_pid {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
    return 0;
}


sub can_connect {
    my ($port) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
                                Timeout => 1);
    return $s ? 1 : 0;
}


sub decode_json_maybe {
    my ($text) = @_;
    return undef unless defined $text && $text =~ /\A\s*[\[{]/;
    my $v = eval { JSON::PP->new->decode($text) };
    return $v;
}


package TursoMembers::Test::Connection;

# One client connection: send requests (or raw bytes), read responses.

use strict;
use warnings;

use Carp qw(croak);
use IO::Select;
use IO::Socket::IP;
use Time::HiRes qw(sleep time);

sub new {
    my ($class, $port) = @_;

    my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
                                   Timeout => $TursoMembers::Test::TIMEOUT)
        or croak "connect to 127.0.0.1:$port: $!";
    $sock->autoflush(1);
    binmode $sock;

    return bless { sock => $sock, buf => '', eof => 0 }, $class;
}


sub close {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}


sub send_raw {
    my ($self, $bytes) = @_;

    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($self->{sock}, $bytes, length($bytes) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}


# Builds the bytes of a request head.
#   method, path, headers => [ [name, value] | "Name: value", ... ],
#   body, chunked => [pieces], expect_continue => 1, host => ...
#   No Content-Length is added when a header list already has one, for a
#   chunked body, or when there is no body.
sub head {
    my ($self, %a) = @_;

    my @h = map { ref $_ ? "$_->[0]: $_->[1]" : $_ } @{ $a{headers} || [] };
    my $has = sub { my $re = shift; scalar grep { /^$re\s*:/i } @h };

    unshift @h, 'Host: ' . ($a{host} // 'localhost') unless $has->('host');

    if ($a{chunked}) {
        push @h, 'Transfer-Encoding: chunked' unless $has->('transfer-encoding');
    } elsif (defined $a{body} && !$has->('content-length')) {
        push @h, 'Content-Length: ' . length $a{body};
    } elsif ($a{slow} && !$has->('content-length')) {
        push @h, 'Content-Length: ' . length join '', @{ $a{slow} };
    }
    push @h, 'Expect: 100-continue' if $a{expect_continue};

    return join("\r\n", ($a{method} || 'GET') . " $a{path} HTTP/1.1", @h)
           . "\r\n\r\n";
}


sub chunked_body {
    my ($pieces) = @_;
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                    grep { length } @$pieces) . "0\r\n\r\n";
}


# Sends a request; does not read the answer.  The body goes at once, or
#   chunked => [pieces]            as chunks,
#   slow => [pieces], delay => s   piece by piece with a pause between.
sub send_request {
    my ($self, %a) = @_;

    my $body = $a{slow}    ? undef
             : $a{chunked} ? chunked_body($a{chunked})
             : $a{body} // '';

    if ($a{expect_continue}) {
        $self->send_raw($self->head(%a));
        # nginx answers 100 Continue, or the final status straight away
        my $line = $self->peek_status(2);
        $self->{continue} = defined $line && $line == 100 ? 1 : 0;
        if (defined $line && $line >= 200) {
            return;
        }
    } elsif (!$a{slow}) {
        return $self->send_raw($self->head(%a) . $body);
    } else {
        $self->send_raw($self->head(%a));
    }

    if ($a{slow}) {
        for my $piece (@{ $a{slow} }) {
            sleep($a{delay} // 0.2);
            $self->send_raw($a{chunked} ? sprintf("%x\r\n%s\r\n",
                                                   length $piece, $piece)
                                        : $piece) or return;
        }
        $self->send_raw("0\r\n\r\n") if $a{chunked};
        return;
    }

    $self->send_raw($body);
}


# send_request + read_response
sub request {
    my ($self, %a) = @_;

    delete $self->{continue};
    $self->send_request(%a);
    my $r = $self->read_response(method => $a{method});
    $r->{continue} = $self->{continue} if exists $self->{continue};

    return $r;
}


# Waits up to $secs for a status line, without consuming it; returns the
# status code or undef.
sub peek_status {
    my ($self, $secs) = @_;

    my $deadline = time + $secs * $TursoMembers::Test::TIMEOUT_FACTOR;
    my $re = qr{\A HTTP/\d\.\d \s+ (\d{3}) [^\n]*\n}x;
    return undef unless $self->read_until($re, $deadline);
    my ($code) = $self->{buf} =~ $re;
    return $code;
}


sub fill {
    my ($self, $secs) = @_;

    return 0 if $self->{eof} || !$self->{sock};
    return 0 unless IO::Select->new($self->{sock})->can_read($secs);

    my $n = sysread($self->{sock}, my $chunk, 65536);
    if (!$n) {
        $self->{eof} = 1;
        return 0;
    }
    $self->{buf} .= $chunk;
    return 1;
}


sub read_until {
    my ($self, $re, $deadline) = @_;

    while ($self->{buf} !~ $re) {
        my $left = $deadline - time;
        return 0 if $left <= 0 || !$self->fill($left);
    }
    return 1;
}


sub take {
    my ($self, $n, $deadline) = @_;

    while (length $self->{buf} < $n) {
        my $left = $deadline - time;
        return undef if $left <= 0 || !$self->fill($left);
    }
    return substr($self->{buf}, 0, $n, '');
}


# Reads one response (skipping 1xx ones, counted in {interim}).  Returns
# { status, reason, headers => {lc name => value (joined with ", ")},
#   header_list => [[name, value]...], body, json, interim, error }.
# On a timeout or a closed connection, status is 0 and error is set.
sub read_response {
    my ($self, %a) = @_;

    my $deadline = time + (defined $a{timeout}
                           ? $a{timeout} * $TursoMembers::Test::TIMEOUT_FACTOR
                           : $TursoMembers::Test::TIMEOUT);
    my $r = { status => 0, headers => {}, header_list => [], interim => 0 };

    for (;;) {
        unless ($self->read_until(qr/\r?\n\r?\n/, $deadline)) {
            $r->{error} = $self->{eof} ? 'connection closed' : 'timeout';
            $r->{partial} = $self->{buf};
            return $r;
        }
        $self->{buf} =~ s/\A(.*?)\r?\n\r?\n//s;
        my ($status_line, @lines) = split /\r?\n/, $1;

        unless ($status_line =~ m{^HTTP/(\d\.\d) (\d{3})(?: (.*))?$}) {
            $r->{error} = "bad status line: $status_line";
            return $r;
        }
        @$r{qw(version status reason)} = ($1, $2, $3 // '');

        if ($r->{status} >= 100 && $r->{status} < 200) {
            $r->{interim}++;
            next;
        }

        for my $l (@lines) {
            my ($k, $v) = $l =~ /^([^:]+):\s*(.*?)\s*$/ or next;
            push @{ $r->{header_list} }, [$k, $v];
            $r->{headers}{ lc $k } = exists $r->{headers}{ lc $k }
                                     ? "$r->{headers}{lc $k}, $v" : $v;
        }
        last;
    }

    my $h = $r->{headers};
    my $body = '';

    if (($a{method} // '') eq 'HEAD' || $r->{status} == 204
        || $r->{status} == 304)
    {
        # no body
    } elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        for (;;) {
            unless ($self->read_until(qr/\A[0-9a-fA-F]+[^\n]*\n/, $deadline)) {
                $r->{error} = 'truncated chunked body';
                last;
            }
            $self->{buf} =~ s/\A([0-9a-fA-F]+)[^\n]*\n//;
            my $size = hex $1;
            if ($size == 0) {
                $self->read_until(qr/\r?\n\r?\n|\A\r?\n/, $deadline);
                $self->{buf} =~ s/\A(?:.*?\r?\n)?\r?\n//s;
                last;
            }
            my $data = $self->take($size + 2, $deadline);
            unless (defined $data) {
                $r->{error} = 'truncated chunked body';
                last;
            }
            $body .= substr($data, 0, $size);
        }
    } elsif (defined $h->{'content-length'}) {
        my $data = $self->take($h->{'content-length'}, $deadline);
        if (defined $data) {
            $body = $data;
        } else {
            $r->{error} = 'truncated body';
            $body = $self->{buf};
            $self->{buf} = '';
        }
    } else {
        # delimited by the connection's close
        1 while time < $deadline && $self->fill($deadline - time);
        $body = $self->{buf};
        $self->{buf} = '';
    }

    $r->{body} = $body;
    $r->{json} = TursoMembers::Test::decode_json_maybe($body)
        if ($h->{'content-type'} // '') =~ /json/i;

    return $r;
}


# True once the server has closed the connection (waits up to $secs).
sub closed {
    my ($self, $secs) = @_;

    my $deadline = time + ($secs // 1) * $TursoMembers::Test::TIMEOUT_FACTOR;
    while (!$self->{eof} && time < $deadline) {
        $self->fill($deadline - time) or last;
    }
    return $self->{eof};
}


1;
