"""TLS records framed from gnutls-cli (gnutls-bin): one handshake record with a ClientHello."""
import harness as h
import tlsutil


def client(port):
    return ["gnutls-cli", "--insecure", "-p", str(port), "--sni-hostname", "sockframe.test", "127.0.0.1"]


def check(run):
    run.check_stream_integrity(conns=1)
    recs = run.payloads()
    h.expect(len(recs) == 1, f"expected exactly 1 TLS record, got {len(recs)}")
    exts, sni = tlsutil.client_hello(recs[0])
    h.expect(sni == "sockframe.test", f"SNI {sni!r}")
    return [("handshake", "client_hello", len(recs[0]))]


if __name__ == "__main__":
    h.main("tls-gnutls", lambda: h.require_program("gnutls-bin", "gnutls-cli"), "tls-records", client, check,
           expect_messages=1, client_timeout=4, client_input=b"")
