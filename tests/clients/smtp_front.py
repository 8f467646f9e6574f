"""A minimal SMTP responder in front of sockframe, for clients that need server replies.

usage: smtp_front.py SOCKFRAME_PORT -- CLIENT ARGS...   ({front} in ARGS = the responder's port)

SMTP clients wait for the server's 220 greeting and for a reply to every command, which
`sockframe serve` does not give. This responder accepts the client, opens a connection to
sockframe, forwards every byte the client sends to sockframe unchanged and in the order
received, and answers the client itself with the smallest valid replies (RFC 5321 §4.2).
It never writes anything to sockframe of its own.
"""
import socket
import sys

from front import run_client_through

REPLIES = {b"EHLO": b"250 sockframe.test\r\n", b"HELO": b"250 sockframe.test\r\n", b"MAIL": b"250 OK\r\n",
           b"RCPT": b"250 OK\r\n", b"RSET": b"250 OK\r\n", b"NOOP": b"250 OK\r\n", b"DATA": b"354 go ahead\r\n",
           b"QUIT": b"221 bye\r\n"}


def serve_one(listener, sockframe_port):
    listener.settimeout(20)
    c, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", sockframe_port))
    c.sendall(b"220 sockframe.test ESMTP\r\n")
    buf, in_data = b"", False
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            up.sendall(chunk)
            buf += chunk
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                if in_data:
                    if line == b".":
                        in_data = False
                        c.sendall(b"250 queued\r\n")
                    continue
                verb = line[:4].upper()
                c.sendall(REPLIES.get(verb, b"502 not implemented\r\n"))
                if verb == b"DATA":
                    in_data = True
                if verb == b"QUIT":
                    return
    finally:
        c.close()
        up.close()


def main():
    sockframe_port = int(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    rc = run_client_through(lambda listener: serve_one(listener, sockframe_port), argv)
    sys.exit(rc)


if __name__ == "__main__":
    main()
