#!/usr/bin/env bash
# Configures and builds sockframe into build/ (or $BUILD_DIR). Extra args go to meson setup.
# Quiet when it works; on failure prints the end of the build log (full log in $dir/build.log).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
fi
if ! ninja -C "$dir" >"$dir/build.log" 2>&1; then
  echo "build: FAILED ($dir); last lines of $dir/build.log:"
  grep -E -A20 '^FAILED|error:' "$dir/build.log" | head -60 || tail -40 "$dir/build.log"
  exit 1
fi
echo "build: ok ($dir)"
