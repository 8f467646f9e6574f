"""SMTP command lines framed from swaks. swaks waits for the 220 greeting and for each
reply, so smtp_front.py answers it and forwards its bytes unchanged to sockframe: the
framed lines are exactly swaks's dialogue, DATA content line by line, then QUIT."""
import os

import harness as h

DATA = "Subject: sockframe\\nX-Test: 1\\n\\nhello smtp"


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "smtp_front.py"), str(port), "--",
            "swaks", "--server", "127.0.0.1:{front}", "--helo", "client.sockframe.test",
            "--from", "a@sockframe.test", "--to", "b@sockframe.test", "--data", DATA, "--timeout", "5"]


WANT = ["EHLO client.sockframe.test", "MAIL FROM:<a@sockframe.test>", "RCPT TO:<b@sockframe.test>", "DATA",
        "Subject: sockframe", "X-Test: 1", "", "hello smtp", ".", "QUIT"]


def check(run):
    run.check_stream_integrity(conns=1)
    lines = [m.decode() for m in run.payloads()]
    h.expect(all(l.endswith("\r\n") for l in lines), "every message ends with CRLF")
    h.expect([l[:-2] for l in lines] == WANT, f"lines {lines}")
    return [l[:-2] for l in lines]


if __name__ == "__main__":
    h.main("smtp-swaks", lambda: h.require_program("swaks", "swaks"), "smtp-commands", client, check,
           client_timeout=10)
