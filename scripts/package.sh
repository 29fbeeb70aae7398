#!/usr/bin/env bash
# Build what a Linux user installs, into dist/:
#   dist/pyinstaller/parley/           the one-folder frozen app (PyInstaller, packaging/parley.spec)
#   dist/parley-VERSION-linux-ARCH.tar.gz   that folder + desktop entry + icons + INSTALL.txt
#   dist/parley_VERSION_ARCH.deb       /opt/parley, /usr/bin/parley, desktop entry, hicolor icons
# Then smoke-test the frozen app: --version, providers, --self-test (offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON_BIN:-.venv/bin/python}
version=$("$PY" -c "import parley; print(parley.__version__)")
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist/pyinstaller --workpath build/pyinstaller packaging/parley.spec
app=dist/pyinstaller/parley

# Smoke test of the frozen app, in a throwaway data folder.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
test "$("$app/parley" --version)" = "parley $version"
PARLEY_HOME="$home" "$app/parley" providers | grep -q '^eurouter '
PARLEY_HOME="$home" QT_QPA_PLATFORM=offscreen "$app/parley" --self-test | grep -q '^self-test ok'

stage=build/stage
rm -rf "$stage" && mkdir -p "$stage"

# Tarball: the folder, the desktop entry and icons, and how to install by hand.
tar_root="$stage/parley-$version"
mkdir -p "$tar_root"
cp -a "$app/." "$tar_root/"
cp packaging/linux/parley.desktop "$tar_root/"
cp resources/icons/png/parley-256.png "$tar_root/parley.png"
cat > "$tar_root/INSTALL.txt" <<TXT
Parley $version for Linux ($arch)

Run it in place:      ./parley
Install for yourself: copy this folder to ~/.local/opt/parley, then
  ln -s ~/.local/opt/parley/parley ~/.local/bin/parley
  cp parley.desktop ~/.local/share/applications/
  cp parley.png ~/.local/share/icons/hicolor/256x256/apps/parley.png
Keys are kept in your desktop's keyring (GNOME Keyring / KWallet via Secret Service).
TXT
tar -C "$stage" -czf "dist/parley-$version-linux-$arch.tar.gz" "parley-$version"

# .deb
deb_root="$stage/deb"
mkdir -p "$deb_root/DEBIAN" "$deb_root/opt/parley" "$deb_root/usr/bin" \
    "$deb_root/usr/share/applications"
cp -a "$app/." "$deb_root/opt/parley/"
ln -s /opt/parley/parley "$deb_root/usr/bin/parley"
cp packaging/linux/parley.desktop "$deb_root/usr/share/applications/parley.desktop"
for size in 16 24 32 48 64 128 256 512; do
    dir="$deb_root/usr/share/icons/hicolor/${size}x${size}/apps"
    mkdir -p "$dir"
    cp "resources/icons/png/parley-$size.png" "$dir/parley.png"
done
installed_kb=$(du -sk "$deb_root" | cut -f1)
cat > "$deb_root/DEBIAN/control" <<CTRL
Package: parley
Version: $version
Architecture: $arch
Maintainer: Parley developers <parley@localhost>
Installed-Size: $installed_kb
Depends: libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libdbus-1-3, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0
Recommends: gnome-keyring | kwalletmanager
Section: net
Priority: optional
Description: Desktop chat client for LLM chat-completion APIs
 Parley talks to many providers (Euron EURI, EUrouter, EigenAI, Nordlys,
 Adaptive Engine, any OpenAI-compatible endpoint, local servers), streams
 answers, exposes every parameter and keeps API keys in the OS keyring.
CTRL
dpkg-deb --root-owner-group --build "$deb_root" "dist/parley_${version}_${arch}.deb" >/dev/null

echo "built:"
du -sh "$app" "dist/parley-$version-linux-$arch.tar.gz" "dist/parley_${version}_${arch}.deb"
