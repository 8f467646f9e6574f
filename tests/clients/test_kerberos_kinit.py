"""Kerberos over TCP framed from MIT kinit (krb5-user): with udp_preference_limit = 1 the
AS-REQ goes over TCP, 4-byte length then a DER [APPLICATION 10] AS-REQ naming the realm."""
import os
import tempfile

import harness as h

WORK = tempfile.mkdtemp(prefix="sockframe-krb5-")


def client(port):
    conf = os.path.join(WORK, f"krb5-{port}.conf")
    with open(conf, "w") as f:
        f.write("[libdefaults]\n  default_realm = SOCKFRAME.TEST\n  udp_preference_limit = 1\n"
                "  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
                f"[realms]\n  SOCKFRAME.TEST = {{\n    kdc = 127.0.0.1:{port}\n  }}\n")
    return ["env", f"KRB5_CONFIG={conf}", f"KRB5CCNAME=FILE:{WORK}/cc", "kinit", "user@SOCKFRAME.TEST"]


def der_len(b, o):
    if b[o] < 0x80:
        return b[o], o + 1
    n = b[o] & 0x7F
    return int.from_bytes(b[o + 1:o + 1 + n], "big"), o + 1 + n


def check(run):
    run.check_stream_integrity()
    for c in run.conns():
        msgs = run.payloads(c)
        h.expect(len(msgs) == 1, f"conn {c}: expected exactly 1 message, got {len(msgs)}")
        m = msgs[0]
        h.expect(h.u32be(m, 0) == len(m) - 4, "length prefix disagrees with the framed length")
        h.expect(m[4] == 0x6A, f"tag {m[4]:#x}: expected [APPLICATION 10] AS-REQ")
        n, o = der_len(m, 5)
        h.expect(o + n == len(m), "DER length does not fill the message")
        h.expect(b"SOCKFRAME.TEST" in m and b"user" in m, "realm / client name missing")
    return [("AS-REQ", "SOCKFRAME.TEST")]


if __name__ == "__main__":
    h.main("kerberos-kinit", lambda: h.require_program("krb5-user", "kinit"), "kerberos-tcp", client, check,
           expect_messages=1, client_timeout=4, client_input=b"")
