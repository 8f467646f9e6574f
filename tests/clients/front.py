"""The part every *_front.py shares around its protocol: listen on a free loopback
port, serve the one client connection in a thread, run the real client with
"{front}" in its arguments replaced by that port, then give the thread time to end."""
import socket
import subprocess
import threading


def run_client_through(serve, argv, client_timeout=20, join=5):
    """serve(listener) handles the connection; returns the client's exit code."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    front = listener.getsockname()[1]
    t = threading.Thread(target=serve, args=(listener,), daemon=True)
    t.start()
    rc = subprocess.call([a.replace("{front}", str(front)) for a in argv], timeout=client_timeout)
    t.join(join)
    return rc
