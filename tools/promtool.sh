#!/usr/bin/env bash
# Fetches Debian bookworm's "prometheus" package and unpacks it under
# build/prometheus/, with a private apt state (own sources.list, lists and
# cache under build/apt/bookworm-bin/), for its promtool: the service is
# neither installed nor started, the system's apt state neither read nor
# changed.
#
#   tools/promtool.sh      prints the path of promtool on stdout
#
# Cached: a second run costs nothing.  Exits non-zero, saying why on
# stderr, when the package cannot be had (the tests then skip).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
dest="$build/prometheus"
tool="$dest/usr/bin/promtool"
say() { printf '%s\n' "promtool.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

if [ -x "$tool" ]; then
    printf '%s\n' "$tool"
    exit 0
fi

repo="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
apt_private bookworm-bin \
    "$repo http://deb.debian.org/debian bookworm main" \
    "$repo http://deb.debian.org/debian bookworm-updates main" \
    "$repo http://deb.debian.org/debian-security bookworm-security main"
state=$apt_state
apt_private_update bookworm

cd "$state/downloads"
rm -f prometheus_*.deb
say "apt-get download prometheus"
apt-get "${apt_opts[@]}" download prometheus >"$state/download.log" 2>&1 || {
    cat "$state/download.log" >&2; say "could not download prometheus"
    exit 1; }

deb=$(ls prometheus_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { say "no prometheus .deb was downloaded"; exit 1; }

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp"
[ -x "$dest.tmp/usr/bin/promtool" ] || {
    say "$deb has no usr/bin/promtool"; exit 1; }
rm -rf "$dest"
mv "$dest.tmp" "$dest"
say "unpacked $deb in $dest"
printf '%s\n' "$tool"
