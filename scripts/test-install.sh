#!/usr/bin/env bash
# sockframe as a user outside this repository gets it: installs to a temporary prefix
# and checks that
#  1. a program built with `pkg-config --cflags --libs sockframe` receives messages
#     over a real loopback socket (kernel path as root, with no clang on PATH: the
#     installed precompiled parser; userspace otherwise);
#  2. the installed CLI lists and serves a shipped protocol by bare name;
#  3. `man sockframe` and the bash completion are installed;
#  4. a meson project using sockframe as a subproject builds and receives messages.
# Called by scripts/test.sh; fails if any of these does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=$(mktemp -d /tmp/sockframe-install.XXXXXX)
trap 'kill ${serve_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "install-test: $*"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }

mode=userspace
[ "$(id -u)" -eq 0 ] && mode=kernel

step "meson setup + install to $prefix"
meson setup "$work/build" --prefix="$prefix" -Dtests=false >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "meson setup"; }
ninja -C "$work/build" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "build"; }
meson install -C "$work/build" --quiet >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; fail "install"; }
pcdir=$(dirname "$(find "$prefix" -name sockframe.pc | head -1)")
[ -n "$pcdir" ] || fail "no sockframe.pc installed"
libdir=$(dirname "$pcdir")
[ -z "$(find "$prefix/include" -name '*.hpp' ! -path '*/include/sockframe/*')" ] || fail "headers outside include/sockframe installed"
[ -f "$prefix/include/sockframe/sockframe.hpp" ] || fail "no public header installed"
for internal in loopback.hpp parser_program.hpp length_rule.hpp; do
  [ -z "$(find "$prefix" -name "$internal")" ] || fail "internal header $internal installed"
done
[ -L "$libdir/libsockframe.so" ] && [ -f "$libdir/libsockframe.a" ] || fail "libsockframe.so / .a missing in $libdir"
soname=$(objdump -p "$libdir/libsockframe.so" | awk '/SONAME/ {print $2}')
[ "$soname" = libsockframe.so.0 ] || fail "soname is \"$soname\", not libsockframe.so.0"

step "1. a program built with pkg-config, receiving on the $mode path"
export PKG_CONFIG_PATH=$pcdir
for h in "$prefix"/include/sockframe/*.hpp; do  # each declares its API exported from the shared library
  case $h in */sockframe.hpp) continue ;; esac
  grep -q '^#pragma GCC visibility push(default)' "$h" ||
    fail "$(basename "$h") lacks '#pragma GCC visibility push(default)': its functions are hidden in libsockframe.so"
done
for h in "$prefix"/include/sockframe/*.hpp; do  # each installed header compiles on its own
  echo "#include <sockframe/$(basename "$h")>" | g++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -x c++ - \
    $(pkg-config --cflags sockframe) || fail "installed header $(basename "$h") does not compile on its own"
done
g++ -std=c++20 -Wall -Wextra -Werror tests/install/receive_messages.cpp -o "$work/receive_pkgconfig" \
  $(pkg-config --cflags --libs sockframe) -Wl,-rpath,"$libdir"
mkdir "$work/no-compiler"  # PATH without clang: the installed precompiled parser must do
timeout 30 env PATH="$work/no-compiler" SOCKFRAME_CACHE_DIR="$work/cache" "$work/receive_pkgconfig" dns "$mode" \
  | tee "$work/pkgconfig.out"
grep -q "received 20 of 20 messages on the $mode path" "$work/pkgconfig.out" || fail "pkg-config program"
[ "$mode" = userspace ] || grep -q "parser precompiled" "$work/pkgconfig.out" || fail "the installed precompiled parser was not used"
unset PKG_CONFIG_PATH

step "2. the installed CLI serves a shipped protocol by bare name"
"$prefix/bin/sockframe" list >"$work/list.out"
grep -q '^dns  *dns-tcp  *u16be@0 ' "$work/list.out" || { cat "$work/list.out"; fail "sockframe list"; }
"$prefix/bin/sockframe" check dns | grep "^$prefix/share/sockframe/parsers/dns.toml: OK" >/dev/null || fail "sockframe check dns"
port=$((20000 + RANDOM % 20000))
timeout 30 env PATH="$work/no-compiler" SOCKFRAME_CACHE_DIR="$work/cache" \
  "$prefix/bin/sockframe" serve dns --listen "127.0.0.1:$port" --format jsonl --exit-after 2 \
  >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q serving "$work/serve.err" && break; sleep 0.05; done
/usr/bin/python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(b'\x00\x0c' + b'a' * 12 + b'\x00\x0d' + b'b' * 13)
s.close()
PY
wait "$serve_pid" || { cat "$work/serve.err"; fail "serve exited non-zero"; }
serve_pid=
cat "$work/serve.err"
[ "$(grep -c '"len"' "$work/serve.out")" = 2 ] || { cat "$work/serve.out"; fail "serve dns framed $(grep -c '"len"' "$work/serve.out") messages, not 2"; }
if [ "$mode" = kernel ]; then
  grep -q "(kernel path; parser precompiled" "$work/serve.err" || fail "installed serve did not use the precompiled parser"
fi

step "3. man page and bash completion"
MANPATH="$prefix/share/man" man -P cat sockframe 2>/dev/null | grep 'serve DESCRIPTION' >/dev/null || fail "man sockframe"
completion=$prefix/share/bash-completion/completions/sockframe
bash -n "$completion" || fail "bash completion"
complete_words() {  # what the installed completion offers for the words given (the last one being typed)
  PATH="$prefix/bin:$PATH" bash -c 'source /usr/share/bash-completion/bash_completion; source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _sockframe
    printf "%s\n" "${COMPREPLY[@]}"' sh "$completion" "$@"
}
complete_words sockframe se | grep -x serve >/dev/null || fail "completion of subcommands"
complete_words sockframe serve --list | grep -x -- --listen >/dev/null || fail "completion of serve's options"
complete_words sockframe serve --format "" | grep -x jsonl >/dev/null || fail "completion of --format values"
complete_words sockframe serve dn | grep -x dns >/dev/null || fail "completion of shipped description names"

step "4. a meson project with sockframe as a subproject"
mkdir -p "$work/consumer/subprojects"
ln -s "$src" "$work/consumer/subprojects/sockframe"
cp tests/install/receive_messages.cpp "$work/consumer/"
cp tests/install/meson.build.in "$work/consumer/meson.build"
(cd "$work/consumer" && meson setup build >"$work/sub-setup.log" 2>&1) || { cat "$work/sub-setup.log"; fail "subproject setup"; }
ninja -C "$work/consumer/build" >"$work/sub-build.log" 2>&1 || { tail -40 "$work/sub-build.log"; fail "subproject build"; }
timeout 30 "$work/consumer/build/receive_messages" "$src/parsers/dns.toml" userspace | tee "$work/sub.out"
grep -q "received 20 of 20 messages on the userspace path" "$work/sub.out" || fail "subproject program"
echo "install-test: ok"
