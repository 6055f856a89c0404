#!/usr/bin/env bash
# Build the libnginx-mod-http-turso-members Debian package the way Debian
# builds its own third-party nginx modules (debian/: the "nginx" debhelper
# sequence from nginx-dev, dh_nginx, ${nginx:abi}).
#
#   tools/deb.sh              (or ./build.sh deb) the working tree as it is
#   tools/deb.sh --committed  (./build.sh deb --committed) what HEAD holds,
#                             for a package of a commit, edits left out
#
# The sources are copied to build/deb/src/ first, so nothing is written into
# the repository outside build/. The packages end up in build/deb/:
#   libnginx-mod-http-turso-members_VERSION_ARCH.deb   (and the -dbgsym .deb)
# The build log is build/deb/build.log.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/deb"
pkg=libnginx-mod-http-turso-members

say() { printf '%s\n' "deb.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

committed=0
case "${1:-}" in
    "") ;;
    --committed) committed=1; shift ;;
    *) say "usage: $0 [--committed]"; exit 2 ;;
esac
if [ $# -gt 0 ]; then
    say "usage: $0 [--committed]"
    exit 2
fi

# the tools dpkg-buildpackage needs; Rules-Requires-Root: no, so no fakeroot
install_missing dpkg-dev debhelper

mkdir -p "$out"
# one build at a time: t/140-deb.t may run while someone runs ./build.sh deb
exec 9>"$out/.lock"
flock -w 300 9 || { say "another package build holds $out/.lock"; exit 1; }

version=$(cd "$top" && dpkg-parsechangelog -S Version)
src="$out/src/$pkg-$version"

# what the package is built from: the module's sources, its docs and
# examples, debian/
rm -rf "$out/src"
mkdir -p "$src"
if [ $committed = 1 ]; then
    say "packaging HEAD ($(git -C "$top" rev-parse --short HEAD))"
    git -C "$top" archive HEAD -- config 'ngx_turso_members_*.[ch]' \
        README.md CHANGELOG.md docs examples debian | tar -x -C "$src"
else
    (
        cd "$top"
        cp -p config ngx_turso_members_*.c ngx_turso_members_*.h README.md \
            CHANGELOG.md "$src/"
        cp -pR docs examples debian "$src/"
    )
fi

cd "$src"
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        dpkg-checkbuilddeps || true
        say "not root: install the build dependencies above"
        exit 1
    fi
    say "installing the build dependencies"
    export DEBIAN_FRONTEND=noninteractive
    [ $apt_updated = 1 ] || apt-get update -q >/dev/null
    apt-get build-dep -y -q --no-install-recommends "$src" >/dev/null
fi

say "building $pkg $version against $(/usr/sbin/nginx -v 2>&1)"
start=$(date +%s)
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
if ! dpkg-buildpackage -us -uc -b > "$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    say "the build failed: $out/build.log"
    exit 1
fi

rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
mv "$out/src/"*.deb "$out/src/"*.buildinfo "$out/src/"*.changes "$out/"
for f in "$out/src/"*.ddeb; do
    [ -e "$f" ] && mv "$f" "$out/"
done
rm -rf "$out/src"

say "built in $(( $(date +%s) - start )) s:"
for f in "$out"/*.deb; do
    say "  $f"
done
