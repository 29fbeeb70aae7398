#!/usr/bin/env bash
# Wrap dist/pyinstaller/Parley.app in a compressed disk image with an Applications link:
#   packaging/macos/make-dmg.sh VERSION ARCH      -> dist/Parley-VERSION-macos-ARCH.dmg
# Run on macOS (hdiutil) after packaging/macos/sign-and-notarize.sh app, then sign and
# notarise the .dmg itself with `sign-and-notarize.sh dmg FILE`.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$1
arch=$2
app=dist/pyinstaller/Parley.app
[ -d "$app" ] || { echo "make-dmg: $app is missing; build it first" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
cp LICENSE "$stage/LICENSE.txt"
out="dist/Parley-$version-macos-$arch.dmg"
rm -f "$out"
hdiutil create -volname "Parley $version" -srcfolder "$stage" -fs HFS+ -format UDZO \
    -imagekey zlib-level=9 -ov "$out"
echo "$out"
