#!/bin/sh
# Puts Voxtune in the desktop's application menu for the current user (freedesktop.org):
# the .desktop entry and the icon, where menus and file managers look for them.
# Run after `pip install voxtune`, so that `voxtune` is on PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
install -D -m 644 "$here/voxtune.desktop" "$data/applications/voxtune.desktop"
install -D -m 644 "$here/../assets/voxtune.svg" "$data/icons/hicolor/scalable/apps/voxtune.svg"
install -D -m 644 "$here/../assets/voxtune.png" "$data/icons/hicolor/256x256/apps/voxtune.png"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data/applications" || true
fi
echo "Voxtune added to the application menu ($data/applications/voxtune.desktop)"
