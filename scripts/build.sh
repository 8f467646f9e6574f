#!/usr/bin/env bash
# Configures and builds sockframe into build/ (or $BUILD_DIR). Extra args go to meson setup.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "build: ok ($dir)"
