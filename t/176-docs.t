# docs/architecture.md names every unit: its tables list each
# ngx_turso_members_*.c of the top folder, and every C file the page names
# exists.  A unit added, split or renamed without its line in the page
# fails here.  And every test file the docs name (docs/security.md gives
# one for each mechanism) exists.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use TursoMembers::Test;

my $doc = TursoMembers::Test::slurp('docs/architecture.md');

my %files = map { $_ => 1 } glob('ngx_turso_members_*.c');
ok %files > 10, scalar(keys %files) . ' units in the top folder';

# the rows of the unit tables: | `ngx_turso_members_X.c` | job |
my %rows = map { $_ => 1 } $doc =~ /^\| `(ngx_turso_members_\w+\.c)` \|/mg;

for my $f (sort keys %files) {
    ok $rows{$f}, "docs/architecture.md has a row for $f";
}

# every unit the page names, in full or as the diagram's short form
my %named = map { $_ => 1 } $doc =~ /\b(ngx_turso_members_\w+\.c)\b/g;
$named{"ngx_turso_members_$_.c"} = 1
    for $doc =~ /(?<![\w.\/])([a-z]+)\.c\b/g;

for my $f (sort keys %named) {
    ok $files{$f}, "$f, named in docs/architecture.md, exists";
}

my %tests;
for my $md (glob('docs/*.md'), 'README.md') {
    $tests{$_}{$md} = 1
        for TursoMembers::Test::slurp($md) =~ m{\b(t/\d{3}-[\w-]+\.t)\b}g;
}
ok %tests > 10, scalar(keys %tests) . ' test files named in the docs';

for my $f (sort keys %tests) {
    ok -f $f, "$f exists (" . join(', ', sort keys %{$tests{$f}}) . ')';
}

done_testing;
