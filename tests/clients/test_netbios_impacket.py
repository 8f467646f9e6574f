"""NetBIOS session service framed from impacket's NetBIOSTCPSession (python3-impacket):
the connection opens with one SESSION REQUEST (type 0x81) carrying the first-level
encoded called name SERVER<20> and calling name CLIENT<00>: 4 + 68 bytes."""
import harness as h

CODE = r'''
import sys
from impacket import nmb
port = int(sys.argv[1])
nmb.NETBIOS_SESSION_PORT = port  # impacket sends the Session Request only to "port 139"
try:
    nmb.NetBIOSTCPSession("CLIENT", "SERVER", "127.0.0.1", sess_port=port, timeout=3)
except Exception as e:
    print("impacket:", type(e).__name__)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def decode_name(b):
    h.expect(b[0] == 32 and b[33] == 0, "encoded NetBIOS name is 32 bytes + root label")
    raw = bytes(((b[1 + 2 * i] - 0x41) << 4) | (b[2 + 2 * i] - 0x41) for i in range(16))
    return raw[:15].decode().rstrip(), raw[15]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 session packet, got {len(msgs)}")
    m = msgs[0]
    h.expect(m[0] == 0x81 and m[1] == 0, f"type {m[0]:#x} flags {m[1]:#x}: expected SESSION REQUEST")
    h.expect(len(m) == 4 + h.u16be(m, 2) == 72, f"length {len(m)}")
    called, calling = decode_name(m[4:38]), decode_name(m[38:72])
    h.expect(called == ("SERVER", 0x20) and calling == ("CLIENT", 0x00), f"names {called} {calling}")
    return [("SESSION REQUEST", called[0], calling[0], len(m))]


if __name__ == "__main__":
    h.main("netbios-impacket", lambda: h.require_python_module("python3-impacket", "impacket"), "netbios-session",
           client, check, expect_messages=1, client_timeout=4)
