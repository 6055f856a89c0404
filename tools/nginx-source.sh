#!/usr/bin/env bash
# Fetches and unpacks the source of one nginx version under build/src/, with
# a private apt state (own sources.list, lists and cache under build/apt/):
# the system's apt configuration is neither read nor changed.
#
#   tools/nginx-source.sh 1.22    Debian bookworm's nginx 1.22.1 source
#                                 (nginx=1.22.1-9+deb12u9, Debian's patches
#                                 applied): what /usr/sbin/nginx is built from
#   tools/nginx-source.sh 1.26    pristine upstream nginx 1.26.3, the orig
#                                 tarball of trixie's nginx=1.26.3-3+deb13u10
#   tools/nginx-source.sh 1.30    Debian sid's nginx 1.30.6: the source tree
#                                 its nginx-dev package ships (headers,
#                                 configure, auto/; enough to build modules,
#                                 not nginx), through tools/nginx-sid.sh
#
# Prints the unpacked source directory on stdout.  Downloads and the unpacked
# tree are cached: a second run costs nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
say() { printf '%s\n' "nginx-source.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

version=${1:?usage: $0 1.22|1.26|1.30}

case "$version" in
    1.22|1.22.1)
        upstream=1.22.1
        pkg="nginx=1.22.1-9+deb12u9"
        dsc=nginx_1.22.1-9+deb12u9.dsc
        suites="bookworm bookworm-updates"
        security="bookworm-security"
        sha256=
        ;;
    1.26|1.26.3)
        upstream=1.26.3
        pkg="nginx=1.26.3-3+deb13u10"
        dsc=
        suites="trixie trixie-updates"
        security="trixie-security"
        # nginx-1.26.3.tar.gz as released by nginx.org
        sha256=69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa
        ;;
    1.30|1.30.6)
        # sid's source packages are not on the mirror, its nginx-dev is
        exec "$top/tools/nginx-sid.sh" src ;;
    *) say "unknown nginx version $version (1.22, 1.26 or 1.30)"; exit 2 ;;
esac

src="$build/src/nginx-$upstream"
if [ -f "$src/.unpacked" ]; then
    printf '%s\n' "$src"
    exit 0
fi

install_missing dpkg-dev xz-utils

# the private apt state, one per Debian release
rel=${suites%% *}
deb_src="deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
lines=()
for suite in $suites; do
    lines+=("$deb_src http://deb.debian.org/debian $suite main")
done
lines+=("$deb_src http://deb.debian.org/debian-security $security main")
apt_private "$rel" "${lines[@]}"
state=$apt_state
apt_private_update "$rel deb-src"

cd "$state/downloads"
say "apt-get source --download-only $pkg"
# for 1.26 the Debian parts may be gone from the mirror while the orig
# tarball (all we use) is there: judge by what was fetched, not the status
apt-get "${apt_opts[@]}" source --download-only "$pkg" \
    >"$state/source-$upstream.log" 2>&1 || true

orig="nginx_$upstream.orig.tar.gz"
if [ ! -s "$orig" ]; then
    cat "$state/source-$upstream.log" >&2
    say "could not download $orig"
    exit 1
fi
if [ -n "$sha256" ]; then
    got=$(sha256sum "$orig" | cut -d' ' -f1)
    if [ "$got" != "$sha256" ]; then
        say "$orig: sha256 $got, want $sha256"
        exit 1
    fi
    say "$orig: sha256 $got (nginx.org's nginx-$upstream.tar.gz)"
fi

rm -rf "$src" "$src.tmp"
mkdir -p "$build/src"
if [ -n "$dsc" ]; then
    if [ ! -s "$dsc" ]; then
        cat "$state/source-$upstream.log" >&2
        say "could not download $dsc"
        exit 1
    fi
    # checks the hashes the (signed) Sources index gave, applies the patches
    dpkg-source --no-check -x "$dsc" "$src.tmp" >&2
else
    mkdir -p "$src.tmp"
    tar -xzf "$orig" -C "$src.tmp" --strip-components=1
fi
mv "$src.tmp" "$src"
touch "$src/.unpacked"
say "unpacked nginx $upstream in $src"
printf '%s\n' "$src"
