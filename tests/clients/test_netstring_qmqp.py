"""Netstrings framed from nullmailer's QMQP client (/usr/lib/nullmailer/qmqp, package
nullmailer). A QMQP request is one netstring whose content is the message as a netstring,
then the sender and each recipient as netstrings (QMQP, cr.yp.to/proto/qmqp.html;
netstrings, cr.yp.to/proto/netstrings.txt). The body holds ':' and ',' and is over 999
bytes, so the outer length has 4 digits. The client then waits for the server's
response netstring: the harness stops it."""
import os
import re
import tempfile

import harness as h

BODY = "Subject: netstring test\n\n" + "a line with : and , in it\n" * 60
RCPTS = ["one@example.org", "two@example.org"]


MAIL = tempfile.NamedTemporaryFile("w", prefix="sockframe-qmqp-", delete=False)
MAIL.write("sender@example.org\n" + "".join(r + "\n" for r in RCPTS) + "\n" + BODY)
MAIL.close()


def client(port):
    # nullmailer 2.x protocol modules read their options from stdin and the mail from fd 3
    return ["bash", "-c", f"printf 'host=127.0.0.1\\nport={port}\\n' | /usr/lib/nullmailer/qmqp 3< {MAIL.name}"]


def netstrings(b):
    out, o = [], 0
    while o < len(b):
        m = re.match(rb"(0|[1-9][0-9]*):", b[o:])
        h.expect(m is not None, f"no netstring length at {o}: {b[o:o + 20]!r}")
        n, start = int(m.group(1)), o + m.end()
        h.expect(b[start + n:start + n + 1] == b",", f"netstring at {o} does not end with ','")
        out.append(b[start:start + n])
        o = start + n + 1
    return out


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 netstring (the QMQP request), got {len(msgs)}")
    (outer,) = netstrings(msgs[0])
    h.expect(msgs[0].startswith(f"{len(outer)}:".encode()) and len(str(len(outer))) == 4,
             f"outer length {msgs[0][:6]!r}")
    inner = netstrings(outer)
    h.expect(inner == [BODY.encode(), b"sender@example.org"] + [r.encode() for r in RCPTS],
             f"QMQP fields {[i[:30] for i in inner]}")
    return [("netstring", len(outer), len(inner))]


if __name__ == "__main__":
    try:
        h.main("netstring-qmqp", lambda: h.require_program("nullmailer", "/usr/lib/nullmailer/qmqp"), "netstring",
               client, check, expect_messages=1, client_timeout=5)
    finally:
        os.unlink(MAIL.name)
