#!/usr/bin/env bash
# Installs everything sockframe needs on Debian 12 (build, tests, demo, real
# protocol clients) and mounts bpffs. Safe to run again.
set -euo pipefail

packages=(
  # build
  g++ meson ninja-build pkg-config cmake clang llvm clang-format
  libbpf-dev bpftool libelf-dev zlib1g-dev doctest-dev libtomlplusplus-dev
  liburing-dev  # optional: the userspace path's io_uring engine (meson -Dio_uring=disabled builds without)
  # tests and tools
  iproute2 procps util-linux gnuplot-nox libclang-rt-14-dev
  # real protocol clients (tests/clients)
  bind9-dnsutils
  # library: Asio adapter, man page and completion checks, Debian packaging (issue 12)
  libasio-dev man-db bash-completion dpkg-dev debhelper fakeroot
)
if [ -f "$(dirname "$0")/client-packages.txt" ]; then
  mapfile -t extra < <(grep -v '^#' "$(dirname "$0")/client-packages.txt" | tr -s ' ' '\n' | sed '/^$/d')
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs is not required by the kernel path, but bpftool and pinning want it.
if [ "$(id -u)" -eq 0 ] && ! mount | grep -q ' /sys/fs/bpf '; then
  mount -t bpf bpf /sys/fs/bpf || echo "setup: could not mount bpffs (not needed to run sockframe)"
fi
echo "setup: ok"
