"""WebSocket frames framed from websocket-client (python3-websocket). The client sends the
HTTP/1.1 Upgrade and waits for 101, so ws_front.py answers the handshake and forwards every
byte after the request head unchanged to sockframe (websocket.toml frames what follows the
Upgrade). The client then sends text and binary frames whose payload lengths cover each
length form of RFC 6455 §5.2: 7-bit (0, 15, 125), 16-bit after 126 (126, 65535 and a
multi-byte UTF-8 text), 64-bit after 127 (65536, 70000); a Ping (answered with a Pong it
checks) and a Close with status 1000 (answered with a Close). Every frame is masked, as
client frames must be (§5.3). Each framed message must be exactly one frame: FIN set,
the opcode sent, the shortest length form, and after unmasking the payload sent."""
import os

import harness as h

FRAMES = r'''
def frames():
    """(opcode, payload bytes) in the order sent: 1 = text, 2 = binary."""
    out = [(1, b"hello websocket"), (1, b"")]
    for n in (125, 126, 65535, 65536):
        out.append((2, bytes((i * 31 + n) & 0xFF for i in range(n))))
    out.append((1, ("h\u00e9llo w\u00f6rld \u20ac " * 20).encode()))
    out.append((1, ("sockframe " * 7000).encode()))
    return out
'''
exec(FRAMES)

CODE = FRAMES + r'''
import sys, websocket
ws = websocket.create_connection(f"ws://127.0.0.1:{sys.argv[1]}/sockframe", timeout=10)
for op, p in frames():
    ws.send(p.decode() if op == 1 else p, opcode=op)
ws.ping(b"ping?")
op, data = ws.recv_data(control_frame=True)
print("client: got", op, data, flush=True)
assert (op, data) == (websocket.ABNF.OPCODE_PONG, b"ping?"), (op, data)
ws.close(status=1000, timeout=5)
print("client: closed", flush=True)
'''

PING, CLOSE = 9, 8


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "ws_front.py"), str(port), "--",
            h.SYSTEM_PYTHON, "-c", CODE, "{front}"]


def unmask(payload, key):
    k = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big")


def frame(m):
    """Decodes one framed message as exactly one client frame: (opcode, length form, payload)."""
    h.expect(m[0] & 0xF0 == 0x80, f"FIN set and RSV clear expected: byte 0 = {m[0]:#04x}")
    h.expect(m[1] & 0x80, "client frame not masked")
    n, o = m[1] & 0x7F, 2
    form = 7
    if n == 126:
        n, o, form = h.u16be(m, 2), 4, 16
        h.expect(n >= 126, f"16-bit length {n} should have used the 7-bit form")
    elif n == 127:
        n, o, form = int.from_bytes(m[2:10], "big"), 10, 64
        h.expect(n >= 65536, f"64-bit length {n} should have used a shorter form")
    key = m[o:o + 4]
    h.expect(len(m) == o + 4 + n, f"payload length {n} disagrees with the framed length {len(m)}")
    return m[0] & 0x0F, form, unmask(m[o + 4:], key)


def check(run):
    run.check_stream_integrity(conns=1)
    h.expect(run.client_rc == 0, f"client (or ws_front.py) exited {run.client_rc}")
    h.expect("answered 101 Switching Protocols" in run.client_out, "ws_front.py did not answer the Upgrade")
    h.expect("client: closed" in run.client_out, "the client did not finish its session")
    got = [frame(m) for m in run.payloads()]
    want = frames() + [(PING, b"ping?"), (CLOSE, (1000).to_bytes(2, "big"))]
    h.expect(len(got) == len(want), f"expected {len(want)} frames, got {len(got)}: "
                                    f"{[(op, len(p)) for op, _, p in got]}")
    for i, ((op, form, p), (wop, wp)) in enumerate(zip(got, want)):
        h.expect(op == wop, f"frame {i}: opcode {op}, sent {wop}")
        h.expect(p == wp, f"frame {i}: payload ({len(p)} bytes) differs from what was sent ({len(wp)} bytes)")
    forms = [f for _, f, _ in got]
    h.expect({7, 16, 64} <= set(forms), f"length forms seen: {forms}")
    return [(op, form, len(p)) for op, form, p in got]


if __name__ == "__main__":
    h.main("websocket-client", lambda: h.require_python_module("python3-websocket", "websocket"), "websocket",
           client, check, client_timeout=15)
