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

if [ -x "$tool" ]; then
    printf '%s\n' "$tool"
    exit 0
fi

state="$build/apt/bookworm-bin"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" \
         "$state/downloads" "$state/etc/preferences.d" \
         "$state/etc/apt.conf.d" "$state/etc/sources.list.d"
: > "$state/status"
{
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' bookworm bookworm-updates
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security %s main\n' bookworm-security
} > "$state/sources.list"

apt_opts=(
    -o "Dir::Etc::SourceList=$state/sources.list"
    -o "Dir::Etc::SourceParts=$state/etc/sources.list.d"
    -o "Dir::Etc::Parts=$state/etc/apt.conf.d"
    -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
    -o "Dir::State::Lists=$state/lists"
    -o "Dir::State::status=$state/status"
    -o "Dir::Cache=$state/cache"
    -o "APT::Sandbox::User=root"
    -o "Acquire::Languages=none"
    -o "Debug::NoLocking=1"
)

if [ -z "$(find "$state/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 \
           2>/dev/null | head -1)" ]; then
    say "apt-get update (bookworm, private state in $state)"
    apt-get "${apt_opts[@]}" update -q >"$state/update.log" 2>&1 || {
        cat "$state/update.log" >&2; exit 1; }
fi

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
