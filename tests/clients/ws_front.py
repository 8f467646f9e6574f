"""A minimal WebSocket server responder in front of sockframe.

usage: ws_front.py SOCKFRAME_PORT -- CLIENT ARGS...   ({front} in ARGS = the responder's port)

A WebSocket client first sends an HTTP/1.1 Upgrade request and waits for "101 Switching
Protocols" before it sends any frame (RFC 6455 §4.1, §4.2.2). websocket.toml frames what
comes after the handshake, so this responder reads the request head itself (up to the
blank line), checks that it asks for the websocket upgrade (version 13, a 16-byte key),
answers 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), then opens its
connection to sockframe and forwards every byte the client sends after the request head
to sockframe, unchanged and in order. It reads the client's frames with its own minimal
decoder (RFC 6455 §5.2) only to answer: a Ping gets a Pong, a Close gets a Close with
the same status code (§5.5.1), which ends the session. It never writes anything to
sockframe of its own. It prints the request line and the answer it gave.
"""
import base64
import hashlib
import socket
import struct
import sys
import threading

from front import run_client_through

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
done = threading.Event()  # the client ended the session with a Close frame


def split_frame(buf):
    """One whole frame off the front of buf: (opcode, unmasked payload, rest) or None."""
    if len(buf) < 2:
        return None
    n, o = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, o = struct.unpack_from(">H", buf, 2)[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, o = struct.unpack_from(">Q", buf, 2)[0], 10
    key = b""
    if buf[1] & 0x80:
        key, o = buf[o:o + 4], o + 4
    if len(buf) < o + n:
        return None
    payload = buf[o:o + n]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return buf[0] & 0x0F, payload, buf[o + n:]


def server_frame(opcode, payload):
    assert len(payload) <= 125  # control frames only
    return bytes([0x80 | opcode, len(payload)]) + payload


def serve_one(listener, sockframe_port):
    listener.settimeout(20)
    c, _ = listener.accept()
    up = None
    try:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                print("ws_front: the client closed before ending its request head", flush=True)
                return
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        key = fields.get("sec-websocket-key", "")
        ok = (lines[0].startswith("GET ") and lines[0].endswith(" HTTP/1.1")
              and fields.get("upgrade", "").lower() == "websocket"
              and "upgrade" in fields.get("connection", "").lower()
              and fields.get("sec-websocket-version") == "13" and len(base64.b64decode(key)) == 16)
        print(f"ws_front: request {lines[0]!r}, upgrade request {'valid' if ok else 'INVALID'}", flush=True)
        if not ok:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        print("ws_front: answered 101 Switching Protocols", flush=True)
        up = socket.create_connection(("127.0.0.1", sockframe_port))
        frames = buf  # bytes after the request head: frames already
        while True:
            if buf:
                up.sendall(buf)
            while True:
                cut = split_frame(frames)
                if cut is None:
                    break
                opcode, payload, frames = cut
                if opcode == 9:
                    c.sendall(server_frame(10, payload))
                elif opcode == 8:
                    c.sendall(server_frame(8, payload[:2]))
                    print(f"ws_front: Close {payload[:2].hex()} answered", flush=True)
                    done.set()
            buf = c.recv(262144)
            if not buf:
                break
            frames += buf
    finally:
        c.close()
        if up is not None:
            up.close()


def main():
    sockframe_port = int(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    rc = run_client_through(lambda listener: serve_one(listener, sockframe_port), argv)
    sys.exit(rc if rc else (0 if done.is_set() else 1))


if __name__ == "__main__":
    main()
