# Sourced by build.sh and tools/*.sh: installing the Debian packages a
# command needs, and private apt states for what is only downloaded.  The
# sourcing script defines say() (its messages carry its name) and, for
# apt_private, $build.
# shellcheck shell=bash

apt_updated=0

# Installs those of the named Debian packages that are missing, or, when
# not root, says what to install and exits.
install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        say "not root: run as root or install: apt-get install ${missing[*]}"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = 0 ]; then
        apt-get update -q >/dev/null
        apt_updated=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Node.js and npm as Debian packages, unless some node is on PATH already.
node_packages() {
    command -v node >/dev/null || echo nodejs
    [ "${1:-}" != npm ] || command -v npm >/dev/null || echo npm
}

# A private apt state in build/apt/NAME with the given sources.list lines
# (its own lists, cache and empty dpkg status: the system's apt
# configuration is neither read nor changed).  Sets apt_state, and
# apt_opts for apt-get "${apt_opts[@]}" ...
apt_private() {
    local name=$1
    shift
    apt_state="${build:?}/apt/$name"
    mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial" \
             "$apt_state/downloads" "$apt_state/etc/apt.conf.d" \
             "$apt_state/etc/preferences.d" "$apt_state/etc/sources.list.d"
    : > "$apt_state/status"
    printf '%s\n' "$@" > "$apt_state/sources.list"
    apt_opts=(
        -o "Dir::Etc::SourceList=$apt_state/sources.list"
        -o "Dir::Etc::SourceParts=$apt_state/etc/sources.list.d"
        -o "Dir::Etc::Parts=$apt_state/etc/apt.conf.d"
        -o "Dir::Etc::PreferencesParts=$apt_state/etc/preferences.d"
        -o "Dir::State::Lists=$apt_state/lists"
        -o "Dir::State::status=$apt_state/status"
        -o "Dir::Cache=$apt_state/cache"
        -o "APT::Sandbox::User=root"
        -o "Acquire::Languages=none"
        -o "Debug::NoLocking=1"
    )
}

# apt-get update in the private state, when its index is a day old or
# missing; $1 names the index in the message.
apt_private_update() {
    if [ -n "$(find "$apt_state/lists" -maxdepth 1 \
                   \( -name '*Packages*' -o -name '*Sources*' \) \
                   -mmin -1440 2>/dev/null | head -1)" ]; then
        return 0
    fi
    say "apt-get update ($1, private state in $apt_state)"
    apt-get "${apt_opts[@]}" update -q >"$apt_state/update.log" 2>&1 || {
        cat "$apt_state/update.log" >&2; exit 1; }
}
