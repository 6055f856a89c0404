# The harness and the mock themselves, without the module: plain proxy_pass
# to the mock.  If this file fails, the other failures mean nothing.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

use IO::Socket::IP;

my $t = TursoMembers::Test->new(no_module => 1, config => <<'CONF');
        location / {
            proxy_pass http://turso_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer test-token";
            proxy_read_timeout 1s;
        }
CONF

my $add = '/v1/organizations/acme/members';

subtest 'the mock adds a member and records the request as received' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => "$add?x=1",
                        headers => ['Content-Type: text/plain;charset=UTF-8'],
                        body => '{"username":"bob"}');
    is $r->{status}, 200;
    is_deeply $r->{json}, { member => 'bob', role => 'member' };

    my $u = $t->upstream_requests;
    is scalar @$u, 1;
    is $u->[0]{method}, 'POST';
    is $u->[0]{url}, "$add?x=1";
    is $u->[0]{body}, '{"username":"bob"}';
    is $u->[0]{body_length}, 18;
    is $u->[0]{headers}{'content-type'}, 'text/plain;charset=UTF-8';
};

subtest 'the mock answers like Turso' => sub {
    $t->mock_reset;
    my @cases = (
        [POST => $add, '{"username":"bob"}', 200, { member => 'bob', role => 'member' }],
        [POST => $add, '{"username":"bob"}', 409,
         { error => 'user [username] is already a member of organization [organizationSlug]' }],
        [POST => $add, '{"username":"zed"}', 404, { error => 'could not find user [username]' }],
        [POST => $add, '{"username":"dave","role":"owner"}', 400, { error => 'invalid role' }],
        [POST => '/v1/organizations/personal/members', '{"username":"dave"}', 400,
         { error => 'members can only be added to team organizations' }],
        [POST => '/v1/organizations/nope/members', '{"username":"dave"}', 404,
         { error => 'could not find organization nope' }],
        [PATCH => "$add/alice", '{"role":"viewer"}', 403, { error => "cannot change the owner's role" }],
        [DELETE => "$add/erin", undef, 404,
         { error => 'user [username] is not a member of org [organizationSlug]' }],
        [GET => '/v1/organizations/acme/databases', undef, 404, { error => 'not found' }],
        [DELETE => '/v2/organizations/acme/invites/x@example.com', undef, 404,
         { error => 'invite not found' }],
        [POST => '/v2/organizations/acme/invites', '{"email":"x@example.com"}', 200,
         { invited => { email => 'x@example.com', role => 'member', organization => 'acme' } }],
        [DELETE => '/v2/organizations/acme/invites/x@example.com', undef, 200, {}],
    );
    for my $c (@cases) {
        my ($m, $p, $b, $status, $json) = @$c;
        my $r = $t->request(method => $m, path => $p, body => $b);
        is $r->{status}, $status, "$m $p -> $status";
        is_deeply $r->{json}, $json, "$m $p body";
    }
};

subtest 'the mock decodes like Go: keys case-insensitive, last one wins' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => $add,
                        body => '{"username":"dave","role":"member","Role":"admin"}');
    is_deeply $r->{json}, { member => 'dave', role => 'admin' };
    $r = $t->request(method => 'POST', path => $add,
                     body => '{"USERNAME":"erin","role":"viewer","role":"admin"}');
    is_deeply $r->{json}, { member => 'erin', role => 'admin' };
    $r = $t->request(method => 'POST', path => $add,
                     body => qq({"u\xc5\xbfername":"frank"}));
    is_deeply $r->{json}, { member => 'frank', role => 'member' },
              'long s folds to s';
};

subtest 'the client: chunked, slow, Expect: 100-continue, keep-alive, pipelining' => sub {
    $t->mock_reset;
    my $r = $t->request(method => 'POST', path => $add,
                        chunked => ['{"user', 'name":"bob"}']);
    is $r->{status}, 200, 'chunked';
    is $t->upstream_requests->[0]{body}, '{"username":"bob"}';

    $r = $t->request(method => 'POST', path => $add,
                     slow => ['{"user', 'name":"dave"}'], delay => 0.2);
    is $r->{status}, 200, 'slow';

    $r = $t->request(method => 'POST', path => $add, chunked => 1,
                     slow => ['{"user', 'name":"erin"}'], delay => 0.2);
    is $r->{status}, 200, 'slow chunked';

    $r = $t->request(method => 'POST', path => $add, expect_continue => 1,
                     body => '{"username":"frank"}');
    is $r->{status}, 200, 'expect';
    is $r->{continue}, 1, '100 Continue received';

    my $c = $t->connect;
    is $c->request(path => $add)->{status}, 200, 'keep-alive 1';
    is $c->request(path => "$add/bob")->{status}, 200, 'keep-alive 2';
    $c->send_raw("GET $add/bob HTTP/1.1\r\nHost: x\r\n\r\n"
                 . "GET $add/zed HTTP/1.1\r\nHost: x\r\n\r\n");
    is $c->read_response->{status}, 200, 'pipelined 1';
    is $c->read_response->{status}, 404, 'pipelined 2';
    $c->close;
};

subtest 'scripted faults' => sub {
    $t->mock_reset;
    $t->mock_script([
        { status => 409, body => '<html>x</html>', fault => 'chunked',
          headers => { 'content-type' => 'text/html' } },
        { fault => 'hang' },
        { status => 500, body => '{}', size => 100_000 },
        { fault => 'reset' },
        { status => 200, body => 'abc', fault => 'close_after_headers' },
        { delay_ms => 300 },
    ]);
    my $r = $t->request(path => '/v1/x');
    is $r->{status}, 409;
    is $r->{body}, '<html>x</html>';
    is $t->request(path => '/v1/x')->{status}, 504, 'hang -> nginx times out';
    is length $t->request(path => '/v1/x')->{body}, 100_000, 'size';
    # POST: nginx retries an idempotent request on a fresh connection
    is $t->request(method => 'POST', path => '/v1/x', body => '{}')->{status},
       502, 'reset';
    $r = $t->request(method => 'POST', path => '/v1/x', body => '{}');
    ok $r->{error} || $r->{status} == 502, 'close_after_headers: truncated';
    is $t->request(path => $add)->{status}, 200, 'delay, then normal';
    is scalar @{ $t->upstream_requests }, 6, 'all recorded';
};

subtest 'HTTP/2 through curl' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(method => 'POST', path => $add,
                           body => '{"username":"bob","role":"admin"}');
    is $r->{version}, '2';
    is $r->{status}, 200;
    is_deeply $r->{json}, { member => 'bob', role => 'admin' };
};

subtest 'HTTP/2 through the node client' => sub {
    $t->mock_reset;
    my $r = $t->h2_request(client => 'node', method => 'POST', path => $add,
                           headers => ['Content-Type: text/plain'],
                           body => '{"username":"bob"}');
    is $r->{status}, 200;
    is_deeply $r->{json}, { member => 'bob', role => 'member' };
    is $t->upstream_requests->[0]{headers}{'content-type'}, 'text/plain';
};

subtest 'nginx -t' => sub {
    my ($code, $out) = $t->nginx_t('location / { bogus_directive; }');
    isnt $code, 0;
    like $out, qr/unknown directive "bogus_directive"/;
    ($code, $out) = $t->nginx_t('location / { return 200; }');
    is $code, 0;
};

subtest 'a port taken by another process: start fails fast and says why' => sub {
    my $u = TursoMembers::Test->new(start => 0);
    my $squat = IO::Socket::IP->new(LocalHost => '127.0.0.1',
                                    LocalPort => $u->h2port, Listen => 1)
        or die "listen: $!";
    my $t0 = time;
    ok !eval { $u->start; 1 }, 'start fails';
    like $@, qr/could not listen:.*Address already in use/s, 'says why';
    cmp_ok time - $t0, '<', 10 * $TursoMembers::Test::TIMEOUT_FACTOR,
           'well before the start-up timeout';
    close $squat;
    # the emerg is expected here, not in the end-of-test log checks
    rename $u->prefix . '/logs/error.log', $u->prefix . '/logs/bind.log';
};

done_testing;
