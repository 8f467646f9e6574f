"""TLS by server name (issue 16): openssl s_client -servername -> sockframe proxy
(tls-records, --route first-key, --backend a.example=… --backend b.example=…) -> two
openssl s_server, each with its own self-signed certificate (made here by openssl req).

Through the proxy:
  - s_client -servername a.example gets the certificate of backend A (CN=a.example), and
    b.example that of backend B, in any letter case of the name;
  - a ClientHello sent in two TCP segments (Python's ssl over a memory BIO: the first
    40 bytes, a pause, then the rest, with TCP_NODELAY) still reaches the backend its
    server name names, and the handshake completes with that backend's certificate;
  - gnutls-cli --sni-hostname gets the same certificates as s_client;
  - a large ClientHello (a 3000-byte padding extension, the size post-quantum key shares
    give; written 1000 bytes at a time) reaches the backend its name names: a hand-made
    TLS 1.2 ClientHello, the server's Certificate message read in clear;
  - a ClientHello fragmented over two TLS records (RFC 8446 5.1; the server name in the
    second) has no key (docs/proxy.md): with no default backend the connection is closed
    without an answer, while s_server itself answers it (the direct leg);
  - a name with no backend and no default gets no certificate (the connection is closed)."""
import hashlib
import os
import socket
import ssl
import time

import peers as p

state = {}


def make_cert(d, cn):
    key, crt = os.path.join(d, cn + ".key"), os.path.join(d, cn + ".crt")
    p.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={cn}"], what="openssl req")
    with open(crt) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return key, crt, hashlib.sha256(der).hexdigest()


def start_s_server(d, cn):
    key, crt, fp = make_cert(d, cn)
    port = p.free_port()
    argv = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", crt, "-key", key, "-www", "-quiet"]
    return p.server(argv, f"s_server {cn}", port), port, fp


def requires():
    p.require("openssl", "openssl")
    p.require("gnutls-bin", "gnutls-cli")
    d = p.workdir()
    for tag, cn in (("A", "a.example"), ("B", "b.example")):
        state[tag], state["port" + tag], state["fp" + tag] = start_s_server(d, cn)


def s_client(port, name):
    out = p.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name], timeout=15,
                input=b"", check=False, what="openssl s_client")
    subject = [l.strip() for l in out.splitlines() if l.startswith("subject=")]
    return subject[0].split("CN = ", 1)[1] if subject else None, out


def split_hello(port, name, first=40):
    """A TLS handshake whose ClientHello goes out as two TCP segments; returns the SHA-256
    of the server certificate's DER."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=name)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello_sent = False
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            data = out.read()
            if data and not hello_sent:
                p.expect(len(data) > first, f"ClientHello of {len(data)} bytes")
                s.sendall(data[:first])
                time.sleep(0.1)
                s.sendall(data[first:])
                hello_sent = True
            elif data:
                s.sendall(data)
            if done:
                return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
            chunk = s.recv(65536)
            p.expect(chunk, "the connection closed during the handshake")
            inc.write(chunk)


def gnutls_cli(port, name):
    out = p.run(["gnutls-cli", "--insecure", "--sni-hostname", name, "-p", str(port), "127.0.0.1"], timeout=15,
                input=b"", check=False, what="gnutls-cli")
    subject = [l for l in out.splitlines() if "subject `CN=" in l]
    return subject[0].split("CN=", 1)[1].split("'", 1)[0] if subject else None, out


def u16(n):
    return n.to_bytes(2, "big")


def handshake_hello(name, pad):
    """A TLS 1.2 ClientHello handshake message s_server (P-256 ECDSA key) accepts:
    ECDHE-ECDSA-AES128-GCM-SHA256, secp256r1, and a padding extension of `pad` bytes."""
    sni = name.encode()
    ext = u16(0) + u16(len(sni) + 5) + u16(len(sni) + 3) + b"\x00" + u16(len(sni)) + sni
    ext += u16(10) + u16(4) + u16(2) + u16(23)  # supported_groups: secp256r1
    ext += u16(11) + u16(2) + b"\x01\x00"  # ec_point_formats: uncompressed
    ext += u16(13) + u16(4) + u16(2) + u16(0x0403)  # signature_algorithms: ecdsa_secp256r1_sha256
    ext += u16(21) + u16(pad) + bytes(pad)  # padding (RFC 7685)
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + u16(2) + u16(0xC02B) + b"\x01\x00" + u16(len(ext)) + ext
    return b"\x01" + len(body).to_bytes(3, "big") + body


def record(payload):
    return b"\x16\x03\x01" + u16(len(payload)) + payload


def certificate_of_reply(sock):
    """SHA-256 of the first certificate in the server's TLS 1.2 Certificate message (sent
    in clear), or None when the connection closes first."""
    data, hs = b"", b""
    while True:
        while len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
            n = int.from_bytes(data[3:5], "big")
            if data[0] == 22:
                hs += data[5:5 + n]
            data = data[5 + n:]
        while len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            n = int.from_bytes(hs[1:4], "big")
            if hs[0] == 11:  # Certificate: list length, then the first certificate's length and DER
                first = int.from_bytes(hs[7:10], "big")
                return hashlib.sha256(hs[10:10 + first]).hexdigest()
            hs = hs[4 + n:]
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk


def raw_hello(port, writes, pause=0.05):
    """Sends the given byte strings as separate writes; returns certificate_of_reply()."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for w in writes:
            s.sendall(w)
            time.sleep(pause)
        return certificate_of_reply(s)


def big_hello(name):
    rec = record(handshake_hello(name, 3000))
    p.expect(len(rec) > 3000, "the large ClientHello is large")
    return [rec[i:i + 1000] for i in range(0, len(rec), 1000)]


def two_record_hello(name):
    hs = handshake_hello(name, 0)
    return [record(hs[:60]) + record(hs[60:])]  # the server name lies in the second record


def direct():
    for tag, cn in (("A", "a.example"), ("B", "b.example")):
        got, out = s_client(state["port" + tag], cn)
        p.expect(got == cn, f"s_client straight to s_server {tag}: subject {got}\n{out}")
        p.expect(split_hello(state["port" + tag], cn) == state["fp" + tag], f"split ClientHello to {tag}")
        got, out = gnutls_cli(state["port" + tag], cn)
        p.expect(got == cn, f"gnutls-cli straight to s_server {tag}: subject {got}\n{out}")
        p.expect(raw_hello(state["port" + tag], big_hello(cn)) == state["fp" + tag], f"large ClientHello to {tag}")
        p.expect(raw_hello(state["port" + tag], two_record_hello(cn)) == state["fp" + tag],
                 f"s_server {tag} did not answer a ClientHello over two records")
    p.expect(state["fpA"] != state["fpB"], "the two certificates are the same")


def through(path):
    backends = [f"a.example=127.0.0.1:{state['portA']}", f"b.example=127.0.0.1:{state['portB']}"]
    with p.Proxy("tls-records", backends, path, route="first-key") as proxy:
        seen = {}
        for name in ("a.example", "b.example", "A.Example", "B.EXAMPLE"):
            got, out = s_client(proxy.port, name)
            p.expect(got == name.lower(), f"-servername {name} got the certificate of {got}\n{out}\n{proxy.log()}")
            seen[name] = got
        for tag, cn in (("A", "a.example"), ("B", "b.example")):
            fp = split_hello(proxy.port, cn)
            p.expect(fp == state["fp" + tag], f"a ClientHello in two segments for {cn} reached the other backend")
            seen["split " + cn] = cn
        for tag, cn in (("A", "a.example"), ("B", "b.example")):
            got, out = gnutls_cli(proxy.port, cn)
            p.expect(got == cn, f"gnutls-cli --sni-hostname {cn} got the certificate of {got}\n{out}\n{proxy.log()}")
            seen["gnutls " + cn] = got
            fp = raw_hello(proxy.port, big_hello(cn))
            p.expect(fp == state["fp" + tag], f"a 3 KB ClientHello for {cn} did not reach its backend\n{proxy.log()}")
            seen["large " + cn] = cn
            fp = raw_hello(proxy.port, two_record_hello(cn))
            p.expect(fp is None, f"a ClientHello over two records for {cn} was answered (it has no key)")
        got, out = s_client(proxy.port, "c.example")
        p.expect(got is None, f"-servername c.example (no backend, no default) got a certificate: {got}")
        proxy.stop()
    return seen


if __name__ == "__main__":
    p.main("tls-sni-openssl", requires, direct, through)
