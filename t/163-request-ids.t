# The client's X-Request-Id is kept only when it is made of the bytes
# ngx_turso_members_request_id() allows (letters, digits, "-", "_", ".",
# ":"), else replaced by the gateway's own id: in the answer's header, in
# an error's body, and upstream.  Every byte is tried, between two allowed
# ones ("a<byte>b"), but NUL, CR and LF, which nginx refuses in a header
# before the gateway runs.

use strict;
use warnings;

use lib 't/lib';
use TursoMembers::Test;

my $t = TursoMembers::Test->new;

my $LIST = '/v1/organizations/acme/members';
my %ALLOWED = map { $_ => 1 } ('a' .. 'z', 'A' .. 'Z', '0' .. '9',
                               '-', '_', '.', ':');
my @bytes = grep { $_ != 0 && $_ != 0x0a && $_ != 0x0d } 1 .. 255;
my @bad = grep { !$ALLOWED{ chr $_ } } @bytes;
my @good = grep { $ALLOWED{ chr $_ } } @bytes;

is scalar @good, 66, 'the allowed set: 66 bytes';
is scalar @bad, 253 - 66, 'every other byte is tried';

sub ids_upstream {
    my $u = $t->upstream_requests;
    return [ map {
        my $raw = $_->{rawHeaders};
        [ map { $raw->[2 * $_ + 1] }
          grep { lc $raw->[2 * $_] eq 'x-request-id' } 0 .. $#$raw / 2 ]
    } @$u ];
}

# One success and one gateway error for the id; what the client and the
# upstream got, as [header of the success, upstream's ids, header of the
# error, request_id of its body].
sub try_id {
    my ($c, $id) = @_;
    my $ok = $c->request(method => 'GET', path => $LIST,
                         headers => ["X-Request-Id: $id"]);
    my $err = $c->request(method => 'POST', path => $LIST, body => '{',
                          headers => ["X-Request-Id: $id"]);
    return ($ok, $err);
}

for my $case (['outside', 'replaced', \@bad], ['of', 'kept', \@good]) {
    my ($set, $what, $list) = @$case;
    subtest "each byte $set the allowed set is $what" => sub {
        $t->mock_reset;
        my $c = $t->connect;
        my (@wrong, @ids);
        for my $b (@$list) {
            my $id = 'a' . chr($b) . 'b';
            my ($ok, $err) = try_id($c, $id);
            push @ids, $id;
            my $j = ref $err->{json} eq 'HASH' ? $err->{json} : {};
            my @got = ($ok->{status}, $ok->{headers}{'x-request-id'} // '',
                       $err->{status}, $err->{headers}{'x-request-id'} // '',
                       $j->{request_id} // '');
            my $fine = $got[0] == 200 && $got[2] == 400
                       && $got[3] eq $got[4];
            if ($what eq 'replaced') {
                $fine &&= !grep { index($_, $id) >= 0 || !/^[0-9a-f]{32}$/ }
                          @got[1, 3];
            } else {
                $fine &&= $got[1] eq $id && $got[3] eq $id;
            }
            push @wrong, sprintf('0x%02x: %s', $b, join ' | ', @got)
                unless $fine;
        }
        $c->close;
        is_deeply \@wrong, [], "the header and the error's body: $what"
            or diag join "\n", @wrong;

        # upstream: one X-Request-Id per request, in the order sent
        my $up = ids_upstream();
        is scalar @$up, scalar @$list, 'each success went upstream once';
        my @bad_up;
        for my $i (0 .. $#$up) {
            my @v = @{ $up->[$i] };
            my $fine = @v == 1
                       && ($what eq 'kept' ? $v[0] eq $ids[$i]
                                           : $v[0] =~ /^[0-9a-f]{32}$/);
            push @bad_up, sprintf('0x%02x: %s', $list->[$i], join ' ', @v)
                unless $fine;
        }
        is_deeply \@bad_up, [], "upstream: $what" or diag join "\n", @bad_up;
    };
}

done_testing;
