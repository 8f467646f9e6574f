#!/usr/bin/env bash
# The whole test suite: set-up, build, every test, then a kernel log check.
# usage: scripts/test.sh [--sanitize]   (--sanitize: address+undefined build in build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BUILD_DIR=build
extra=()
if [ "${1:-}" = "--sanitize" ]; then
  export BUILD_DIR=build-asan
  extra=(-Db_sanitize=address,undefined -Db_lundef=false)
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
bash scripts/build.sh "${extra[@]}"

marks='kernel BUG|WARNING: CPU|seq # bug|BUG: |Oops'
before=$(dmesg 2>/dev/null | grep -cE "$marks" || true)

set +e
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 1 2>&1 | tee "$BUILD_DIR/test-output.txt"
rc=${PIPESTATUS[0]}
set -e

# As a user outside the tree (each adds one build of its own, ~2-3 min, so one per pass):
# install to a temporary prefix, build against it with pkg-config and as a meson
# subproject, receive messages; then the Debian packages: built, installed, run, removed.
if [ "$BUILD_DIR" = build ]; then
  bash scripts/test-install.sh || rc=1
else
  bash scripts/build-deb.sh "$BUILD_DIR/deb" || rc=1
fi

after=$(dmesg 2>/dev/null | grep -cE "$marks" || true)
if [ "$after" != "$before" ]; then
  echo "test: the kernel logged new BUG/WARNING lines during the tests:"
  dmesg | grep -E "$marks" | tail -n $((after - before))
  rc=1
fi
# As root (and in CI) the kernel tests must run, not skip.
skipped=$(grep -E '^Skipped: ' "$BUILD_DIR/test-output.txt" | awk '{print $2}' || true)
if [ "$(id -u)" -eq 0 ] && [ -n "$skipped" ] && [ "$skipped" != "0" ]; then
  echo "test: $skipped test(s) skipped although running as root"
  rc=1
fi
exit $rc
