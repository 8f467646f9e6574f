"""AMQP 0-9-1 framed from a whole amqp-publish session (amqp-tools, rabbitmq-c). The
broker's side (Connection.Start, Tune, Open-Ok, Channel.Open-Ok, the Close-Oks) comes from
reply_front.py; every byte the client sends is forwarded unchanged to sockframe. The
client must send exactly: the protocol header (the description's preface), then frames
each ending in 0xCE (checked as the trailer): Connection.Start-Ok, Tune-Ok, Open,
Channel.Open, Basic.Publish, the content header, the body "hello", Channel.Close and
Connection.Close (AMQP 0-9-1 §4.2.3 frame format, §4.2.6 content framing)."""
import os
import struct

import harness as h

WANT = [(1, 0, (10, 11)), (1, 0, (10, 31)), (1, 0, (10, 40)), (1, 1, (20, 10)), (1, 1, (60, 40)),
        (2, 1, None), (3, 1, None), (1, 1, (20, 40)), (1, 0, (10, 50))]


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "reply_front.py"), "amqp", str(port), "--",
            "amqp-publish", "--server", "127.0.0.1", "--port", "{front}", "-r", "key", "-b", "hello"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1 + len(WANT), f"expected the protocol header and {len(WANT)} frames, got {len(msgs)}")
    h.expect(msgs[0] == b"AMQP\x00\x00\x09\x01", f"protocol header {msgs[0]!r}")
    out = [("protocol-header", 8)]
    for m, (wtype, wch, wmeth) in zip(msgs[1:], WANT):
        ftype, ch, size = struct.unpack_from(">BHI", m)
        h.expect(len(m) == 8 + size and m[-1] == 0xCE, f"frame {m[:7].hex()}: size {size}, {len(m)} bytes, "
                                                       f"end {m[-1]:#04x}")
        meth = struct.unpack_from(">HH", m, 7) if ftype == 1 else None
        h.expect((ftype, ch, meth) == (wtype, wch, wmeth), f"frame {(ftype, ch, meth)}, expected {(wtype, wch, wmeth)}")
        out.append((ftype, ch, meth))
    h.expect(msgs[7][7:-1] == b"hello", f"body frame {msgs[7]!r}")
    h.expect(run.client_rc == 0, f"amqp-publish exited {run.client_rc}")
    return out


if __name__ == "__main__":
    h.main("amqp-publish-session", lambda: h.require_program("amqp-tools", "amqp-publish"), "amqp-0-9-1", client,
           check, client_timeout=10)
