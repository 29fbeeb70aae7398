#!/usr/bin/env bash
# Install the Debian/Ubuntu packages Parley's window and test suite need, if any are missing:
# Qt's offscreen/xcb platform libraries, Xvfb for screenshots, and a real Secret Service
# (gnome-keyring on a private D-Bus session) for the keyring tests.
#
# Idempotent and quick when everything is there (no apt-get update). Used by `make test` and
# `.ci/run`. On other systems it does nothing and says so.
set -euo pipefail

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: not a Debian/Ubuntu system; install Qt's xcb/EGL libraries yourself." >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
else
    as_root=()
fi
export DEBIAN_FRONTEND=noninteractive

# Names changed across releases (Ubuntu 24.04 renamed some libraries with a t64 suffix): each
# entry lists the alternatives, first existing one wins.
wanted=(
    dbus dbus-x11 gnome-keyring libsecret-tools
    libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 "libglib2.0-0t64|libglib2.0-0"
    xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-xinerama0
    libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-image0
    make
)
if ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    wanted+=(python3-venv)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for entry in "${wanted[@]}"; do
    IFS='|' read -r -a names <<<"$entry"
    found=""
    for name in "${names[@]}"; do
        if installed "$name"; then found=1; break; fi
    done
    [ -n "$found" ] || missing+=("$entry")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && [ "${#as_root[@]}" -eq 0 ]; then
    echo "system-deps: missing packages (${missing[*]}); run this script as root." >&2
    exit 1
fi

"${as_root[@]}" apt-get update -q
pick() {
    local name
    for name in "$@"; do
        if apt-cache show --no-all-versions "$name" >/dev/null 2>&1; then
            echo "$name"
            return 0
        fi
    done
    echo "system-deps: none of these packages exists here: $*" >&2
    return 1
}
packages=()
for entry in "${missing[@]}"; do
    IFS='|' read -r -a names <<<"$entry"
    packages+=("$(pick "${names[@]}")")
done
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
