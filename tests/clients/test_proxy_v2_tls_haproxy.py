"""PROXY protocol v2 header, then TLS records (proxy-v2-tls.toml), from HAProxy (haproxy)
with "send-proxy-v2" and "proxy-v2-options crc32c,unique-id" in front of sockframe and
`openssl s_client` connecting through it (haproxy_front.py --tlvs runs HAProxy). The framed
messages must be exactly: the PROXY v2 header (signature, v2 PROXY command, TCP over IPv4,
127.0.0.1 -> 127.0.0.1 at HAProxy's frontend port, its length field covering the addresses
and two TLVs: a CRC32C that matches the header, and the unique ID
"sockframe-test-<s_client's port>"), then one handshake record
holding the ClientHello with the requested SNI, which HAProxy forwarded unchanged.
s_client then waits for the ServerHello, which never comes: the harness stops it."""
import os

import harness as h
import proxyutil
import tlsutil


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "haproxy_front.py"), str(port), "--tlvs", "--",
            "openssl", "s_client", "-connect", "127.0.0.1:{haproxy}", "-servername", "sockframe.test"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 2, f"expected the PROXY v2 header and 1 TLS record, got {len(msgs)} messages")
    sport, tlvs = proxyutil.header(msgs[0], proxyutil.frontend_port(run))
    h.expect(sorted(tlvs) == [proxyutil.PP2_TYPE_CRC32C, proxyutil.PP2_TYPE_UNIQUE_ID], f"TLVs {tlvs}")
    h.expect(tlvs[proxyutil.PP2_TYPE_UNIQUE_ID] == f"sockframe-test-{sport}".encode(),
             f"unique ID {tlvs[proxyutil.PP2_TYPE_UNIQUE_ID]!r}")
    exts, sni = tlsutil.client_hello(msgs[1])
    h.expect(sni == "sockframe.test", f"SNI {sni!r}")
    h.expect(43 in exts and 51 in exts, "TLS 1.3 ClientHello needs supported_versions and key_share")
    return [("PROXY v2", len(msgs[0]), sorted(tlvs)), ("handshake", "client_hello", len(msgs[1]))]


if __name__ == "__main__":
    def requires():
        h.require_program("haproxy", "haproxy")
        h.require_program("openssl", "openssl")

    h.main("proxy-v2-tls-haproxy", requires, "proxy-v2-tls", client, check,
           expect_messages=2, client_timeout=6, client_input=b"")
