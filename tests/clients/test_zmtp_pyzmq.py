"""ZMTP 3.x framed from libzmq (python3-zmq): a PUSH socket connects and sends three
multipart messages. libzmq sends its greeting in two parts and waits for the peer's between
them, so zmtp_front.py puts a real libzmq PULL socket behind a tee that copies the client's
bytes unchanged to sockframe. The framed messages must be exactly: the 64-byte greeting
(signature, version 3.x, mechanism NULL, as-server 0), the READY command (flags 0x04,
Socket-Type PUSH), then one message per frame with the flags the parts need: MORE on all
but the last part, LONG (8-byte size) only above 255 bytes, sizes 10, 255, 256, 0 and
70000, payloads byte-exact. The PULL socket must have received the same messages."""
import hashlib
import json
import os

import harness as h

MESSAGES = r'''
def messages():
    return [[b"hello zmtp"], [b"a" * 255, b"b" * 256], [b"", bytes((i * 7) & 0xFF for i in range(70000))]]
'''
exec(MESSAGES)

CODE = MESSAGES + r'''
import sys, zmq
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 5000)
push.connect(f"tcp://127.0.0.1:{sys.argv[1]}")
for m in messages():
    push.send_multipart(m)
push.close()  # lingers until every message is written
ctx.term()
print("client: sent", len(messages()), "messages", flush=True)
'''

MORE, LONG, COMMAND = 0x01, 0x02, 0x04


def client(port, after_greeting=False):
    return ([h.SYSTEM_PYTHON, os.path.join(h.HERE, "zmtp_front.py"), str(port)]
            + (["--after-greeting"] if after_greeting else [])
            + ["--", h.SYSTEM_PYTHON, "-c", CODE, "{front}"])


def frame(m):
    """One framed message as exactly one ZMTP frame: (flags, body)."""
    flags = m[0]
    h.expect(flags & ~(MORE | LONG | COMMAND) == 0, f"reserved flag bits set: {flags:#04x}")
    if flags & LONG:
        n, o = int.from_bytes(m[1:9], "big"), 9
        h.expect(n > 255, f"LONG frame of {n} bytes (libzmq uses LONG only above 255)")
    else:
        n, o = m[1], 2
    h.expect(len(m) == o + n, f"frame size {n} disagrees with the framed length {len(m)}")
    return flags, m[o:]


def check_ready(flags, body):
    h.expect(flags == COMMAND, f"READY flags {flags:#04x}")
    h.expect(body[:6] == b"\x05READY", f"first command {body[:8]!r}")
    props, o = {}, 6
    while o < len(body):
        nl = body[o]
        name = body[o + 1:o + 1 + nl].decode()
        vl = h.u32be(body, o + 1 + nl)
        props[name] = body[o + 5 + nl:o + 5 + nl + vl]
        o += 5 + nl + vl
    h.expect(o == len(body), "READY properties overrun the command")
    h.expect(props.get("Socket-Type") == b"PUSH", f"READY properties {props}")
    return sorted(props)


def check_messages(frames, run):
    """frames: (flags, body) after READY; they must be the parts of messages(), in order."""
    want = [(MORE if i < len(m) - 1 else 0) | (LONG if len(p) > 255 else 0) for m in messages()
            for i, p in enumerate(m)]
    parts = [p for m in messages() for p in m]
    h.expect(len(frames) == len(parts), f"expected {len(parts)} message frames, got {len(frames)}")
    for i, ((flags, body), wf, wp) in enumerate(zip(frames, want, parts)):
        h.expect(flags == wf, f"message frame {i}: flags {flags:#04x}, expected {wf:#04x}")
        h.expect(body == wp, f"message frame {i}: {len(body)} bytes differ from the {len(wp)} sent")
    line = next((l for l in run.client_out.splitlines() if l.startswith("zmtp_front: received ")), None)
    h.expect(line is not None, "zmtp_front.py printed nothing about what the PULL socket received")
    got = json.loads(line[len("zmtp_front: received "):])
    h.expect(got == [[[len(p), hashlib.sha256(p).hexdigest()] for p in m] for m in messages()],
             f"the PULL socket received {got}")
    return [(f, len(b)) for f, b in frames]


def check(run):
    run.check_stream_integrity(conns=1)
    h.expect(run.client_rc == 0, f"client (or zmtp_front.py) exited {run.client_rc}")
    msgs = run.payloads()
    h.expect(len(msgs) >= 2, f"expected the greeting and READY at least, got {len(msgs)} messages")
    g = msgs[0]
    h.expect(len(g) == 64 and g[0] == 0xFF and g[9] == 0x7F, f"greeting {g[:12].hex()} ({len(g)} bytes)")
    h.expect(g[10] == 3, f"ZMTP major version {g[10]}")
    h.expect(g[12:32] == b"NULL".ljust(20, b"\0"), f"mechanism {g[12:32]!r}")
    h.expect(g[32] == 0 and g[33:] == bytes(31), "as-server 0 and a zero filler")
    frames = [frame(m) for m in msgs[1:]]
    props = check_ready(*frames[0])
    return [("greeting", f"{g[10]}.{g[11]}", "NULL"), ("READY", props)] + check_messages(frames[1:], run)


if __name__ == "__main__":
    h.main("zmtp-pyzmq", lambda: h.require_python_module("python3-zmq", "zmq"), "zmtp", client, check,
           client_timeout=15)
