package TursoMembers::Node;

# The official Node client, @tursodatabase/api (pinned in t/node), driven
# from a test: t/node/client.mjs runs a list of its calls in one node
# process and prints what each returned or threw.
#
#   use TursoMembers::Node;
#   node_client_installed();               # npm ci when node_modules is
#                                          # missing; a failed install fails
#   my $r = node_client($gw, 'acme', 'portal-token',
#                       ['members'], [addMember => 'bob', 'viewer']);
#   client_error($r->[1], 409, 'user bob is already a member', $name);

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use JSON::PP;
use Test::More ();

use Exporter ();
our @ISA = (q(Exporter));
our @EXPORT = qw(node_client_installed node_client client_error);

my $NODE_DIR = abs_path(dirname(__FILE__) . '/../../node');
my $PKG = "$NODE_DIR/node_modules/\@tursodatabase/api/package.json";


# Installs the pinned client when it is missing (a test); returns the
# installed version, or exits the test file when the install failed.
sub node_client_installed {
    unless (-f $PKG) {
        my $cmd = -f "$NODE_DIR/package-lock.json" ? 'ci' : 'install';
        my $out = `npm $cmd --prefix '$NODE_DIR' --no-audit --no-fund 2>&1`;
        unless (Test::More::ok($? == 0 && -f $PKG,
                               "npm $cmd of \@tursodatabase/api"))
        {
            Test::More::diag($out);
            main::done_testing();
            exit 1;
        }
    }

    return eval {
        open my $fh, '<', $PKG or die;
        decode_json(do { local $/; <$fh> })->{version};
    } // '';
}


# Runs the client's calls for one organization against a gateway, the
# portal's own token in the client; returns the list of results.
sub node_client {
    my ($gw, $org, $token, @steps) = @_;

    my ($fh, $plan) = tempfile(DIR => $gw->prefix, SUFFIX => '.json',
                               UNLINK => 1);
    print $fh encode_json({
        baseUrl => 'http://127.0.0.1:' . $gw->port . '/v1/',
        org     => $org,
        token   => $token,
        steps   => [ map { { call => $_->[0], args => [ @$_[1 .. $#$_] ] } }
                     @steps ],
    });
    close $fh;

    my $out = `timeout 30 node '$NODE_DIR/client.mjs' '$plan' 2>&1`;
    my $res = eval { decode_json($out) };
    unless (ref $res eq 'ARRAY' && @$res == @steps) {
        Test::More::fail('the node client ran');
        Test::More::diag($out);
        return [ map { {} } @steps ];
    }
    return $res;
}


# The call threw the client's own TursoClientError with the gateway's
# status and message (a string, or a pattern).
sub client_error {
    my ($res, $status, $message, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    Test::More::subtest($name => sub {
        Test::More::ok(!$res->{ok}, 'the call threw');
        Test::More::is($res->{name}, 'TursoClientError',
                       'error name TursoClientError');
        Test::More::is($res->{class}, 'TursoClientError',
                       'an instance of its class');
        Test::More::is($res->{status}, $status, "status $status");
        if (ref $message) {
            Test::More::like($res->{message}, $message, 'message');
        } else {
            Test::More::is($res->{message}, $message, 'message');
        }
    });
}


1;
