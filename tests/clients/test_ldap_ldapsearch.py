"""LDAP framed from ldapsearch (ldap-utils): with -x the client first sends a simple
BindRequest in an LDAPMessage (SEQUENCE, tag 0x30; messageID 1; [APPLICATION 0], version 3,
the bind DN, the password as [0]). A bind DN over 127 bytes makes the BER length take its
long form 0x81 nn (X.690 §8.1.3.5). ldapsearch then waits for the BindResponse: the harness
stops it."""
import harness as h

BIND_DN = "cn=" + "a" * 150 + ",dc=x"


def client(port):
    return ["ldapsearch", "-x", "-H", f"ldap://127.0.0.1:{port}", "-D", BIND_DN, "-w", "secret",
            "-o", "nettimeout=3", "-b", "dc=x"]


def tlv(m, o):
    """(tag, value start, value end) of the BER TLV at o (definite length)."""
    tag, l = m[o], m[o + 1]
    o += 2
    if l & 0x80:
        n = l & 0x7F
        l = int.from_bytes(m[o:o + n], "big")
        o += n
    return tag, o, o + l


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 LDAPMessage (BindRequest), got {len(msgs)}")
    m = msgs[0]
    tag, start, end = tlv(m, 0)
    h.expect(tag == 0x30, f"not a SEQUENCE: tag {tag:#04x}")
    h.expect(m[1] == 0x81, f"expected the long-form length 0x81 nn, got {m[1]:#04x}")
    h.expect(end == len(m), f"BER length ends at {end}, framed length {len(m)}")
    tag, s, e = tlv(m, start)
    h.expect(tag == 0x02 and int.from_bytes(m[s:e], "big") == 1, "messageID is not INTEGER 1")
    tag, s, e = tlv(m, e)
    h.expect(tag == 0x60 and e == end, f"protocolOp is not a BindRequest filling the message: tag {tag:#04x}")
    tag, s2, e2 = tlv(m, s)
    h.expect(tag == 0x02 and m[s2:e2] == b"\x03", "version is not 3")
    tag, s2, e2 = tlv(m, e2)
    h.expect(tag == 0x04 and m[s2:e2] == BIND_DN.encode(), f"bind DN {m[s2:e2]!r}")
    tag, s2, e2 = tlv(m, e2)
    h.expect(tag == 0x80 and m[s2:e2] == b"secret", f"simple credentials {tag:#04x} {m[s2:e2]!r}")
    return [("LDAPMessage", 1, "BindRequest", len(m))]


if __name__ == "__main__":
    h.main("ldap-ldapsearch", lambda: h.require_program("ldap-utils", "ldapsearch"), "ldap", client, check,
           expect_messages=1, client_timeout=5)
