"""TLS records framed from `openssl s_client`: the first flight is one handshake record
holding a ClientHello with the requested SNI; nothing else is sent before the server answers."""
import harness as h
import tlsutil


def client(port):
    return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "sockframe.test"]


def check(run):
    run.check_stream_integrity(conns=1)
    recs = run.payloads()
    h.expect(len(recs) == 1, f"expected exactly 1 TLS record, got {len(recs)}")
    exts, sni = tlsutil.client_hello(recs[0])
    h.expect(sni == "sockframe.test", f"SNI {sni!r}")
    h.expect(43 in exts and 51 in exts, "TLS 1.3 ClientHello needs supported_versions and key_share")
    return [("handshake", "client_hello", len(recs[0]))]


if __name__ == "__main__":
    h.main("tls-openssl", lambda: h.require_program("openssl", "openssl"), "tls-records", client, check,
           expect_messages=1, client_timeout=4, client_input=b"")
