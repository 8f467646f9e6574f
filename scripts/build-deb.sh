#!/usr/bin/env bash
# Builds the Debian packages (library, -dev, CLI) from a copy of this tree with
# `dpkg-buildpackage -us -uc -b`, then, as root, installs them, runs the installed
# `sockframe list` and `sockframe check dns`, and removes them again.
# usage: scripts/build-deb.sh [OUTDIR]   (the .debs are kept in OUTDIR, default build-deb/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
work=$(mktemp -d /tmp/sockframe-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
version=$(sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
start=$(date +%s)

mkdir "$work/sockframe-$version"
git ls-files -co --exclude-standard -z | grep -zv '^subprojects/[^/]*/' | tar --null -T - -cf - | tar -xf - -C "$work/sockframe-$version"
(cd "$work/sockframe-$version" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
  tail -60 "$work/build.log"; echo "build-deb: dpkg-buildpackage FAILED"; exit 1; }
mkdir -p "$out"
cp "$work"/*.deb "$out"/
built=$(date +%s)
echo "build-deb: built in $((built - start)) s:"
ls -1 "$out"/*.deb

if [ "$(id -u)" -ne 0 ]; then
  echo "build-deb: not root, not installing them"
  exit 0
fi
debs=("$out"/libsockframe0_"$version"_*.deb "$out"/libsockframe-dev_"$version"_*.deb "$out"/sockframe_"$version"_*.deb)
already=$(dpkg-query -W -f='${Status}' sockframe 2>/dev/null | grep -c "install ok installed" || true)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >"$work/install.log" 2>&1 || {
  cat "$work/install.log"; echo "build-deb: installing the packages FAILED"; exit 1; }
rc=0
/usr/bin/sockframe list >"$work/list.out" || rc=1
grep -q '^dns  *dns-tcp ' "$work/list.out" || { echo "build-deb: installed sockframe list lacks dns"; rc=1; }
/usr/bin/sockframe check dns | grep '^/usr/share/sockframe/parsers/dns.toml: OK' >/dev/null || { echo "build-deb: sockframe check dns"; rc=1; }
man -w sockframe >/dev/null || { echo "build-deb: no man page"; rc=1; }
pkg-config --exists sockframe || { echo "build-deb: no pkg-config file"; rc=1; }
# The kernel path from the package's precompiled parser, with no compiler on PATH.
port=$((20000 + RANDOM % 20000))
timeout 20 env PATH=/nonexistent SOCKFRAME_CACHE_DIR="$work/cache" /usr/bin/sockframe serve dns --require-kernel \
  --listen "127.0.0.1:$port" --format jsonl --exit-after 1 >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q serving "$work/serve.err" && break; sleep 0.05; done
/usr/bin/python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"\x00\x0c"+b"q"*12); s.close()' "$port"
wait $pid || { cat "$work/serve.err"; echo "build-deb: installed serve dns --require-kernel failed"; rc=1; }
grep -q "kernel path; parser precompiled" "$work/serve.err" || { cat "$work/serve.err"; echo "build-deb: not served from the precompiled parser"; rc=1; }
grep -q '"len":14' "$work/serve.out" || { echo "build-deb: the message was not framed"; rc=1; }
cat "$work/serve.err"
head -5 "$work/list.out"
if [ "$already" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sockframe libsockframe-dev libsockframe0 >/dev/null 2>&1 || true
fi
[ $rc = 0 ] && echo "build-deb: ok (built, installed, ran; $(( $(date +%s) - start )) s in all)"
exit $rc
