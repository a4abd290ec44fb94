#!/bin/sh
# Build the Linux bundle, unpack it somewhere else, and use it with nothing of this machine's
# Python in reach: the CLI transcribes assets/demo-en.ogg, then the app does, offscreen.
# Takes minutes (1.9 GB copied, compressed, unpacked), so it is not part of the test suite.
#   packaging/check_linux_bundle.sh [WORK_DIR]
# With an archive already built in WORK_DIR/dist, set SKIP_BUILD=1 to check that one.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
python=${PYTHON:-$repo/.venv/bin/python}

[ "${SKIP_BUILD:-}" = 1 ] || "$python" "$repo/packaging/linux_bundle.py" "$work/dist"
rm -rf "$work/unpacked" "$work/home" "$work/out"
mkdir -p "$work/unpacked" "$work/home" "$work/out"
tar -C "$work/unpacked" -I zstd -xf "$work/dist/voxtune-linux-x86_64.tar.zst"
bundle=$work/unpacked/voxtune

# A bare environment: no PATH to a Python, a fresh home (the embedded model is imported there).
run() { env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }
run "$bundle/voxtune" transcribe "$repo/assets/demo-en.ogg" -o "$work/out" -f txt
grep -q dinosaurs "$work/out/demo-en.txt"
echo "check_linux_bundle: CLI: $(cat "$work/out/demo-en.txt")"

run QT_QPA_PLATFORM=offscreen LD_LIBRARY_PATH="$bundle/python/lib" \
    "$bundle/python/bin/python3" -I "$repo/packaging/bundle_smoke.py" \
    "$bundle" "$repo/assets/demo-en.ogg" "$work/out/gui"
echo "check_linux_bundle: $(du -sh "$bundle" | cut -f1) unpacked," \
     "$(du -sh "$work/dist/voxtune-linux-x86_64.tar.zst" | cut -f1) archive: OK"
