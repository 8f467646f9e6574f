"""LDAP framed from a whole ldapsearch session (ldap-utils). The server's BindResponse and
SearchResultDone come from reply_front.py; every byte the client sends is forwarded
unchanged to sockframe. ldapsearch must send exactly three LDAPMessages (tag 0x30,
RFC 4511 §4.1.1): a simple BindRequest whose 300-byte DN makes the BER length take the
two-byte long form 0x82 nn nn (X.690 §8.1.3.5), a SearchRequest (messageID 2, base dc=x,
equality filter cn=someone, attributes cn and mail) with a short-form length, and the
7-byte UnbindRequest (messageID 3, [APPLICATION 2] NULL)."""
import os

import harness as h

BIND_DN = "cn=" + "a" * 300 + ",dc=x"


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "reply_front.py"), "ldap", str(port), "--",
            "ldapsearch", "-x", "-H", "ldap://127.0.0.1:{front}", "-D", BIND_DN, "-w", "secret",
            "-o", "nettimeout=3", "-b", "dc=x", "(cn=someone)", "cn", "mail"]


def tlv(m, o):
    tag, l = m[o], m[o + 1]
    o += 2
    if l & 0x80:
        n = l & 0x7F
        l = int.from_bytes(m[o:o + n], "big")
        o += n
    return tag, o, o + l


def children(m, start, end):
    out = []
    while start < end:
        tag, s, e = tlv(m, start)
        out.append((tag, m[s:e]))
        start = e
    return out


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 3, f"expected BindRequest, SearchRequest, UnbindRequest, got {len(msgs)} messages")
    out = []
    for i, m in enumerate(msgs, 1):
        tag, s, e = tlv(m, 0)
        h.expect(tag == 0x30 and e == len(m), f"message {i}: tag {tag:#04x}, BER length ends at {e} of {len(m)}")
        (idtag, msgid), (op, body) = children(m, s, e)[:2]
        h.expect(idtag == 0x02 and msgid == bytes([i]), f"message {i}: messageID {msgid!r}")
        out.append((op, m[1], len(m)))
    bind, search, unbind = msgs
    h.expect(bind[1] == 0x82 and out[0][0] == 0x60, f"BindRequest with a 0x82 length: {bind[:4].hex()}")
    _, s, e = tlv(bind, 7)
    h.expect(children(bind, s, e) == [(0x02, b"\x03"), (0x04, BIND_DN.encode()), (0x80, b"secret")],
             "BindRequest fields")
    h.expect(search[1] < 0x80 and out[1][0] == 0x63, f"SearchRequest with a short-form length: {search[:6].hex()}")
    _, s, e = tlv(search, 5)
    fields = children(search, s, e)
    h.expect(fields[0] == (0x04, b"dc=x") and fields[6] == (0xA3, b"\x04\x02cn\x04\x07someone"),
             f"SearchRequest base/filter {fields}")
    h.expect(unbind == b"\x30\x05\x02\x01\x03\x42\x00", f"UnbindRequest {unbind.hex()}")
    h.expect(run.client_rc == 0, f"ldapsearch exited {run.client_rc}")
    return out


if __name__ == "__main__":
    h.main("ldap-ldapsearch-session", lambda: h.require_program("ldap-utils", "ldapsearch"), "ldap", client, check,
           client_timeout=10)
