#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ (-fsanitize=fuzzer,address) directly
# against the core sources and runs them. See docs/differential.md.
#
# usage: tests/fuzz/run.sh [description|differential|route|all] [SECONDS]   (default: all 60)
#   FUZZ_BUILD_DIR  where objects, binaries, new corpus entries and crashes go
#                   (default: build-fuzz/ in the repository)
#   FUZZ_JOBS       parallel fuzzing processes per target (default 1)
#   FUZZ_TOML_ASSERTS=1  keep toml++'s internal asserts (see below)
# New interesting inputs land in $FUZZ_BUILD_DIR/corpus-<target>/; the checked-in
# seeds in tests/fuzz/corpus/<target>/ are only read. Crashes: $FUZZ_BUILD_DIR/crash-*.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
which=${1:-all}
seconds=${2:-60}
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${CXX_FUZZ:-clang++}
cc=${CC_FUZZ:-clang}
mkdir -p "$out/obj"

san=(-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g -O1)
# toml++ 3.3.0 asserts (debug) or assumes (NDEBUG) a precondition that the input
# "[ (" breaks (upstream: marzer/tomlplusplus PR #301; docs/differential.md).
# By default its asserts are no-ops here (neither abort nor assume) so that
# fuzzing explores sockframe's own code; FUZZ_TOML_ASSERTS=1 turns them back on.
toml_assert=(); [ "${FUZZ_TOML_ASSERTS:-0}" = 1 ] || toml_assert=("-DTOML_ASSERT(expr)=((void)0)")
flags=("${toml_assert[@]}" -std=c++20 -DTOML_HEADER_ONLY=1 "-DSOCKFRAME_MULTIARCH=\"$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)\""
       -I"$root/include" -I"$root/core" -I"$root/bpf" -I"$root/tests/differential")

# The BPF headers embedded into the library, exactly as core/codegen/meson.build does it.
headers=$(grep -o "'[A-Za-z0-9_.]*\.h'" "$root/bpf/meson.build" | tr -d "'")
"$cxx" -std=c++20 -O1 "$root/tools/embed_text.cpp" -o "$out/embed_text"
embed_args=()
for h in $headers; do embed_args+=("$h=$root/bpf/$h"); done
"$out/embed_text" "$out/embedded_headers.cpp" "${embed_args[@]}"

# Every source of the core library (each folder's meson.build lists them), plus the differential library.
sources=()
for m in "$root"/core/*/meson.build; do
  for s in $(grep -o "'[A-Za-z0-9_]*\.cpp'" "$m" | tr -d "'" | sort -u); do
    [ -f "$(dirname "$m")/$s" ] && sources+=("$(dirname "$m")/$s")  # skips generated outputs
  done
done
sources+=("$out/embedded_headers.cpp" "$root/tests/differential/diff_lib.cpp" "$root/tests/differential/route_diff.cpp")
objs=()
pids=()
for s in "${sources[@]}"; do
  o="$out/obj/$(basename "${s%.cpp}").o"
  objs+=("$o")
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ -n "$(find "$root/core" "$root/bpf" "$root/tests/differential" -newer "$o" -name '*.h*' 2>/dev/null | head -1)" ]; then
    "$cxx" "${flags[@]}" "${san[@]}" -c "$s" -o "$o" &
    pids+=($!)
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

targets=(description differential route)
[ "$which" != all ] && targets=("$which")
for t in "${targets[@]}"; do
  "$cxx" "${flags[@]}" -fsanitize=fuzzer,address -g -O1 "$root/tests/fuzz/fuzz_$t.cpp" "${objs[@]}" \
    -lbpf -ldl -lpthread -o "$out/fuzz_$t"
done

status=0
jobs=(); [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
cd "$out"  # libFuzzer's -jobs mode writes fuzz-N.log into the current directory
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus-$t"
  echo "== fuzz_$t for ${seconds}s"
  # The generated parsers are compiled at start-up with coverage, so libFuzzer
  # is guided by the kernel-side code as well as the framer.
  SOCKFRAME_HOST_CC="$cc" SOCKFRAME_HOST_CFLAGS="-fsanitize=fuzzer-no-link,address -g" \
  SOCKFRAME_CACHE_DIR="$out/cache" SOCKFRAME_SOURCE_DIR="$root" ASAN_OPTIONS=detect_leaks=0 \
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      "${jobs[@]}" -artifact_prefix="$out/" \
      "$out/corpus-$t" "$root/tests/fuzz/corpus/$t" 2>&1 | tee "$out/fuzz_$t.log" | grep -E '^#[0-9]+.*(DONE|pulse|NEW)|stat::|ERROR|MISMATCH|SUMMARY|Done' | tail -n 12 || true
  if grep -qE 'ERROR: libFuzzer|ERROR: AddressSanitizer|MISMATCH|deadly signal|Test unit written' "$out/fuzz_$t.log"; then
    echo "fuzz_$t: FAILED, see $out/fuzz_$t.log"
    status=1
  fi
done
exit $status
