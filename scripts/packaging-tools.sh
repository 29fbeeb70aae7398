#!/usr/bin/env bash
# The Debian tools that build and check the installers (not needed to run or test Parley
# itself): desktop-file-validate, appstreamcli, lintian, makensis (NSIS compiles the Windows
# installer script on Linux). Used by scripts/package.sh and the packaging tests; quick when
# they are present.
set -euo pipefail
tools=(desktop-file-validate:desktop-file-utils appstreamcli:appstream lintian:lintian
       makensis:nsis)
missing=()
for entry in "${tools[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "packaging-tools: missing ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
