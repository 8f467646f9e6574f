"""Decodes a PROXY protocol v2 header (haproxy doc/proxy-protocol.txt §2.2) for the
HAProxy send-proxy-v2 tests."""
import socket

import harness as h

SIGNATURE = b"\r\n\r\n\0\r\nQUIT\n"
PP2_TYPE_CRC32C, PP2_TYPE_UNIQUE_ID = 0x03, 0x05


def crc32c(data):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as PP2_TYPE_CRC32C uses."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def header(m, frontend_port):
    """Checks a v2 PROXY header for a TCP over IPv4 connection from loopback to HAProxy's
    frontend (127.0.0.1:frontend_port); returns (source port, {TLV type: value}). A CRC32C
    TLV must hold the CRC-32C of the whole header with its own value zeroed (§2.2.5)."""
    h.expect(m[:12] == SIGNATURE, f"PROXY v2 signature {m[:12].hex()}")
    h.expect(m[12] == 0x21, f"version/command {m[12]:#04x}, expected 0x21 (v2, PROXY)")
    h.expect(m[13] == 0x11, f"family/transport {m[13]:#04x}, expected 0x11 (AF_INET, STREAM)")
    n = h.u16be(m, 14)
    h.expect(len(m) == 16 + n, f"header length {n} disagrees with the framed length {len(m)}")
    h.expect(n >= 12, f"{n} bytes cannot hold the IPv4 addresses")
    src, dst = socket.inet_ntoa(m[16:20]), socket.inet_ntoa(m[20:24])
    sport, dport = h.u16be(m, 24), h.u16be(m, 26)
    h.expect((src, dst) == ("127.0.0.1", "127.0.0.1"), f"addresses {src} -> {dst}")
    h.expect(dport == frontend_port, f"destination port {dport}, HAProxy's frontend is {frontend_port}")
    h.expect(sport not in (0, dport), f"source port {sport}")
    tlvs, o = {}, 28
    while o < len(m):
        h.expect(o + 3 <= len(m), "truncated TLV")
        t, vl = m[o], h.u16be(m, o + 1)
        h.expect(t not in tlvs, f"TLV {t:#04x} twice")
        tlvs[t] = (o + 3, m[o + 3:o + 3 + vl])
        o += 3 + vl
    h.expect(o == len(m), "TLV lengths overrun the header")
    if PP2_TYPE_CRC32C in tlvs:
        at, value = tlvs[PP2_TYPE_CRC32C]
        h.expect(len(value) == 4, f"CRC32C TLV of {len(value)} bytes")
        zeroed = m[:at] + bytes(4) + m[at + 4:]
        h.expect(int.from_bytes(value, "big") == crc32c(zeroed),
                 f"CRC32C {value.hex()} is not the header's ({crc32c(zeroed):08x})")
    return sport, {t: v for t, (_, v) in tlvs.items()}


def frontend_port(run):
    line = next((l for l in run.client_out.splitlines() if l.startswith("haproxy_front: frontend ")), None)
    h.expect(line is not None, "haproxy_front.py did not report HAProxy's frontend")
    return int(line.rsplit(":", 1)[1])
