"""A minimal MySQL/MariaDB server responder in front of sockframe.

usage: mysql_front.py SOCKFRAME_PORT -- CLIENT ARGS...   ({front} in ARGS = the responder's port)

In the MySQL protocol the server speaks first (Initial Handshake) and the client waits for
an answer to every packet, which `sockframe serve` does not give. This responder accepts the
client, opens a connection to sockframe, forwards every byte the client sends to sockframe
unchanged and in order, and answers the client itself: a HandshakeV10 greeting offering
mysql_native_password without TLS, OK to the handshake response, ERR 1064 to COM_QUERY,
OK to anything else; COM_QUIT ends the session. It never writes anything to sockframe of
its own. (MySQL Client/Server Protocol: Connection Phase, Generic Response Packets.)
"""
import socket
import struct
import sys
import threading

from front import run_client_through

CAPS = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0200 | 0x2000 | 0x8000 | 0x20000 | 0x80000


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def greeting():
    p = b"\x0a" + b"5.7.99-sockframe-test\0" + struct.pack("<I", 7) + b"abcdefgh" + b"\0"
    p += struct.pack("<H", CAPS & 0xFFFF) + b"\x21" + struct.pack("<H", 2) + struct.pack("<H", CAPS >> 16)
    p += bytes([21]) + bytes(10) + b"ijklmnopqrst\0" + b"mysql_native_password\0"
    return packet(0, p)


OK = b"\x00\x00\x00\x02\x00\x00\x00"
ERR = b"\xff" + struct.pack("<H", 1064) + b"#42000" + b"sockframe test responder: no queries here"


done = threading.Event()  # the client ended the session with COM_QUIT


def serve_one(listener, sockframe_port):
    listener.settimeout(20)
    c, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", sockframe_port))
    c.sendall(greeting())
    buf, first = b"", True
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            up.sendall(chunk)
            buf += chunk
            while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:3], "little"):
                n, seq = int.from_bytes(buf[:3], "little"), buf[3]
                payload, buf = buf[4:4 + n], buf[4 + n:]
                if first:
                    first = False
                    c.sendall(packet(seq + 1, OK))
                elif payload[:1] == b"\x01":  # COM_QUIT
                    done.set()
                    return
                elif payload[:1] == b"\x03":  # COM_QUERY
                    c.sendall(packet(seq + 1, ERR))
                else:
                    c.sendall(packet(seq + 1, OK))
    finally:
        c.close()
        up.close()


def main():
    sockframe_port = int(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    rc = run_client_through(lambda listener: serve_one(listener, sockframe_port), argv)
    # The client exits 1 after the ERR reply to its query; a session it closed with
    # COM_QUIT ran to completion, so report success.
    sys.exit(0 if done.is_set() else (rc or 1))


if __name__ == "__main__":
    main()
