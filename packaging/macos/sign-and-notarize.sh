#!/usr/bin/env bash
# Sign Parley.app (Developer ID, hardened runtime, entitlements) or a .dmg, then notarise and
# staple it. Needs, from the release workflow's secrets (packaging/SIGNING.md):
#   MACOS_SIGN_IDENTITY   "Developer ID Application: NAME (TEAMID)", in an unlocked keychain
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   an app-specific password for notarytool
#
#   packaging/macos/sign-and-notarize.sh app
#   packaging/macos/sign-and-notarize.sh dmg dist/Parley-0.1.0-macos-arm64.dmg
set -euo pipefail
cd "$(dirname "$0")/../.."
entitlements=packaging/macos/entitlements.plist
: "${MACOS_SIGN_IDENTITY:?}" "${APPLE_ID:?}" "${APPLE_TEAM_ID:?}" "${APPLE_APP_PASSWORD:?}"

notarize() {
    xcrun notarytool submit "$1" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
        --password "$APPLE_APP_PASSWORD" --wait
}

case "$1" in
app)
    app=dist/pyinstaller/Parley.app
    # Inside out: every Mach-O file first, then the bundle (codesign --deep is deprecated).
    find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' file; do
            if file "$file" | grep -q Mach-O; then
                codesign --force --timestamp --options runtime --entitlements "$entitlements" \
                    --sign "$MACOS_SIGN_IDENTITY" "$file"
            fi
        done
    codesign --force --timestamp --options runtime --entitlements "$entitlements" \
        --sign "$MACOS_SIGN_IDENTITY" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
    ditto -c -k --keepParent "$app" "$app.zip"
    notarize "$app.zip"
    xcrun stapler staple "$app"
    rm -f "$app.zip"
    ;;
dmg)
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$2"
    notarize "$2"
    xcrun stapler staple "$2"
    ;;
*)
    echo "usage: $0 app | dmg FILE" >&2
    exit 2
    ;;
esac
