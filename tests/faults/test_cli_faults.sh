#!/usr/bin/env bash
# Fault table rows that belong to the CLI (docs/faults.md): no privilege (setpriv to
# nobody), clang missing, no kernel BTF and no bpffs (private mount namespaces),
# --max-connections reached, serve killed and restarted.
# Every step is bounded by `timeout`; exits 77 (SKIP) when not root.
set -u
BIN=${SOCKFRAME_BIN:?}
SRC=${SOCKFRAME_SOURCE_DIR:?}
DNS=$SRC/parsers/dns.toml
if [ "$(id -u)" != 0 ]; then echo "SKIPPED: the CLI fault tests switch users and load BPF: run as root"; exit 77; fi
WORK=$(mktemp -d /tmp/sockframe-cli-faults.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$WORK" "${PIN:-/nonexistent}"; }
trap cleanup EXIT
trap 'cleanup; exit 1' TERM INT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
marks() { dmesg 2>/dev/null | grep -E 'kernel BUG|WARNING: CPU|seq # bug|BUG: |Oops'; }
marks_before=$(marks)

# A DNS query of 14 bytes (length 12 + 12 bytes), one per call; $2 = id byte.
dns_msg() { printf '\x00\x0c\x%02x\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' "$1"; }
# A port no socket holds now (the kernel picks it): a random one collided now and then
# with a port in use, and serve then refused to start (CI, 2 December 2026).
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE PATTERN SECONDS
wait_for() { for _ in $(seq $(( $3 * 20 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# send_msgs PORT N [keep-open-seconds]
send_msgs() {
  timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1; for i in $(seq '"$2"'); do printf "\x00\x0c\x$(printf %02x $i)\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" >&3; done; sleep '"${3:-0.2}"'; exec 3>&-'
}

# --- no privilege: one warning naming the capability, userspace framing works ---
P=$(port)
mkdir -p "$WORK/nobody-cache"; chown nobody "$WORK/nobody-cache"
# nobody may not be able to reach the checkout (e.g. a clone under a 0700 mktemp dir):
# give it its own copies of the binary and the description.
cp "$BIN" "$WORK/sockframe"; cp "$DNS" "$WORK/dns.toml"; chmod 755 "$WORK/sockframe"; chmod 644 "$WORK/dns.toml"
timeout 20 env HOME="$WORK" SOCKFRAME_CACHE_DIR="$WORK/nobody-cache" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
  "$WORK/sockframe" serve "$WORK/dns.toml" --listen 127.0.0.1:$P --format jsonl --exit-after 3 >"$WORK/np.out" 2>"$WORK/np.err" &
PIDS+=($!); NP=$!
check "unprivileged serve starts" "wait_for $WORK/np.err serving 10"
send_msgs $P 3
wait $NP; rc=$?
echo "--- stderr (nobody):"; cat "$WORK/np.err"
check "unprivileged serve exits 0 after 3 messages" "[ $rc = 0 ]"
check "exactly one warning line" "[ \$(grep -c warning $WORK/np.err) = 1 ]"
check "the warning names CAP_BPF and CAP_NET_ADMIN" "grep warning $WORK/np.err | grep -q 'CAP_BPF, CAP_NET_ADMIN'"
check "served on the userspace path" "grep -q '(userspace path' $WORK/np.err"
check "3 messages framed" "[ \$(grep -c '\"len\":14' $WORK/np.out) = 3 ]"
check "first message bytes intact" "grep -q '\"offset\":0,\"len\":14,\"hex\":\"000c010101000001000000000000\"' $WORK/np.out"

# --- clang missing: one warning naming clang, userspace; --require-kernel fails clearly ---
P=$(port)
mkdir -p "$WORK/empty-cache"
timeout 20 env SOCKFRAME_CLANG=/nonexistent SOCKFRAME_CACHE_DIR="$WORK/empty-cache" SOCKFRAME_BPF_OBJECTS_DIR="$WORK/empty-cache" \
  "$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --exit-after 2 >"$WORK/nc.out" 2>"$WORK/nc.err" &
PIDS+=($!); NC=$!
check "serve without clang starts" "wait_for $WORK/nc.err serving 10"
send_msgs $P 2
wait $NC; rc=$?
echo "--- stderr (no clang):"; cat "$WORK/nc.err"
check "serve without clang exits 0" "[ $rc = 0 ]"
check "one warning naming clang" "[ \$(grep -c warning $WORK/nc.err) = 1 ] && grep warning $WORK/nc.err | grep -q clang"
check "framed in userspace" "grep -q '(userspace path' $WORK/nc.err && [ \$(grep -c '\"len\":14' $WORK/nc.out) = 2 ]"
timeout 20 env SOCKFRAME_CLANG=/nonexistent SOCKFRAME_CACHE_DIR="$WORK/empty-cache" SOCKFRAME_BPF_OBJECTS_DIR="$WORK/empty-cache" \
  "$BIN" serve "$DNS" --listen 127.0.0.1:$(port) --require-kernel >"$WORK/rk.out" 2>"$WORK/rk.err"; rc=$?
echo "--- stderr (no clang, --require-kernel):"; cat "$WORK/rk.err"
check "--require-kernel without clang fails (exit != 0, not a timeout)" "[ $rc != 0 ] && [ $rc != 124 ]"
check "--require-kernel error names clang" "grep -q clang $WORK/rk.err"

# --- no kernel BTF: hidden in a private mount namespace (tmpfs over /sys/kernel/btf) ---
P=$(port)
timeout 20 unshare --mount --propagation private sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$@"' sh \
  "$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --exit-after 2 >"$WORK/nb.out" 2>"$WORK/nb.err" &
PIDS+=($!); NB=$!
check "serve without kernel BTF starts" "wait_for $WORK/nb.err serving 10"
send_msgs $P 2
wait $NB; rc=$?
echo "--- stderr (no BTF):"; cat "$WORK/nb.err"
check "serve without BTF exits 0" "[ $rc = 0 ]"
check "one warning naming the missing BTF file" "[ \$(grep -c warning $WORK/nb.err) = 1 ] && grep warning $WORK/nb.err | grep -qF 'kernel BTF (/sys/kernel/btf/vmlinux) is missing'"
check "framed in userspace without BTF" "grep -q '(userspace path' $WORK/nb.err && [ \$(grep -c '\"len\":14' $WORK/nb.out) = 2 ]"
timeout 20 unshare --mount --propagation private sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$@"' sh \
  "$BIN" serve "$DNS" --listen 127.0.0.1:$(port) --require-kernel >"$WORK/nbk.out" 2>"$WORK/nbk.err"; rc=$?
echo "--- stderr (no BTF, --require-kernel):"; cat "$WORK/nbk.err"
check "--require-kernel without BTF fails (exit != 0, not a timeout)" "[ $rc != 0 ] && [ $rc != 124 ]"
check "--require-kernel error names the BTF file" "grep -qF '/sys/kernel/btf/vmlinux' $WORK/nbk.err"
check "BTF still present outside the namespace" "[ -r /sys/kernel/btf/vmlinux ]"

# --- no bpffs: nothing is pinned, so the kernel path works without it ---
P=$(port)
timeout 20 unshare --mount --propagation private sh -c 'umount /sys/fs/bpf 2>/dev/null; mount -t tmpfs none /sys/fs/bpf && exec "$@"' sh \
  "$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --exit-after 2 --require-kernel >"$WORK/nf.out" 2>"$WORK/nf.err" &
PIDS+=($!); NF=$!
check "serve without bpffs starts on the kernel path" "wait_for $WORK/nf.err 'kernel path' 20"
send_msgs $P 2
wait $NF; rc=$?
check "serve without bpffs frames in the kernel and exits 0" "[ $rc = 0 ] && [ \$(grep -c '\"len\":14' $WORK/nf.out) = 2 ]"

# --- --max-connections reached: the extra connection is refused with a clear line ---
P=$(port)
"$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --max-connections 1 >"$WORK/mc.out" 2>"$WORK/mc.err" &
PIDS+=($!); MC=$!   # no `timeout` wrapper: this one is SIGKILLed below (cleanup bounds it)
check "kernel serve starts" "wait_for $WORK/mc.err 'kernel path' 20"
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; sleep 1.5" &
sleep 0.3
send_msgs $P 1
check "second connection refused naming --max-connections 1" "wait_for $WORK/mc.err 'refusing a connection: --max-connections 1 reached' 5"
wait %% 2>/dev/null

# --- serve killed (SIGKILL) under a live connection, then restarted on the same port ---
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; for i in 1 2; do printf '\x00\x0c\x01\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' >&3; done; sleep 0.5; cat <&3 >/dev/null; echo eof > $WORK/kill.client" &
CL=$!
check "messages framed before the kill" "wait_for $WORK/mc.out '\"len\":14' 5"
# An operator pins serve's maps (bpftool, by the ids in serve's fdinfo) before the kill:
# pins keep maps and attached programs, not connections.
PIN=/sys/fs/bpf/sockframe-cli-faults-$$
mkdir -p "$PIN"
for id in $(grep -h '^map_id:' /proc/$MC/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u); do
  name=$(bpftool map show id "$id" | head -1 | sed -n 's/.* name \(sf_[a-z_]*\) .*/\1/p')
  [ -n "$name" ] && bpftool map pin id "$id" "$PIN/$name"
done
entries() { bpftool -j map dump pinned "$PIN/$1" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
check "the live connection is in the pinned sockmap before the kill" "[ \"\$(entries sf_sockets)\" = 1 ]"
kill -9 $MC
wait $CL
check "the client sees the connection end after SIGKILL" "grep -q eof $WORK/kill.client"
check "pinned maps keep no socket of the killed serve" "[ \"\$(entries sf_sockets)\" = 0 ] && [ \"\$(entries sf_targets)\" = 0 ]"
echo "per-connection entries left in the pinned sf_conns after the kill: $(entries sf_conns)"
sleep 0.2
timeout 20 "$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --exit-after 2 >"$WORK/re.out" 2>"$WORK/re.err" &
PIDS+=($!); RE=$!
check "restarted serve starts on the same port" "wait_for $WORK/re.err 'kernel path' 20"
send_msgs $P 2
wait $RE; rc=$?
check "restarted serve frames again" "[ $rc = 0 ] && [ \$(grep -c '\"len\":14' $WORK/re.out) = 2 ]"
rm -rf "$PIN"

# --- a framing error through serve: messages before it, one error line, connection closed ---
P=$(port)
"$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl >"$WORK/fe.out" 2>"$WORK/fe.err" &
PIDS+=($!); FE=$!   # stopped with SIGTERM below; cleanup bounds it
check "kernel serve for the framing error starts" "wait_for $WORK/fe.err 'kernel path' 20"
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; printf '\x00\x0c\x01\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x05\x01\x02\x03\x04\x05' >&3; cat <&3 >/dev/null; echo eof > $WORK/fe.client"
check "the message before the error is printed" "grep -q '\"offset\":0,\"len\":14' $WORK/fe.out"
check "one error line naming rule, value and offset" "grep -qF '{\"conn\":1,\"error\":\"length field gives a 7-byte message, below the minimum 14 at stream offset 14\",\"rule\":\"too_short\",\"offset\":14}' $WORK/fe.out"
check "serve closed the connection (the client saw EOF)" "grep -q eof $WORK/fe.client"
kill -TERM $FE; wait $FE; rc=$?
check "serve exits 0 on SIGTERM" "[ $rc = 0 ]"

# --- --message-timeout: a peer silent inside a message is closed with a `stalled` error ---
P=$(port)
"$BIN" serve "$DNS" --listen 127.0.0.1:$P --format jsonl --message-timeout 300 >"$WORK/mt.out" 2>"$WORK/mt.err" &
PIDS+=($!); MT=$!
check "serve with --message-timeout starts" "wait_for $WORK/mt.err 'kernel path' 20"
# one whole message, then 5 bytes of a 34-byte one, then silence; the client waits for EOF
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P; printf '\x00\x0c\x01\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x20abc' >&3; cat <&3 >/dev/null; echo eof > $WORK/mt.client"
check "the whole message before the stall is printed" "grep -q '\"offset\":0,\"len\":14' $WORK/mt.out"
check "one stalled error line naming the bytes held and the timeout" "grep -qF '{\"conn\":1,\"error\":\"peer stalled: no byte for 300 ms inside a message (5 bytes of it received) at stream offset 14\",\"rule\":\"stalled\",\"offset\":14}' $WORK/mt.out"
check "serve closed the stalled connection (the client saw EOF)" "grep -q eof $WORK/mt.client"
kill -TERM $MT; wait $MT

marks_after=$(marks)
if [ "$marks_after" != "$marks_before" ]; then echo "FAIL: new kernel BUG/WARNING lines in dmesg"; fail=1; fi
exit $fail
