"""PROXY protocol v2 header, then SMTP command lines (proxy-v2-smtp.toml), from HAProxy
(haproxy) with "send-proxy-v2" in front of sockframe: swaks talks to smtp_front.py, which
answers it as in test_smtp_swaks.py and forwards its bytes unchanged through HAProxy
(haproxy_front.py runs it) to sockframe. The framed messages must be exactly: the PROXY v2
header (signature, v2 PROXY command, TCP over IPv4, 127.0.0.1 -> 127.0.0.1 at HAProxy's
frontend port, 28 bytes: no TLV without proxy-v2-options), then swaks's
dialogue line by line, each ending with CRLF: EHLO, MAIL, RCPT, DATA, the message, ".",
QUIT."""
import os

import harness as h
import proxyutil
import test_smtp_swaks as smtp


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "haproxy_front.py"), str(port), "--",
            h.SYSTEM_PYTHON, os.path.join(h.HERE, "smtp_front.py"), "{haproxy}", "--",
            "swaks", "--server", "127.0.0.1:{front}", "--helo", "client.sockframe.test",
            "--from", "a@sockframe.test", "--to", "b@sockframe.test", "--data", smtp.DATA, "--timeout", "5"]


def check(run):
    run.check_stream_integrity(conns=1)
    h.expect(run.client_rc == 0, f"swaks (through smtp_front.py and haproxy_front.py) exited {run.client_rc}")
    msgs = run.payloads()
    h.expect(len(msgs) >= 1, "nothing framed")
    _, tlvs = proxyutil.header(msgs[0], proxyutil.frontend_port(run))
    h.expect(not tlvs and len(msgs[0]) == 28, f"HAProxy's plain send-proxy-v2 adds no TLV: {tlvs}")
    lines = [m.decode() for m in msgs[1:]]
    h.expect(all(l.endswith("\r\n") and "\r\n" not in l[:-2] for l in lines), "every line ends with its only CRLF")
    h.expect([l[:-2] for l in lines] == smtp.WANT, f"lines {lines}")
    return [("PROXY v2", len(msgs[0]))] + [l[:-2] for l in lines]


if __name__ == "__main__":
    def requires():
        h.require_program("haproxy", "haproxy")
        h.require_program("swaks", "swaks")

    h.main("proxy-v2-smtp-haproxy", requires, "proxy-v2-smtp", client, check, client_timeout=10)
