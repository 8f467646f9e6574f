#!/usr/bin/env bash
# The README's echo server answers every DNS-framed message with the same bytes,
# including several messages coalesced into one write and one split across writes.
set -euo pipefail
bin=$(readlink -f "$1")
port=$((20000 + RANDOM % 20000))
cd "$SOCKFRAME_SOURCE_DIR"
timeout 30 "$bin" parsers/dns.toml "$port" 2>/tmp/echo-server.$$ &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f /tmp/echo-server.$$' EXIT
/usr/bin/python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        s = socket.create_connection(('127.0.0.1', port)); break
    except OSError:
        time.sleep(0.05)
def msg(n, fill):
    body = bytes([fill]) * n
    return len(body).to_bytes(2, 'big') + body
msgs = [msg(12 + i, 65 + i) for i in range(20)]
s.sendall(b''.join(msgs[:10]))                       # coalesced
for m in msgs[10:]:
    s.sendall(m[:1]); time.sleep(0.002); s.sendall(m[1:])   # split inside the length field
want = b''.join(msgs)
got = b''
s.settimeout(10)
while len(got) < len(want):
    chunk = s.recv(65536)
    if not chunk: break
    got += chunk
assert got == want, f"echo mismatch: {len(got)} of {len(want)} bytes"
print(f"echo ok: {len(msgs)} messages, {len(want)} bytes")
PY
