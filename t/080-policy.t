# Per-portal policy: turso_members_organizations, turso_members_operations
# and turso_members_allowed_roles, static and through variables (a map
# over a header, $remote_user, a client certificate or auth_request_set),
# their inheritance, and their place after nginx's own access modules
# (the gateway runs in the pre-content phase).  A refused request never
# reaches the upstream.

use strict;
use warnings;

use lib 't/lib';
use MIME::Base64 qw(encode_base64);
use TursoMembers::Test;

my $V1 = '/v1/organizations';
my $V2 = '/v2/organizations';

# One request per operation, each one the mock answers 200 to in its fresh
# state (carol is an admin of acme, bob no member).
my @ops = (
    [ list_members  => GET    => "$V1/acme/members" ],
    [ get_member    => GET    => "$V1/acme/members/carol" ],
    [ add_member    => POST   => "$V1/acme/members", '{"username":"bob"}' ],
    [ update_role   => PATCH  => "$V1/acme/members/carol", '{"role":"viewer"}' ],
    [ remove_member => DELETE => "$V1/acme/members/carol" ],
    [ list_invites  => GET    => "$V2/acme/invites" ],
    [ invite        => POST   => "$V2/acme/invites", '{"email":"e@example.com"}' ],
    [ delete_invite => DELETE => "$V2/acme/invites/e\@example.com" ],
);
my %op = map { $_->[0] => $_ } @ops;

sub send_op {
    my ($t, $op, @headers) = @_;
    my (undef, $method, $path, $body) = @{ $op{$op} };
    # no invite exists in the mock's fresh state: it answers this one 200
    $t->mock_script([{ status => 200, body => '{}' }]) if $op eq 'delete_invite';
    return $t->request(method => $method, path => $path,
                       headers => [@headers],
                       defined $body ? (body => $body) : ());
}

# The request passed: 200 and exactly one upstream request, with the token.
sub passed {
    my ($t, $r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $r->{status}, 200, "$name: 200" or diag $r->{body};
    my $u = $t->upstream_requests;
    is scalar @$u, 1, "$name: forwarded once";
    is $u->[0]{headers}{authorization}, 'Bearer test-token',
       "$name: with the gateway token" if @$u;
}


# --- static lists and their inheritance -------------------------------------

# organizations at http level, operations at server level, roles in the
# v1 location; the v2 location replaces the operations
my $static = TursoMembers::Test->new(
    http_config => 'turso_members_organizations acme;',
    config => <<'CONF');
        turso_members_operations list_members get_member add_member;

        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_allowed_roles member viewer;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
        location /v2/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_operations invite;
            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
CONF

subtest 'static: a listed organization passes, another is 403' => sub {
    $static->mock_reset;
    passed $static, $static->request(method => 'GET',
                                     path => "$V1/acme/members"), 'acme';

    $static->mock_reset;
    my $r = $static->request(method => 'GET', path => "$V1/personal/members");
    $static->refused($r, 403, 'organization_not_allowed', 'personal',
                     organization => 'personal');
    like $r->{json}{error} // '', qr/\bpersonal\b/, 'the message names it';

    $static->mock_reset;
    $r = $static->request(method => 'POST', path => "$V2/personal/invites",
                          body => '{"email":"e@example.com"}');
    $static->refused($r, 403, 'organization_not_allowed',
                     'the http-level list reaches the v2 location too');
};

subtest 'static: operations inherited from the server level' => sub {
    for my $o (grep { $_->[2] =~ m{^/v1/} } @ops) {
        $static->mock_reset;
        my $r = send_op($static, $o->[0]);
        if ($o->[0] =~ /^(list_members|get_member|add_member)$/) {
            passed $static, $r, $o->[0];
        } else {
            $static->refused($r, 403, 'operation_not_allowed', $o->[0]);
        }
    }
};

subtest 'static: the location list replaces the server list' => sub {
    for my $o (grep { $_->[2] =~ m{^/v2/} } @ops) {
        $static->mock_reset;
        my $r = send_op($static, $o->[0]);
        if ($o->[0] eq 'invite') {
            passed $static, $r, $o->[0];
        } else {
            $static->refused($r, 403, 'operation_not_allowed', $o->[0]);
        }
    }
};

subtest 'static: roles' => sub {
    $static->mock_reset;
    my $r = $static->request(method => 'POST', path => "$V1/acme/members",
                             body => '{"username":"bob","role":"Admin"}');
    $static->refused($r, 403, 'role_not_allowed', 'admin',
                     organization => 'acme', username => 'bob');
    like $r->{json}{error} // '', qr/\badmin\b/, 'the message names the role';

    $static->mock_reset;
    $r = $static->request(method => 'POST', path => "$V1/acme/members/bob",
                          body => '{"member":"bob","role":"viewer"}');
    passed $static, $r, 'viewer';
    is $static->upstream_requests->[0]{body},
       '{"username":"bob","role":"viewer"}', 'forwarded as viewer';
};

subtest 'checks run in order: organization, operation, body, role' => sub {
    $static->mock_reset;
    my $r = $static->request(method => 'PATCH', path => "$V1/personal/members/x",
                             body => 'not json');
    $static->refused($r, 403, 'organization_not_allowed', 'organization first');

    $r = $static->request(method => 'PATCH', path => "$V1/acme/members/x",
                          body => 'not json');
    $static->refused($r, 403, 'operation_not_allowed', 'then operation');

    $r = $static->request(method => 'POST', path => "$V1/acme/members",
                          body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role', 'an invalid role is 400, not 403';
    $static->nothing_upstream;
};


# --- variables: a map per portal ---------------------------------------------

my $mapped = TursoMembers::Test->new(
    http_config => <<'HTTP', config => default_locations(<<'LOC'));
    map $http_x_portal $portal_orgs {
        hr       acme;
        ops      "acme, personal";
        default  "";
    }
    map $http_x_portal $portal_ops {
        hr       "read add_member,invite";
        ops      all;
        audit    read;
        default  "";
    }
    map $http_x_portal $portal_roles {
        hr       "member viewer";
        ops      "admin,member viewer";
        audit    "";
        default  "";
    }
HTTP
turso_members_organizations $portal_orgs;
            turso_members_operations $portal_ops;
            turso_members_allowed_roles $portal_roles;
LOC

subtest 'map: each portal its organizations' => sub {
    for my $c ([hr => acme => 1], [hr => personal => 0],
               [ops => acme => 1], [ops => personal => 1],
               [audit => acme => 0], [nobody => acme => 0])
    {
        my ($portal, $org, $ok) = @$c;
        $mapped->mock_reset;
        my $r = $mapped->request(method => 'GET', path => "$V1/$org/members",
                                 headers => ["X-Portal: $portal"]);
        if ($ok) {
            passed $mapped, $r, "$portal on $org";
        } else {
            $mapped->refused($r, 403, 'organization_not_allowed', "$portal on $org",
                             organization => $org);
        }
    }

    $mapped->mock_reset;
    my $r = $mapped->request(method => 'GET', path => "$V1/acme/members");
    $mapped->refused($r, 403, 'organization_not_allowed',
                     'no header: the map gives "", nothing is allowed');
};

subtest 'map: each portal its operations (groups read and all)' => sub {
    my %allowed = (
        hr  => { map { $_ => 1 } qw(list_members get_member list_invites
                                    add_member invite) },
        ops => { map { $_->[0] => 1 } @ops },
    );
    for my $portal (qw(hr ops)) {
        for my $o (@ops) {
            $mapped->mock_reset;
            my $r = send_op($mapped, $o->[0], "X-Portal: $portal",
                            'Content-Type: application/json');
            if ($allowed{$portal}{ $o->[0] }) {
                passed $mapped, $r, "$portal: $o->[0]";
            } else {
                $mapped->refused($r, 403, 'operation_not_allowed',
                                 "$portal: $o->[0]");
            }
        }
    }
};

subtest 'map: each portal its roles; an empty list allows none' => sub {
    for my $c ([hr => admin => 0], [hr => member => 1], [hr => viewer => 1],
               [ops => admin => 1], [ops => member => 1], [ops => viewer => 1])
    {
        my ($portal, $role, $ok) = @$c;
        $mapped->mock_reset;
        my $r = $mapped->request(method => 'POST', path => "$V1/acme/members",
                                 headers => ["X-Portal: $portal"],
                                 body => qq({"username":"bob","role":"$role"}));
        if ($ok) {
            passed $mapped, $r, "$portal grants $role";
        } else {
            $mapped->refused($r, 403, 'role_not_allowed', "$portal grants $role");
        }
    }

    $mapped->mock_reset;
    my $r = $mapped->request(method => 'PATCH', path => "$V1/acme/members/carol",
                             headers => ['X-Portal: hr'],
                             body => '{"role":"admin"}');
    $mapped->refused($r, 403, 'operation_not_allowed', 'hr may not update roles');
};

my $defrole = TursoMembers::Test->new(
    http_config => <<'HTTP', config => default_locations(<<'LOC'));
    map $http_x_portal $roles {
        admins  admin;
        default "member viewer";
    }
HTTP
turso_members_default_role member;
            turso_members_allowed_roles $roles;
LOC

subtest 'the default role is checked against the list too' => sub {
    for my $body ('{"username":"bob"}', '{"username":"bob","role":null}') {
        $defrole->mock_reset;
        my $r = $defrole->request(method => 'POST', path => "$V1/acme/members",
                                  headers => ['X-Portal: admins'],
                                  body => $body);
        $defrole->refused($r, 403, 'role_not_allowed', "admins: $body");

        $r = $defrole->request(method => 'POST', path => "$V2/acme/invites",
                               headers => ['X-Portal: admins'],
                               body => '{"email":"e@example.com"}');
        $defrole->refused($r, 403, 'role_not_allowed', 'admins: invite');
    }
    $defrole->mock_reset;
    my $r = $defrole->request(method => 'POST', path => "$V1/acme/members",
                              body => '{"username":"bob"}');
    passed $defrole, $r, 'others: member by default';
    is $defrole->upstream_requests->[0]{body},
       '{"username":"bob","role":"member"}';
};


# --- a header taken as the list itself ---------------------------------------

my $direct = TursoMembers::Test->new(config => default_locations(<<'LOC'));
turso_members_operations $http_x_ops;
            turso_members_organizations personal $http_x_orgs;
LOC

subtest 'every operation by name, from a header' => sub {
    for my $o (@ops) {
        $direct->mock_reset;
        passed $direct, send_op($direct, $o->[0], "X-Ops: $o->[0]",
                                'X-Orgs: acme'), "$o->[0] allowed";
        for my $other (grep { $_->[0] ne $o->[0] } @ops) {
            $direct->mock_reset;
            $direct->refused(send_op($direct, $o->[0], "X-Ops: $other->[0]",
                                              'X-Orgs: acme'), 403, 'operation_not_allowed', "$o->[0] with only $other->[0]");
        }
    }
};

subtest 'lists split on spaces and commas; unknown words allow nothing' => sub {
    for my $c (['get_member,  list_members', 1], [' ,get_member', 1],
               ['read', 1], ['all', 1], ['ALL', 0], ['get_members', 0],
               ['list_members add_member', 0], ['', 0], [',', 0])
    {
        my ($ops, $ok) = @$c;
        $direct->mock_reset;
        my $r = send_op($direct, 'get_member', "X-Ops: $ops", 'X-Orgs: acme');
        if ($ok) {
            passed $direct, $r, "X-Ops '$ops'";
        } else {
            $direct->refused($r, 403, 'operation_not_allowed', "X-Ops '$ops'");
        }
    }
};

subtest 'a static word and a variable together: the union' => sub {
    $direct->mock_reset;
    my $r = send_op($direct, 'list_members', 'X-Ops: all');
    $direct->refused($r, 403, 'organization_not_allowed', 'acme without X-Orgs');

    $direct->mock_reset;
    $r = $direct->request(method => 'GET', path => "$V1/personal/members",
                          headers => ['X-Ops: all']);
    passed $direct, $r, 'personal is always allowed';

    $direct->mock_reset;
    $r = send_op($direct, 'list_members', 'X-Ops: all',
                 'X-Orgs: other,acme');
    passed $direct, $r, 'acme from the header';

    $direct->mock_reset;
    $r = send_op($direct, 'list_members', 'X-Ops: all', 'X-Orgs: acm');
    $direct->refused($r, 403, 'organization_not_allowed', 'no prefix match');
    $r = send_op($direct, 'list_members', 'X-Ops: all', 'X-Orgs: ACME');
    $direct->refused($r, 403, 'organization_not_allowed', 'no case folding');
};


# --- $remote_user with auth_basic, and auth_request ---------------------------

my $basic = TursoMembers::Test->new(start => 0, http_config => <<'HTTP',
    map $remote_user $user_orgs {
        hr      acme;
        default "";
    }
HTTP
    config => <<'CONF');
        location /v1/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_organizations $user_orgs;

            auth_basic "portals";
            auth_basic_user_file %%PREFIX%%/conf/htpasswd;

            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
        location /v2/organizations/ {
            turso_members on;
            turso_members_token_file %%TOKEN_FILE%%;
            turso_members_operations $http_x_ops;

            auth_request /authz;

            proxy_pass http://turso_api$turso_members_upstream_uri;
        }
        location = /authz {
            internal;
            proxy_pass http://turso_api/authz;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
CONF
$basic->write_file('conf/htpasswd', "hr:{PLAIN}hr-secret\nfin:{PLAIN}fin-secret\n");
$basic->start;

sub basic { 'Authorization: Basic ' . encode_base64(shift, '') }

subtest 'auth_basic: the user passes, the upstream sees only the token' => sub {
    $basic->mock_reset;
    my $r = $basic->request(method => 'GET', path => "$V1/acme/members",
                            headers => [basic('hr:hr-secret')]);
    passed $basic, $r, 'hr on acme';
};

subtest 'auth_basic: a wrong password is 401, a user not mapped 403' => sub {
    $basic->mock_reset;
    my $r = $basic->request(method => 'GET', path => "$V1/acme/members",
                            headers => [basic('hr:wrong')]);
    error_is $r, 401, 'unauthorized', 'wrong password';
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic/,
         'WWW-Authenticate kept';
    $basic->nothing_upstream;

    $r = $basic->request(method => 'GET', path => "$V1/acme/members",
                         headers => [basic('fin:fin-secret')]);
    $basic->refused($r, 403, 'organization_not_allowed', 'fin has no organization');

    # nginx's own authentication runs first: a client without credentials
    # learns nothing about the gateway's policy
    $r = $basic->request(method => 'GET', path => "$V1/acme/members");
    error_is $r, 401, 'unauthorized', 'no credentials: 401 before any policy';
    $basic->nothing_upstream;
};

subtest 'auth_request: the auth service sees the portal, never the token' => sub {
    $basic->mock_reset;
    $basic->mock_script([{ status => 200, body => '' }]);
    my $r = $basic->request(method => 'GET', path => "$V2/acme/invites",
                            headers => ['X-Ops: read',
                                        'Authorization: Bearer portal-key']);
    is $r->{status}, 200, 'allowed' or diag $r->{body};
    my $u = $basic->upstream_requests;
    is scalar @$u, 2, 'the auth subrequest, then the upstream request';
    is $u->[0]{url}, '/authz', 'the auth subrequest';
    is $u->[0]{headers}{authorization}, 'Bearer portal-key',
       'the auth service sees the portal\'s own credentials';
    is $u->[1]{url}, "$V2/acme/invites";
    is $u->[1]{headers}{authorization}, 'Bearer test-token',
       'the upstream gets the gateway token';
};

subtest 'auth_request: a refusal is 403, nothing upstream' => sub {
    $basic->mock_reset;
    $basic->mock_script([{ status => 403, body => '' }]);
    my $r = $basic->request(method => 'GET', path => "$V2/acme/invites",
                            headers => ['X-Ops: read']);
    error_is $r, 403, 'forbidden';
    my $u = $basic->upstream_requests;
    is_deeply [map { $_->{url} } @$u], ['/authz'], 'only the auth subrequest';
};

subtest 'auth_request: the auth subrequest first, then the policy refuses' => sub {
    $basic->mock_reset;
    $basic->mock_script([{ status => 200, body => '' }]);
    my $r = $basic->request(method => 'DELETE',
                            path => "$V2/acme/invites/e\@example.com",
                            headers => ['X-Ops: read']);
    error_is $r, 403, 'operation_not_allowed', 'delete_invite with read';
    my $u = $basic->upstream_requests;
    is_deeply [map { $_->{url} } @$u], ['/authz'], 'only the auth subrequest';
};


my $authset = TursoMembers::Test->new(http_config => <<'HTTP',
    map $auth_portal $auth_ops {
        hr       "read invite";
        ops      all;
        default  "";
    }
HTTP
    config => default_locations(<<'LOC') . <<'CONF');
auth_request /authz;
            auth_request_set $auth_portal $upstream_http_x_portal;
            turso_members_operations $auth_ops;
LOC
        location = /authz {
            internal;
            proxy_pass http://turso_api/authz;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
CONF

subtest 'auth_request_set: the auth service names the portal' => sub {
    for my $c ([hr => list_invites => 1], [hr => remove_member => 0],
               [ops => remove_member => 1], ['' => list_members => 0])
    {
        my ($portal, $op, $ok) = @$c;
        $authset->mock_reset;
        $authset->mock_script([{ status => 200, body => '',
                                 headers => { 'X-Portal' => $portal } }]);
        my $r = send_op($authset, $op, 'Authorization: Bearer portal-key');
        my $u = $authset->upstream_requests;
        is $u->[0]{url}, '/authz', "$portal $op: the auth subrequest first";
        is $u->[0]{headers}{authorization}, 'Bearer portal-key',
           'with the portal\'s credentials';
        if ($ok) {
            is $r->{status}, 200, "$portal $op: 200" or diag $r->{body};
            is scalar @$u, 2, 'then the upstream request';
            is $u->[1]{headers}{authorization}, 'Bearer test-token',
               'with the gateway token';
        } else {
            error_is $r, 403, 'operation_not_allowed', "$portal $op: 403";
            is scalar @$u, 1, 'nothing upstream';
        }
    }
};


# --- satisfy any does not bypass the gateway ---------------------------------

my $any = TursoMembers::Test->new(config => default_locations(<<'LOC'));
satisfy any;
            allow 127.0.0.1;
            deny all;
            turso_members_organizations acme;
            turso_members_allowed_roles viewer;
LOC

subtest 'satisfy any; allow 127.0.0.1: validation and policy still apply' => sub {
    $any->mock_reset;
    my $r = $any->request(method => 'POST', path => "$V1/acme/members",
                          body => '{"username":"bob","role":"owner"}');
    error_is $r, 400, 'invalid_role', 'owner';
    $r = $any->request(method => 'POST', path => "$V1/acme/members",
                       body => '{"username":');
    error_is $r, 400, 'invalid_json', 'broken JSON';
    $r = $any->request(method => 'POST', path => "$V1/acme/members",
                       body => '{"username":"bob","role":"admin"}');
    error_is $r, 403, 'role_not_allowed', 'admin';
    $r = $any->request(method => 'GET', path => "$V1/personal/members");
    error_is $r, 403, 'organization_not_allowed', 'personal';
    $r = $any->request(method => 'GET', path => "$V1/acme/databases");
    error_is $r, 404, 'route_not_supported', 'an unknown route';
    $any->nothing_upstream;

    $r = $any->request(method => 'POST', path => "$V1/acme/members",
                       body => '{"username":"bob","role":"viewer"}');
    passed $any, $r, 'a valid request';
    is $any->upstream_requests->[0]{body},
       '{"username":"bob","role":"viewer"}', 'canonical body';
};


# --- mutual TLS: $ssl_client_s_dn names the portal (docs/policy.md) --------

my $tls = TursoMembers::Test->new(start => 0, http_config => <<'HTTP',
    map $ssl_client_s_dn $portal {
        "~(^|,)CN=hr-portal(,|$)"   hr;
        "~(^|,)CN=ops-portal(,|$)"  ops;
        default                     "";
    }
    map $portal $portal_orgs  { hr acme; ops "acme personal"; default ""; }
    map $portal $portal_ops   { hr "read add_member invite"; ops all; default ""; }
    map $portal $portal_roles { hr "member viewer"; ops "admin member viewer"; default ""; }
HTTP
    config => <<'CONF');
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        listen 127.0.0.1:%%H2PORT%%;        # the harness waits for it
        server_name localhost;

        ssl_certificate        %%PREFIX%%/conf/server.crt;
        ssl_certificate_key    %%PREFIX%%/conf/server.key;
        ssl_client_certificate %%PREFIX%%/conf/ca.crt;
        ssl_verify_client      on;

        turso_members_organizations $portal_orgs;
        turso_members_operations    $portal_ops;
        turso_members_allowed_roles $portal_roles;

%%LOCATIONS%%
    }
CONF

# a CA for the portals, a server certificate, hr and ops signed by the
# CA, and an impostor "ops-portal" that signed itself
my $pki = $tls->prefix . '/conf';
sub openssl {
    my $out = `openssl @_ 2>&1`;
    die "openssl @_: $out" if $?;
}
my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
openssl "req -x509 $ec -keyout $pki/ca.key -out $pki/ca.crt -days 2 -subj /CN=portals-ca";
openssl "req -x509 $ec -keyout $pki/server.key -out $pki/server.crt -days 2 -subj /CN=localhost";
for my $who (qw(hr ops)) {
    openssl "req $ec -keyout $pki/$who.key -out $pki/$who.csr"
            . " -subj /O=Example/CN=$who-portal";
    openssl "x509 -req -in $pki/$who.csr -CA $pki/ca.crt -CAkey $pki/ca.key"
            . " -CAcreateserial -out $pki/$who.crt -days 2";
}
openssl "req -x509 $ec -keyout $pki/rogue.key -out $pki/rogue.crt -days 2"
        . " -subj /O=Example/CN=ops-portal";
chmod 0644, glob "$pki/*.crt $pki/*.key";
$tls->start;

# One HTTPS request through curl with the client certificate of $who.
sub tls_request {
    my ($who, $method, $path, $body) = @_;
    my $n = ++$tls->{tlsn};
    my $d = $tls->prefix . "/logs/tls-$n";
    my @cmd = ('curl', '-sk', '--max-time', 5, '-X', $method,
               '-o', "$d.body", '-w', '%{http_code}');
    push @cmd, '--cert', "$pki/$who.crt", '--key', "$pki/$who.key" if $who;
    push @cmd, '--data-binary', $body if defined $body;
    push @cmd, 'https://127.0.0.1:' . $tls->port . $path;
    open my $fh, '-|', @cmd or die "curl: $!";
    my $status = do { local $/; <$fh> } // '';
    close $fh;
    my $r = { status => $status + 0, body => TursoMembers::Test::slurp("$d.body") };
    $r->{json} = eval { JSON::PP->new->decode($r->{body}) };
    return $r;
}

sub tls_code {
    my ($r) = @_;
    return "$r->{status} " . (ref $r->{json} eq 'HASH' ? $r->{json}{code} // '' : '');
}

subtest 'mutual TLS: each certificate its policy' => sub {
    my @cases = (
        [hr  => GET   => "$V1/acme/members", undef, '200 '],
        [hr  => POST  => "$V1/acme/members", '{"username":"bob"}', '200 '],
        [hr  => POST  => "$V1/acme/members", '{"username":"dave","role":"admin"}',
                                             '403 role_not_allowed'],
        [hr  => PATCH => "$V1/acme/members/carol", '{"role":"viewer"}',
                                             '403 operation_not_allowed'],
        [hr  => GET   => "$V1/personal/members", undef,
                                             '403 organization_not_allowed'],
        [ops => PATCH => "$V1/acme/members/carol", '{"role":"viewer"}', '200 '],
        [ops => POST  => "$V1/acme/members", '{"username":"dave","role":"admin"}',
                                             '200 '],
        [ops => GET   => "$V1/personal/members", undef, '200 '],
    );
    for my $c (@cases) {
        my ($who, $method, $path, $body, $want) = @$c;
        $tls->mock_reset;
        my $r = tls_request($who, $method, $path, $body);
        is tls_code($r), $want, "$who: $method $path" or diag $r->{body};
        is scalar @{ $tls->upstream_requests }, $want =~ /^200/ ? 1 : 0,
           $want =~ /^200/ ? 'forwarded' : 'nothing upstream';
    }
};

subtest 'mutual TLS: no certificate, or one the CA did not sign' => sub {
    for my $who ('', 'rogue') {
        $tls->mock_reset;
        my $r = tls_request($who, GET => "$V1/acme/members");
        is $r->{status}, 400, ($who || 'no certificate') . ': 400 from nginx';
        $tls->nothing_upstream;
    }
};


# --- configuration errors ------------------------------------------------------

subtest 'configuration: invalid values fail nginx -t' => sub {
    for my $c (['turso_members_operations delete_everything;', qr/invalid value/],
               ['turso_members_operations read; turso_members_operations all;',
                qr/duplicate/],
               ['turso_members_organizations "bad slug";', qr/invalid organization/],
               ['turso_members_organizations acme/x;', qr/invalid organization/],
               # Turso's slugs are lowercase and a path's "ACME" is
               # refused: this entry could never match
               ['turso_members_organizations acme ACME;',
                qr/invalid organization "ACME" .*lowercase/],
               ['turso_members_allowed_roles owner;', qr/invalid value|owner/],
               ['turso_members_allowed_roles Admin;', qr/invalid value/])
    {
        my ($code, $out) = $static->nginx_t(default_locations($c->[0]));
        isnt $code, 0, "refused: $c->[0]";
        like $out, $c->[1], 'with a reason';
    }
    my ($code, $out) = $static->nginx_t(default_locations(
        'turso_members_operations read $http_x_ops;'
        . ' turso_members_organizations acme my-org_2;'
        . ' turso_members_allowed_roles viewer $http_x_roles;'));
    is $code, 0, 'valid lists pass' or diag $out;
};

# Found by an attack: under "satisfy any", an allowed address skips
# auth_basic and $remote_user is what the client's Authorization claims,
# so a policy mapped from it was the client's choice.  nginx -t says so.
subtest 'satisfy any with a policy of variables: nginx -t warns' => sub {
    my $map = 'map $remote_user $portal_roles { ops "admin member viewer"; '
              . 'default viewer; }';
    my $auth = 'allow 127.0.0.1; deny all; auth_basic x; '
               . 'auth_basic_user_file %%PREFIX%%/conf/htpasswd;';
    for my $c (['satisfy any; ' . $auth
                . ' turso_members_allowed_roles $portal_roles;', 1],
               ['satisfy any; ' . $auth
                . ' turso_members_organizations $http_x_orgs;', 1],
               ['satisfy all; ' . $auth
                . ' turso_members_allowed_roles $portal_roles;', 0],
               ['satisfy any; ' . $auth
                . ' turso_members_allowed_roles member viewer;', 0])
    {
        my ($code, $out) = $static->nginx_t(default_locations($c->[0]),
                                            http_config => $map);
        is $code, 0, "passes: $c->[0]" or diag $out;
        my $warned = $out =~ /\[warn\].*"satisfy any" in the "turso_members" location "\/v1\/organizations\/", whose policy uses variables.*\$remote_user is the user the client claims/;
        is !!$warned, !!$c->[1], ($c->[1] ? 'warns' : 'no warning')
            or diag $out;
    }
};

done_testing;
