#!/bin/bash
# `sockframe serve --listen RANGE --workers N` end to end, run inside a private network
# namespace (test_serve_listen.sh makes it): ranges and IPv6 steered to the workers,
# SIGKILL ends the steering, and without privilege a range names the capabilities
# while one address and port is bound plainly. Then `sockframe proxy` with the same
# --listen and --workers: replies checked, both workers used, counters summed.
set -euo pipefail
ip link set lo up
B="$SOCKFRAME_BIN"
out=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

client() {  # client ADDRESS PORT... : one DNS-over-TCP query per port, 3 s timeout each
    python3 - "$@" <<'PY'
import socket, struct, sys
host = sys.argv[1]
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
for port in sys.argv[2:]:
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(3); s.connect((host, int(port)))
    q = struct.pack('>H', int(port)) + b'\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01'
    s.sendall(struct.pack('>H', len(q)) + q); s.close()
PY
}

wait_for_line() {  # wait_for_line FILE TEXT
    for _ in $(seq 100); do grep -qF "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "timed out waiting for '$2' in $1:"; cat "$1"; return 1
}

echo "== a range and IPv6, two workers: every query answered, on its port"
timeout 30 "$B" serve dns --listen 127.0.0.1:7000-7999 --listen '[::1]:7000' --workers 2 --userspace \
    --exit-after 5 --format jsonl >"$out/range.jsonl" 2>"$out/range.err" &
serve=$!
wait_for_line "$out/range.err" "sk_lookup, 2 workers"
client 127.0.0.1 7000 7321 7999 7500
client ::1 7000
wait $serve
# The query id is the port it was sent to: 7000=1b58 7321=1c99 7999=1f3f 7500=1d4c.
for id in 1b58 1c99 1f3f 1d4c; do grep -q "\"hex\":\"0021${id}" "$out/range.jsonl" || { echo "no query for id $id"; cat "$out/range.jsonl"; exit 1; }; done
test "$(grep -c '"hex"' "$out/range.jsonl")" = 5

echo "== SIGKILL: the steering goes with the process; the range refuses"
"$B" serve dns --listen 127.0.0.1:7000-7999 --userspace >/dev/null 2>"$out/kill.err" &
serve=$!
wait_for_line "$out/kill.err" "sk_lookup"
client 127.0.0.1 7777
kill -9 $serve; wait $serve 2>/dev/null || true
if client 127.0.0.1 7777 2>/dev/null; then echo "port 7777 still answered after SIGKILL"; exit 1; fi

echo "== a second instance overlapping the first is refused, naming it"
"$B" serve dns --listen 127.0.0.1:7000-7999 --userspace >/dev/null 2>"$out/first.err" &
first=$!
wait_for_line "$out/first.err" "sk_lookup"
if timeout 20 "$B" serve dns --listen 127.0.0.0/8:7500-8500 --userspace 2>"$out/second.err"; then echo "overlap accepted"; exit 1; fi
grep -q "pid $first (sockframe)" "$out/second.err" || { cat "$out/second.err"; exit 1; }
kill -9 $first; wait $first 2>/dev/null || true

echo "== another program detaches the link: serve warns, the range refuses"
"$B" serve dns --listen 127.0.0.1:7000-7999 --userspace >/dev/null 2>"$out/detach.err" &
serve=$!
wait_for_line "$out/detach.err" "sk_lookup"
ns=$(stat -L -c %i /proc/self/ns/net)
link=$(bpftool -j link show | python3 -c '
import json, sys
ns = int(sys.argv[1])
print(*[l["id"] for l in json.load(sys.stdin) if l.get("type") == "netns" and l.get("netns_ino") == ns])' "$ns")
test -n "$link" || { echo "no netns link found"; bpftool link show; exit 1; }
bpftool link detach id "$link"
wait_for_line "$out/detach.err" "was detached from the network namespace by another program"
if client 127.0.0.1 7777 2>/dev/null; then echo "port 7777 still answered after the detach"; exit 1; fi
kill $serve; wait $serve

echo "== proxy: a range and IPv6, two workers: every reply correct, both workers used, counters summed"
python3 - <<'PY' &
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", 6999)); l.listen(64)
def echo(c):  # every byte back: each whole query returns as a whole reply
    while (b := c.recv(65536)): c.sendall(b)
    c.close()
while True:
    c, _ = l.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
backend=$!
timeout 60 "$B" proxy dns --listen 127.0.0.1:7000-7999 --listen '[::1]:7000' --workers 2 --userspace \
    --backend 127.0.0.1:6999 --route connection --format jsonl >"$out/proxy.jsonl" 2>"$out/proxy.err" &
proxy=$!
wait_for_line "$out/proxy.err" "sk_lookup, 2 workers"
python3 - <<'PY'
import random, socket, struct
random.seed(13)
targets = [("127.0.0.1", random.randint(7000, 7999)) for _ in range(40)] + [("::1", 7000)]
for host, port in targets:
    s = socket.create_connection((host, port), timeout=3)
    q = struct.pack('>H', port) + b'\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01'
    m = struct.pack('>H', len(q)) + q
    s.sendall(m)
    got = b''
    while len(got) < len(m):
        b = s.recv(4096)
        assert b, f"{host}:{port}: connection closed after {len(got)} bytes"
        got += b
    assert got == m, f"{host}:{port}: wrong reply {got!r}"
    s.close()
for port in (6998, 8000):  # outside the range: untouched, nothing listens there
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3); raise SystemExit(f"port {port} answered")
    except ConnectionRefusedError:
        pass
PY
kill $proxy; wait $proxy
kill $backend; wait $backend 2>/dev/null || true
python3 - "$out/proxy.jsonl" <<'PY' || { cat "$out/proxy.err" "$out/proxy.jsonl"; exit 1; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
totals = next(l for l in lines if "clients" in l)
per_worker = next(l for l in lines if "worker_clients" in l)["worker_clients"]
backend = next(l for l in lines if "backend" in l)
assert totals["clients"] == 41 and sum(per_worker) == 41, (totals, per_worker)
assert len(per_worker) == 2 and min(per_worker) > 0, per_worker  # the 4-tuple hash used both workers
assert backend["messages"] == 41 and backend["replies"] == 41, backend
PY

echo "== proxy: another program detaches the link: the proxy warns"
"$B" proxy dns --listen 127.0.0.1:7000-7999 --workers 2 --userspace --backend 127.0.0.1:6999 \
    >/dev/null 2>"$out/pdetach.err" &
proxy=$!
wait_for_line "$out/pdetach.err" "sk_lookup"
link=$(bpftool -j link show | python3 -c '
import json, sys
ns = int(sys.argv[1])
print(*[l["id"] for l in json.load(sys.stdin) if l.get("type") == "netns" and l.get("netns_ino") == ns])' "$ns")
bpftool link detach id "$link"
wait_for_line "$out/pdetach.err" "was detached from the network namespace by another program"
kill $proxy; wait $proxy

echo "== no privilege: a range names the capabilities; one address and port is bound plainly"
nocaps=(setpriv --bounding-set=-all --inh-caps=-all)
if timeout 20 "${nocaps[@]}" "$B" serve dns --listen 127.0.0.1:7000-7999 2>"$out/nopriv.err"; then
    echo "range served without privilege?"; exit 1
fi
grep -q "CAP_BPF" "$out/nopriv.err" && grep -q "CAP_NET_ADMIN" "$out/nopriv.err" || { cat "$out/nopriv.err"; exit 1; }
timeout 30 "${nocaps[@]}" "$B" serve dns --listen 127.0.0.1:7001 --workers 2 --exit-after 1 --format jsonl \
    >"$out/plain.jsonl" 2>"$out/plain.err" &
serve=$!
wait_for_line "$out/plain.err" "SO_REUSEPORT, 2 workers"
client 127.0.0.1 7001
wait $serve
grep -q '"hex":"00211b59' "$out/plain.jsonl" || { cat "$out/plain.err" "$out/plain.jsonl"; exit 1; }
# The proxy has the same fallbacks: a range names the capabilities, one address and port
# is an SO_REUSEPORT group of its workers.
if timeout 20 "${nocaps[@]}" "$B" proxy dns --listen 127.0.0.1:7000-7999 --userspace --backend 127.0.0.1:6999 \
    2>"$out/pnopriv.err"; then
    echo "proxy range without privilege?"; exit 1
fi
grep -q "CAP_BPF" "$out/pnopriv.err" && grep -q "CAP_NET_ADMIN" "$out/pnopriv.err" || { cat "$out/pnopriv.err"; exit 1; }
timeout 30 "${nocaps[@]}" "$B" proxy dns --listen 127.0.0.1:7002 --workers 2 --userspace --backend 127.0.0.1:6999 \
    >/dev/null 2>"$out/pplain.err" &
proxy=$!
wait_for_line "$out/pplain.err" "127.0.0.1:7002 (SO_REUSEPORT, 2 workers) (port 7002)"
kill $proxy; wait $proxy
echo "all passed"
