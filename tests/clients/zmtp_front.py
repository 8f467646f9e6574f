"""A real ZeroMQ peer in front of sockframe, with a tee: for ZMTP clients (libzmq), which
need a peer that answers the greeting and the handshake.

usage: zmtp_front.py SOCKFRAME_PORT [--after-greeting] -- CLIENT ARGS...
       ({front} in ARGS = the port the client connects to)

The answering peer is libzmq itself: a PULL socket (pyzmq, python3-zmq) bound to a loopback
port. The client connects to the tee instead; the tee connects to the PULL socket and to
sockframe, copies every byte the client sends to both, unchanged and in order, and copies
the PULL socket's bytes (its greeting and READY) back to the client. So libzmq on both ends
does the whole ZMTP 3.x exchange (greeting in two parts, NULL mechanism READY commands,
message frames) and sockframe sees exactly the client's half of it. With --after-greeting
the first 64 bytes (the client's greeting) go to the PULL socket only, not to sockframe:
zmtp-frames.toml frames from the first frame after the greeting.
After the client exits and its connection has ended, the front prints, as one line
"zmtp_front: received [...]", every multipart message the PULL socket received, each as
a list of [size, sha256 hex] per part, so the test can check that the real peer got what
sockframe framed.
"""
import hashlib
import json
import socket
import subprocess
import sys
import threading

import zmq

GREETING = 64


def pump(src, dsts, skip=0):
    """Copies src to every dst until EOF (the first `skip` bytes to dsts[0] only), then
    half-closes them."""
    try:
        while True:
            chunk = src.recv(262144)
            if not chunk:
                break
            for i, d in enumerate(dsts):
                if i > 0 and skip:
                    cut = min(skip, len(chunk))
                    if cut < len(chunk):
                        d.sendall(chunk[cut:])
                    continue
                d.sendall(chunk)
            skip -= min(skip, len(chunk))
    except OSError:
        pass
    for d in dsts:
        try:
            d.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def tee(listener, zmq_port, sockframe_port, skip, ended):
    listener.settimeout(20)
    c, _ = listener.accept()
    peer = socket.create_connection(("127.0.0.1", zmq_port))
    up = socket.create_connection(("127.0.0.1", sockframe_port))
    back = threading.Thread(target=pump, args=(peer, [c]), daemon=True)
    back.start()
    pump(c, [peer, up], skip)
    up.close()
    back.join(5)
    c.close()
    peer.close()
    ended.set()


def main():
    sockframe_port = int(sys.argv[1])
    skip = GREETING if "--after-greeting" in sys.argv[:sys.argv.index("--")] else 0
    argv = sys.argv[sys.argv.index("--") + 1:]
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    zmq_port = pull.bind_to_random_port("tcp://127.0.0.1")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    front = listener.getsockname()[1]
    ended = threading.Event()
    t = threading.Thread(target=tee, args=(listener, zmq_port, sockframe_port, skip, ended), daemon=True)
    t.start()
    rc = subprocess.call([a.replace("{front}", str(front)) for a in argv], timeout=20)
    ended.wait(5)
    received = []
    while pull.poll(300):  # what the peer got: the tee forwarded it all before the client's EOF
        received.append([[len(p), hashlib.sha256(p).hexdigest()] for p in pull.recv_multipart()])
    print("zmtp_front: received " + json.dumps(received), flush=True)
    pull.close()
    ctx.term()
    sys.exit(rc if rc else (0 if ended.is_set() else 1))


if __name__ == "__main__":
    main()
