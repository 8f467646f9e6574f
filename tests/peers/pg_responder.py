"""A recorded-startup PostgreSQL responder: enough of the v3 protocol for psql -c.

It answers an SSLRequest/GSSENCRequest with 'N', a StartupMessage with what a real
PostgreSQL 15 sends after trust authentication (AuthenticationOk, the ParameterStatus
values psql reads, BackendKeyData, ReadyForQuery), and every simple Query with one row
of one text column "backend": "NAME database=DB user=USER", so the client shows which
backend answered and what startup it received. Terminate closes the connection.
Usage: pg_responder.py PORT NAME
"""
import socket
import struct
import sys
import threading


def msg(t, body):
    return t + struct.pack(">I", len(body) + 4) + body


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def serve(c, name):
    with c:
        while True:
            n = struct.unpack(">I", recv_exact(c, 4))[0]
            body = recv_exact(c, n - 4)
            code = struct.unpack(">I", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                c.sendall(b"N")
                continue
            break
        fields = body[4:].split(b"\0")
        params = dict(zip(fields[0::2], fields[1::2]))
        db, user = params.get(b"database", b"").decode(), params.get(b"user", b"").decode()
        out = msg(b"R", struct.pack(">I", 0))
        for k, v in ((b"server_version", b"15.0"), (b"client_encoding", b"UTF8"), (b"server_encoding", b"UTF8"),
                     (b"standard_conforming_strings", b"on"), (b"integer_datetimes", b"on"),
                     (b"DateStyle", b"ISO, MDY")):
            out += msg(b"S", k + b"\0" + v + b"\0")
        out += msg(b"K", struct.pack(">II", 4242, 1)) + msg(b"Z", b"I")
        c.sendall(out)
        while True:
            t = recv_exact(c, 1)
            n = struct.unpack(">I", recv_exact(c, 4))[0]
            recv_exact(c, n - 4)
            if t == b"X":
                return
            if t != b"Q":
                c.sendall(msg(b"E", b"SERROR\0C0A000\0Mpg_responder answers simple queries only\0\0") + msg(b"Z", b"I"))
                continue
            value = f"{name} database={db} user={user}".encode()
            row_desc = struct.pack(">H", 1) + b"backend\0" + struct.pack(">IHIhih", 0, 0, 25, -1, -1, 0)
            out = msg(b"T", row_desc) + msg(b"D", struct.pack(">HI", 1, len(value)) + value)
            out += msg(b"C", b"SELECT 1\0") + msg(b"Z", b"I")
            c.sendall(out)


def main():
    port, name = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=lambda: _guard(serve, c, name), daemon=True).start()


def _guard(f, *a):
    try:
        f(*a)
    except (EOFError, OSError):
        pass


if __name__ == "__main__":
    main()
