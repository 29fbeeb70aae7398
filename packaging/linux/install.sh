#!/bin/sh
# Install Parley for the current user, from the unpacked tarball: no root, nothing outside $HOME.
#
#   ./install.sh              install (or upgrade in place)
#   ./install.sh --uninstall  remove the program again (your conversations and keys stay)
#
# Puts the program in ~/.local/opt/parley-chat, the `parley-chat` command in ~/.local/bin, the
# menu entry, icons and AppStream file under ~/.local/share; creates the folders it needs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app_id=io.github.parley_chat.Parley
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
prefix=$HOME/.local/opt/parley-chat
bin_dir=$HOME/.local/bin
apps=$data_home/applications
icons=$data_home/icons/hicolor
metainfo=$data_home/metainfo

refresh_menus() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$prefix"
    rm -f "$bin_dir/parley-chat" "$apps/$app_id.desktop" "$metainfo/$app_id.metainfo.xml"
    rm -f "$icons"/*/apps/"$app_id".png "$icons/scalable/apps/$app_id.svg"
    refresh_menus
    echo "Parley is removed. Your conversations and settings stay in $data_home/Parley"
    echo "(delete that folder to remove them) and your API keys in the system keyring."
    exit 0
fi

if [ ! -x "$here/parley-chat/parley" ]; then
    echo "install.sh: run me from the unpacked Parley folder (parley-chat/parley is missing)." >&2
    exit 1
fi

mkdir -p "$prefix" "$bin_dir" "$apps" "$metainfo" "$icons/scalable/apps"
# Upgrade in place: the old version's files go, so nothing stale stays behind.
rm -rf "$prefix.new"
cp -R "$here/parley-chat" "$prefix.new"
cp "$here/install.sh" "$prefix.new/uninstall.sh"
rm -rf "$prefix" && mv "$prefix.new" "$prefix"
ln -sf "$prefix/parley" "$bin_dir/parley-chat"

# The menu entry runs the program by its full path: ~/.local/bin may not be on the menu's PATH.
sed "s|^Exec=parley-chat|Exec=$prefix/parley|" "$here/share/applications/$app_id.desktop" \
    > "$apps/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$metainfo/"
for png in "$here"/share/icons/hicolor/*/apps/"$app_id".png; do
    size=$(basename "$(dirname "$(dirname "$png")")")
    mkdir -p "$icons/$size/apps"
    cp "$png" "$icons/$size/apps/"
done
cp "$here/share/icons/hicolor/scalable/apps/$app_id.svg" "$icons/scalable/apps/"
refresh_menus

echo "Parley is installed: open it from your applications menu, or run parley-chat."
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "Note: $bin_dir is not on your PATH; add it (e.g. in ~/.profile:" \
        "PATH=\"\$HOME/.local/bin:\$PATH\") or run $prefix/parley." ;;
esac
echo "To remove it: $prefix/uninstall.sh --uninstall"
