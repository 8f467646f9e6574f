"""ZMTP 3.x frames after the greeting (zmtp-frames.toml) from libzmq (python3-zmq): the same
PUSH client and real PULL peer as test_zmtp_pyzmq.py, but zmtp_front.py --after-greeting
keeps the client's 64-byte greeting from sockframe, so the stream sockframe frames starts at
the READY command. The framed messages must be exactly READY (flags 0x04, Socket-Type PUSH)
and the five message frames with their MORE/LONG flags and byte-exact bodies."""
import harness as h
import test_zmtp_pyzmq as z


def client(port):
    return z.client(port, after_greeting=True)


def check(run):
    run.check_stream_integrity(conns=1)
    h.expect(run.client_rc == 0, f"client (or zmtp_front.py) exited {run.client_rc}")
    msgs = run.payloads()
    h.expect(msgs and msgs[0][:1] == b"\x04", f"the first frame is not a command: {msgs[:1]}")
    frames = [z.frame(m) for m in msgs]
    props = z.check_ready(*frames[0])
    return [("READY", props)] + z.check_messages(frames[1:], run)


if __name__ == "__main__":
    h.main("zmtp-frames-pyzmq", lambda: h.require_python_module("python3-zmq", "zmq"), "zmtp-frames", client, check,
           client_timeout=15)
