"""memcached binary protocol framed from memccp --binary (libmemcached-tools): one SET
request (magic 0x80, opcode 0x01) carrying the file name as key and its content as value."""
import os
import tempfile

import harness as h

WORK = tempfile.mkdtemp(prefix="sockframe-memccp-")
KEY = "sockframe-key"
VALUE = b"hello from memccp\n" * 3
with open(os.path.join(WORK, KEY), "wb") as f:
    f.write(VALUE)


def client(port):
    return ["memccp", "--binary", f"--servers=127.0.0.1:{port}", os.path.join(WORK, KEY)]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 packet, got {len(msgs)}")
    m = msgs[0]
    magic, op, klen, elen, body = m[0], m[1], h.u16be(m, 2), m[4], h.u32be(m, 8)
    h.expect((magic, op) == (0x80, 0x01), f"magic/opcode {magic:#x}/{op:#x}, expected request SET")
    h.expect(len(m) == 24 + body and body == elen + klen + len(VALUE), "total body length mismatch")
    h.expect(elen == 8, f"SET carries 8 bytes of extras (flags, expiration), got {elen}")
    h.expect(m[24 + elen:24 + elen + klen].decode() == KEY, "key")
    h.expect(m[24 + elen + klen:] == VALUE, "value")
    return [("SET", KEY, len(m))]


if __name__ == "__main__":
    h.main("memcached-memccp", lambda: h.require_program("libmemcached-tools", "memccp"), "memcached-binary",
           client, check, expect_messages=1, client_timeout=4)
