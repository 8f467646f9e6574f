"""SMB over direct TCP framed from smbclient (Samba): the first message on the
connection is an SMB2 NEGOTIATE request (0x00, 24-bit length, then 0xFE 'SMB', a
64-byte header with command 0) listing the dialects; nothing else before the reply."""
import struct

import harness as h


def client(port):
    return ["smbclient", "-L", "127.0.0.1", "-p", str(port), "-N", "-t", "3"]


def negotiate(m):
    h.expect(m[0] == 0 and len(m) == 4 + h.u24be(m, 1), "direct TCP header disagrees with the framed length")
    smb = m[4:]
    h.expect(smb[:4] == b"\xfeSMB", f"not SMB2: {smb[:4].hex()}")
    size, _, _, command = struct.unpack_from("<HHIH", smb, 4)
    h.expect((size, command) == (64, 0), f"StructureSize {size}, Command {command}: expected NEGOTIATE")
    nsize, count = struct.unpack_from("<HH", smb, 64)
    h.expect(nsize == 36, f"NEGOTIATE StructureSize {nsize}")
    dialects = struct.unpack_from(f"<{count}H", smb, 64 + 36)
    return dialects


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 message, got {len(msgs)}")
        dialects = negotiate(msgs[0])
        h.expect(0x0202 in dialects and 0x0311 in dialects, f"dialects {[hex(d) for d in dialects]}")
    return [("SMB2 NEGOTIATE", len(dialects), len(msgs[0]))]


if __name__ == "__main__":
    h.main("smb-smbclient", lambda: h.require_program("smbclient", "smbclient"), "smb-direct-tcp", client, check,
           expect_messages=1, client_timeout=4)
