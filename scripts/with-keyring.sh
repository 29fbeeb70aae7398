#!/usr/bin/env bash
# Run a command with a real, unlocked Secret Service (gnome-keyring) on a private D-Bus session.
#
#   scripts/with-keyring.sh make test
#   scripts/with-keyring.sh .venv/bin/pytest -m keyring tests/unit/core/test_secrets.py
#
# The keyring lives in a throwaway folder that is removed afterwards, so a developer's own
# login keyring and running keyring daemon are never touched.
# Needs (Debian): dbus (dbus-run-session), gnome-keyring, libsecret-tools (secret-tool).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

missing=()
for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "with-keyring: missing ${missing[*]}." >&2
    echo "On Debian/Ubuntu: sudo apt-get install dbus gnome-keyring libsecret-tools" >&2
    exit 127
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/parley-keyring.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -m 700 "$scratch/data" "$scratch/runtime"

# The daemon (and dbus-daemon, which activates it and its unlock prompter) must see the scratch
# folders and no display: a prompter window nobody answers would hang the run. The command
# itself gets the caller's own values back.
saved_vars=(XDG_DATA_HOME XDG_RUNTIME_DIR DISPLAY WAYLAND_DISPLAY)
for name in "${saved_vars[@]}"; do
    export "PARLEY_WK_SAVED_$name=${!name-__unset__}"
done
export PARLEY_WK_SAVED_VARS="${saved_vars[*]}"
export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime"
unset DISPLAY WAYLAND_DISPLAY GNOME_KEYRING_CONTROL SSH_AUTH_SOCK

# shellcheck disable=SC2016  # expanded by the inner shell
dbus-run-session -- bash -c '
    set -euo pipefail
    # An empty password unlocks (and creates) the login keyring; storing one item creates and
    # unlocks the default collection that keyring writes to.
    daemon_env=$(echo "" | gnome-keyring-daemon --unlock --components=secrets)
    if [ -n "$daemon_env" ]; then export $daemon_env; fi
    printf x | secret-tool store --label=init app init
    for name in $PARLEY_WK_SAVED_VARS; do
        saved_name="PARLEY_WK_SAVED_$name"
        if [ "${!saved_name}" = "__unset__" ]; then unset "$name"; else export "$name=${!saved_name}"; fi
        unset "$saved_name"
    done
    unset PARLEY_WK_SAVED_VARS
    # Tells tests this keyring is disposable (its password is a single newline), so they may
    # lock and unlock it.
    export PARLEY_THROWAWAY_KEYRING=1
    "$@"
' with-keyring "$@"
