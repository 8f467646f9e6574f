"""Syslog over TCP with octet counting (RFC 6587 §3.4.1) framed from util-linux
logger --octet-count: three lines read from stdin become three "MSG-LEN SP SYSLOG-MSG"
messages on one connection, MSG-LEN counting the RFC 5424 message exactly (no LF)."""
import harness as h

# the second line is longer than 99 bytes so MSG-LEN has 3 digits
LINES = ["first message", "second message, a longer one " + "x" * 100, "third"]


def client(port):
    # stdin stays open 1 s after the last line, as in test_syslog_logger.py
    feed = "printf '%s\\n' " + " ".join(f"'{l}'" for l in LINES) + "; sleep 1"
    return ["bash", "-c", f"{{ {feed}; }} | logger --tcp --octet-count -n 127.0.0.1 -P {port} "
                          f"-t sockframe-test -p user.notice"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == len(LINES), f"expected {len(LINES)} messages, got {len(msgs)}")
    out = []
    for m, text in zip(msgs, LINES):
        s = m.decode()
        digits, sp, body = s.partition(" ")
        h.expect(sp == " " and digits.isdigit(), f"no MSG-LEN SP prefix: {s!r}")
        h.expect(int(digits) == len(body.encode()), f"MSG-LEN {digits} but {len(body.encode())} bytes follow")
        h.expect(body.startswith("<13>1 "), f"not an RFC 5424 user.notice message: {body!r}")
        h.expect(body.endswith(" " + text) and "\n" not in body, f"message {body!r} does not end with {text!r}")
        h.expect(" sockframe-test " in body, f"tag missing in {body!r}")
        out.append(("<13>1", len(digits), text))
    return out


if __name__ == "__main__":
    h.main("syslog-octet-logger", lambda: h.require_program("bsdutils", "logger"), "syslog-octet-counting",
           client, check, client_timeout=5)
