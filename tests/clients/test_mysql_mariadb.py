"""MySQL protocol packets framed from the mariadb command line client (mariadb-client).
The server speaks first, so mysql_front.py greets it and answers; every byte the client
sends is forwarded unchanged to sockframe. The client must send exactly: the
HandshakeResponse41 (sequence 1, user root, mysql_native_password), COM_QUERY "select 1"
(sequence 0), and after the ERR reply COM_QUIT (sequence 0)."""
import os
import struct

import harness as h


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "mysql_front.py"), str(port), "--",
            "mariadb", "-h127.0.0.1", "-P{front}", "--protocol=tcp", "--skip-ssl", "--connect-timeout=5",
            "-uroot", "-psecret", "-e", "select 1"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    for m in msgs:
        h.expect(len(m) == 4 + int.from_bytes(m[:3], "little"), "payload length disagrees with the framed length")
    h.expect(len(msgs) == 3, f"expected 3 packets, got {len(msgs)}")
    resp, query, quit_ = msgs
    caps = struct.unpack_from("<I", resp, 4)[0]
    h.expect(resp[3] == 1 and caps & 0x200 and caps & 0x80000, "HandshakeResponse41: sequence 1, PROTOCOL_41, PLUGIN_AUTH")
    user = resp[4 + 32:resp.index(b"\0", 4 + 32)]
    h.expect(user == b"root" and b"mysql_native_password\0" in resp, f"user {user!r}")
    h.expect(query[3] == 0 and query[4:] == b"\x03select 1", f"COM_QUERY {query!r}")
    h.expect(quit_ == b"\x01\x00\x00\x00\x01", f"COM_QUIT {quit_.hex()}")
    return [("HandshakeResponse41", 1), ("COM_QUERY", 0, "select 1"), ("COM_QUIT", 0)]


if __name__ == "__main__":
    h.main("mysql-mariadb", lambda: h.require_program("mariadb-client", "mariadb"), "mysql", client, check,
           client_timeout=10)
