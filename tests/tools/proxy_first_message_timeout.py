#!/usr/bin/env python3
"""`sockframe proxy --route first-key --first-message-timeout 1` from the command line: a
client that sends half a TLS ClientHello and then nothing is closed after about a second
(before the 10 s default would), and the counters the CLI prints at exit say so:
"first_message_timeouts":1 in jsonl. A client that sends a whole ClientHello in time
reaches its backend. On the userspace path (no privilege needed) and, as root, the
kernel path.
usage: proxy_first_message_timeout.py PATH/TO/sockframe
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

SOCKFRAME = sys.argv[1]
REPLY = b"\x16\x03\x03\x00\x01A"  # a 1-byte handshake record


def hello(name):
    sni = name.encode()
    ext = (0).to_bytes(2, "big") + (len(sni) + 5).to_bytes(2, "big") + (len(sni) + 3).to_bytes(2, "big") + b"\x00"
    ext += len(sni).to_bytes(2, "big") + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + len(ext).to_bytes(2, "big") + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend():
    """Accepts connections and answers each with one TLS record once it has read something
    (replies are framed by the description too)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)

    def answer(c):
        c.settimeout(5)
        try:
            if c.recv(4096):
                c.sendall(REPLY)
        except OSError:
            pass

    def serve():  # a thread per connection: the kernel path connects before the key is known
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return ls


def check(path):
    ls = backend()
    port = free_port()
    argv = [SOCKFRAME, "proxy", "tls-records", "--listen", f"127.0.0.1:{port}", "--route", "first-key",
            "--backend", f"a.example=127.0.0.1:{ls.getsockname()[1]}", "--first-message-timeout", "1",
            "--workers", "1", "--path", path, "--format", "jsonl"]
    if path == "kernel":
        argv.append("--require-kernel")
    proxy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        h = hello("a.example")
        half = socket.create_connection(("127.0.0.1", port), timeout=10)
        half.sendall(h[:20])
        whole = socket.create_connection(("127.0.0.1", port), timeout=10)
        whole.sendall(h)
        got = b""
        while len(got) < len(REPLY):
            chunk = whole.recv(64)
            if not chunk:
                break
            got += chunk
        assert got == REPLY, f"{path}: a whole ClientHello in time did not reach its backend ({got!r})"
        t0 = time.time()
        try:
            got = half.recv(1)
        except ConnectionResetError:
            got = b""
        waited = time.time() - t0
        assert got == b"", f"{path}: the half ClientHello got {got!r} instead of a close"
        assert waited < 5, f"{path}: closed after {waited:.1f} s, not after about 1 s"
        half.close()
        whole.close()
    finally:
        proxy.send_signal(signal.SIGTERM)
        out, err = proxy.communicate(timeout=20)
        ls.close()
    stats = [json.loads(l) for l in out.splitlines() if l.startswith("{") and "first_message_timeouts" in l]
    assert stats, f"{path}: no counters line with first_message_timeouts\n{out}\n{err}"
    assert stats[-1]["first_message_timeouts"] == 1, f"{path}: {stats[-1]}\n{err}"
    print(f"{path}: the half ClientHello was closed after {waited:.1f} s; counters {stats[-1]}")


def main():
    signal.alarm(100)
    paths = ["userspace"] + (["kernel"] if os.geteuid() == 0 else [])
    if os.geteuid() != 0:
        print("note: kernel path not checked (not root)")
    for p in paths:
        check(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
