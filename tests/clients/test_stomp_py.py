"""STOMP framed from stomp.py (python3-stomp): without waiting for CONNECTED the client
sends STOMP (the 1.1 CONNECT), SEND with a text body, SUBSCRIBE and UNSUBSCRIBE, each
ending with a NUL octet."""
import harness as h

CODE = r'''
import sys, time, stomp
c = stomp.Connection([("127.0.0.1", int(sys.argv[1]))], reconnect_attempts_max=1, heartbeats=(0, 0))
c.connect("guest", "guest", wait=False)
c.send(destination="/queue/sockframe", body="hello stomp", content_type="text/plain")
c.subscribe(destination="/queue/sockframe", id="1", ack="auto")
c.unsubscribe(id="1")
time.sleep(2)
'''


def client(port):
    return [h.SYSTEM_PYTHON, "-c", CODE, str(port)]


def frame(m):
    h.expect(m.endswith(b"\0") and m.count(b"\0") == 1, "a frame ends with its only NUL")
    head, _, body = m[:-1].partition(b"\n\n")
    lines = head.decode().split("\n")
    headers = dict(l.split(":", 1) for l in lines[1:])
    return lines[0], headers, body


def check(run):
    run.check_stream_integrity(conns=1)
    frames = [frame(m) for m in run.payloads()]
    cmds = [f[0] for f in frames]
    h.expect(cmds == ["STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE"], f"commands {cmds}")
    h.expect(frames[0][1].get("login") == "guest" and "accept-version" in frames[0][1], "CONNECT headers")
    h.expect(frames[1][2] == b"hello stomp" and frames[1][1].get("content-length") == "11", "SEND body")
    h.expect(frames[2][1].get("destination") == "/queue/sockframe" and frames[2][1].get("id") == "1", "SUBSCRIBE")
    return [(f[0], sorted(f[1]), len(f[2])) for f in frames]


if __name__ == "__main__":
    h.main("stomp-py", lambda: h.require_python_module("python3-stomp", "stomp"), "stomp", client, check,
           expect_messages=4, client_timeout=5)
