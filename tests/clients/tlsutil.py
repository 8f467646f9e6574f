"""Decodes a TLS ClientHello record (RFC 8446 §4.1.2) for the TLS client tests."""
import harness as h


def client_hello(rec):
    h.expect(rec[0] == 22, f"record type {rec[0]}, expected 22 (handshake)")
    h.expect(rec[1] == 3 and rec[2] in (1, 3), f"record version {rec[1]}.{rec[2]}")
    h.expect(len(rec) == 5 + h.u16be(rec, 3), "record length field disagrees with the framed length")
    hs = rec[5:]
    h.expect(hs[0] == 1, f"handshake type {hs[0]}, expected 1 (client_hello)")
    h.expect(h.u24be(hs, 1) == len(hs) - 4, "ClientHello length does not fill the record")
    o = 4 + 2 + 32  # legacy_version, random
    o += 1 + hs[o]  # session id
    o += 2 + h.u16be(hs, o)  # cipher suites
    o += 1 + hs[o]  # compression methods
    ext_end = o + 2 + h.u16be(hs, o)
    h.expect(ext_end == len(hs), "extensions do not end the ClientHello")
    o += 2
    exts, sni = [], None
    while o < ext_end:
        t, n = h.u16be(hs, o), h.u16be(hs, o + 2)
        if t == 0:  # server_name: list len, type 0, name len, name
            sni = hs[o + 4 + 5:o + 4 + n].decode()
        exts.append(t)
        o += 4 + n
    h.expect(o == ext_end, "extension lengths overrun")
    return exts, sni
