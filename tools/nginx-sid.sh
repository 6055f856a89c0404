#!/usr/bin/env bash
# Debian sid's nginx 1.30 on this Debian 12 machine, changing nothing on the
# system: sid's binary packages (nginx, nginx-dev and the libraries nginx
# and the module need) are downloaded with a private apt state (own
# sources.list, lists and cache under build/apt/sid/; the system's apt
# configuration is neither read nor changed) and unpacked with dpkg-deb -x
# into a private root, build/sid/root/.  A copy of sid's nginx binary gets
# the root's dynamic loader as its interpreter and the root's library
# directories as its rpath (patchelf), so it runs with sid's libc and
# OpenSSL; no chroot.
#
#   tools/nginx-sid.sh src      prints the source tree nginx-dev ships
#                               (ROOT/usr/share/nginx/src: headers,
#                               configure, auto/, conf_flags), to build
#                               the module against
#   tools/nginx-sid.sh nginx    prints the patched nginx binary
#                               (build/sid/nginx)
#   tools/nginx-sid.sh flags    prints sid's configure arguments
#                               (conf_flags), one per line
#   tools/nginx-sid.sh patch F  points the ELF file F (a module built for
#                               this nginx) at the root's libraries
#
# NGINX_SID_VERSION=1.30.x-y picks another revision (when sid moves on).
# Downloads and the root are cached: a second run costs nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
say() { printf '%s\n' "nginx-sid.sh: $*" >&2; }
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"

# sid's nginx and what its binary and the module link (ldd of both)
version=${NGINX_SID_VERSION:-1.30.6-2}
packages=(nginx="$version" nginx-dev="$version" libc6 libssl3t64
          libpcre2-8-0 zlib1g libcrypt1 libjansson4 libgcc-s1 libzstd1)

sid="$build/sid"
root="$sid/root"
lib="$root/usr/lib/x86_64-linux-gnu"
rpath="$lib:$root/usr/lib:$root/lib/x86_64-linux-gnu"

# The private root with sid's packages, once.
unpack() {
    local stamp deb
    stamp=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-16)
    [ "$(cat "$root/.stamp" 2>/dev/null)" = "$stamp" ] && return 0

    install_missing patchelf

    # the mirror the system's own sources name (deb.debian.org here)
    local key=/usr/share/keyrings/debian-archive-keyring.gpg
    apt_private sid \
        "deb [arch=amd64 signed-by=$key] http://deb.debian.org/debian sid main"
    state=$apt_state
    apt_private_update sid

    # apt-get download checks each file against the signed index
    rm -f "$state/downloads"/*.deb
    say "apt-get download ${packages[*]}"
    (cd "$state/downloads" \
         && apt-get "${apt_opts[@]}" download "${packages[@]}") \
        >"$state/download.log" 2>&1 || {
        cat "$state/download.log" >&2
        say "could not download sid's packages (is $version still in sid?)"
        exit 1
    }

    rm -rf "$root" "$sid/nginx"
    mkdir -p "$root"
    for deb in "$state/downloads"/*.deb; do
        dpkg-deb -x "$deb" "$root"
    done
    echo "$stamp" > "$root/.stamp"
    say "unpacked sid's nginx $version and its libraries in $root"
}

# A copy of sid's nginx that runs with the root's loader and libraries.
patched_nginx() {
    if [ ! -x "$sid/nginx" ] || [ "$root/.stamp" -nt "$sid/nginx" ]; then
        cp "$root/usr/sbin/nginx" "$sid/nginx.new"
        patch_elf "$sid/nginx.new" --set-interpreter \
                  "$lib/ld-linux-x86-64.so.2"
        mv -f "$sid/nginx.new" "$sid/nginx"
    fi
    "$sid/nginx" -v 2>/dev/null || {
        "$sid/nginx" -v
        say "sid's nginx does not run"
        exit 1
    }
}

patch_elf() {
    local file=$1
    shift
    patchelf "$@" --force-rpath --set-rpath "$rpath" "$file"
}

unpack
case "${1:-}" in
    src)   printf '%s\n' "$root/usr/share/nginx/src" ;;
    nginx) patched_nginx; printf '%s\n' "$sid/nginx" ;;
    flags)
        install_missing dpkg-dev
        # conf_flags calls dpkg-architecture and dpkg-buildflags
        # shellcheck disable=SC1091
        (. "$root/usr/share/nginx/src/conf_flags" \
             && printf '%s\n' "${NGX_CONF_FLAGS[@]}") ;;
    patch) patch_elf "${2:?patch needs a file}" ;;
    *) say "usage: $0 src|nginx|flags|patch FILE"; exit 2 ;;
esac
