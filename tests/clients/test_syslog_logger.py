"""Syslog over TCP (non-transparent framing, LF) framed from util-linux logger: three
lines read from stdin become three RFC 5424 messages on one connection, each ending in LF."""
import harness as h

LINES = ["first message", "second message, a longer one", "third"]


def client(port):
    # stdin stays open 1 s after the last line, so logger keeps the connection a moment
    # (see test_thrift_framed.py on the accept/close race of the kernel path).
    feed = "printf '%s\\n' " + " ".join(f"'{l}'" for l in LINES) + "; sleep 1"
    return ["bash", "-c", f"{{ {feed}; }} | logger --tcp -n 127.0.0.1 -P {port} -t sockframe-test -p user.notice"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == len(LINES), f"expected {len(LINES)} messages, got {len(msgs)}")
    out = []
    for m, text in zip(msgs, LINES):
        s = m.decode()
        h.expect(s.startswith("<13>1 "), f"not an RFC 5424 user.notice message: {s!r}")
        h.expect(s.endswith(text + "\n") and s.count("\n") == 1, f"message {s!r} does not end with {text!r} LF")
        h.expect(" sockframe-test " in s, f"tag missing in {s!r}")
        out.append(("<13>1", text))
    return out


if __name__ == "__main__":
    h.main("syslog-logger", lambda: h.require_program("bsdutils", "logger"), "syslog-lf", client, check,
           client_timeout=5)
