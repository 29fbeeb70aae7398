#!/usr/bin/env bash
# Build what a Linux user installs, into dist/:
#   dist/pyinstaller/parley/                          the frozen one-folder app (packaging/parley.spec)
#   dist/parley-chat-VERSION-linux-ARCH.tar.gz        that folder + install.sh (per user, no root)
#   dist/parley-chat_VERSION_ARCH.deb                 /opt/parley-chat, /usr/bin/parley-chat, menu
#                                                     entry, AppStream metainfo, icons, copyright
# Checks on the way: no bundled file needs a glibc above the floor (packaging/bundle.py), the
# desktop entry and metainfo validate, lintian passes (packaging/linux/lintian-overrides says
# which tags a self-contained /opt bundle must carry), and the frozen app answers --version and
# --self-test. Prints the sizes against the targets (140 MB unpacked, 60 MB tarball).
#
# The package and command are `parley-chat`: Debian and Ubuntu already ship KDE's `parley`.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON_BIN:-.venv/bin/python}
version=$("$PY" -c "import parley; print(parley.__version__)")
app_id=$("$PY" -c "import parley; print(parley.APP_ID)")
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
name=parley-chat

scripts/packaging-tools.sh

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist/pyinstaller --workpath build/pyinstaller packaging/parley.spec
app=dist/pyinstaller/parley

"$PY" packaging/bundle.py check "$app"
depends=$("$PY" packaging/bundle.py depends "$app")

# Smoke test of the frozen app: --version, --self-test offscreen, `ask` against the emulator.
"$PY" packaging/smoke.py "$app/parley"

desktop=packaging/linux/$app_id.desktop
metainfo=packaging/linux/$app_id.metainfo.xml
desktop-file-validate "$desktop"
appstreamcli validate --no-net --explain "$metainfo" >/dev/null

stage=build/stage
rm -rf "$stage" && mkdir -p "$stage"

# Shared data files: menu entry, metainfo, icons (PNG sizes + the scalable SVG).
share() {
    local root=$1
    mkdir -p "$root/applications" "$root/metainfo" "$root/icons/hicolor/scalable/apps"
    cp "$desktop" "$root/applications/"
    cp "$metainfo" "$root/metainfo/"
    cp resources/icons/parley.svg "$root/icons/hicolor/scalable/apps/$app_id.svg"
    for size in 16 24 32 48 64 128 256 512; do
        mkdir -p "$root/icons/hicolor/${size}x${size}/apps"
        cp "resources/icons/png/parley-$size.png" "$root/icons/hicolor/${size}x${size}/apps/$app_id.png"
    done
}

# Tarball: the folder, the data files and a per-user installer.
tar_name="$name-$version-linux-$arch"
tar_root="$stage/$tar_name"
mkdir -p "$tar_root"
cp -a "$app" "$tar_root/$name"
share "$tar_root/share"
install -m 755 packaging/linux/install.sh "$tar_root/install.sh"
cp LICENSE "$tar_root/LICENSE"
cat > "$tar_root/README.txt" <<TXT
Parley $version for Linux ($arch)

Install for yourself (no root needed):   ./install.sh
Then open Parley from your applications menu, or run: parley-chat
Remove it again:                         ~/.local/opt/parley-chat/uninstall.sh --uninstall
Or run it in place without installing:   ./$name/parley

Your conversations and settings are kept in ~/.local/share/Parley; your API keys in your
desktop's keyring (GNOME Keyring or KWallet), never in a file.
Licences of everything bundled: $name/_internal/parley/resources/licenses (and Settings >
About Parley).
TXT
tar -C "$stage" -czf "dist/$tar_name.tar.gz" "$tar_name"

# .deb
deb_root="$stage/deb"
doc="$deb_root/usr/share/doc/$name"
mkdir -p "$deb_root/DEBIAN" "$deb_root/opt" "$deb_root/usr/bin" "$doc" \
    "$deb_root/usr/share/man/man1" "$deb_root/usr/share/lintian/overrides"
cp -a "$app" "$deb_root/opt/$name"
ln -s "/opt/$name/parley" "$deb_root/usr/bin/$name"
share "$deb_root/usr/share"
install -m 644 packaging/linux/copyright "$doc/copyright"
printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- Parley developers <parley-chat@users.noreply.github.com>  %s\n' \
    "$name" "$version" "$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}")" \
    | gzip -9n > "$doc/changelog.gz"
gzip -9n < packaging/linux/parley-chat.1 > "$deb_root/usr/share/man/man1/$name.1.gz"
install -m 644 packaging/linux/lintian-overrides "$deb_root/usr/share/lintian/overrides/$name"
# Only the launcher is executable (PyInstaller leaves shared libraries and some licence files 755).
find "$deb_root" -type d -exec chmod 755 {} +
find "$deb_root" -type f -exec chmod 644 {} +
chmod 755 "$deb_root/opt/$name/parley"
installed_kb=$(du -sk --exclude=DEBIAN "$deb_root" | cut -f1)
cat > "$deb_root/DEBIAN/control" <<CTRL
Package: $name
Version: $version
Architecture: $arch
Maintainer: Parley developers <parley-chat@users.noreply.github.com>
Installed-Size: $installed_kb
Depends: $depends
Recommends: gnome-keyring | kwalletmanager | keepassxc
Section: net
Priority: optional
Homepage: https://github.com/parley-chat/parley
Description: desktop chat client for LLM chat-completion APIs
 Parley talks to many providers (Euron EURI, EUrouter, EigenAI, Nordlys,
 Adaptive Engine, any OpenAI-compatible endpoint, local servers), streams
 answers, exposes every parameter and keeps API keys in the OS keyring.
 .
 This is a self-contained build in /opt/parley-chat (Python and Qt included).
CTRL
deb="dist/${name}_${version}_${arch}.deb"
# xz for releases (smaller download); the test suite asks for gzip, ~4x less CPU.
dpkg-deb --root-owner-group "-Z${PARLEY_DEB_COMPRESSION:-xz}" --build "$deb_root" "$deb" >/dev/null
lintian --fail-on error,warning "$deb"

echo "built (targets: 140 MB unpacked, 60 MB tarball):"
printf '  %-44s %5s MB unpacked\n' "$app" "$(( $(du -sb "$app" | cut -f1) / 1000000 ))"
for f in "dist/$tar_name.tar.gz" "$deb"; do
    printf '  %-44s %5s MB\n' "$f" "$(( $(stat -c %s "$f") / 1000000 ))"
done
