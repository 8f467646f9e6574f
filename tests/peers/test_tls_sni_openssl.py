"""TLS by server name (issue 16): openssl s_client -servername -> sockframe proxy
(tls-records, --route first-key, --backend a.example=… --backend b.example=…) -> two
openssl s_server, each with its own self-signed certificate (made here by openssl req).

Through the proxy:
  - s_client -servername a.example gets the certificate of backend A (CN=a.example), and
    b.example that of backend B, in any letter case of the name;
  - a ClientHello sent in two TCP segments (Python's ssl over a memory BIO: the first
    40 bytes, a pause, then the rest, with TCP_NODELAY) still reaches the backend its
    server name names, and the handshake completes with that backend's certificate;
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


def direct():
    for tag, cn in (("A", "a.example"), ("B", "b.example")):
        got, out = s_client(state["port" + tag], cn)
        p.expect(got == cn, f"s_client straight to s_server {tag}: subject {got}\n{out}")
        p.expect(split_hello(state["port" + tag], cn) == state["fp" + tag], f"split ClientHello to {tag}")
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
        got, out = s_client(proxy.port, "c.example")
        p.expect(got is None, f"-servername c.example (no backend, no default) got a certificate: {got}")
        proxy.stop()
    return seen


if __name__ == "__main__":
    p.main("tls-sni-openssl", requires, direct, through)
