"""A minimal server responder in front of sockframe, for clients that need server replies.

usage: reply_front.py PROTOCOL SOCKFRAME_PORT -- CLIENT ARGS...   ({front} in ARGS = the responder's port)
PROTOCOL: postgresql | mqtt | amqp | ldap | git

Like mysql_front.py: the responder accepts the client, opens a connection to sockframe,
forwards every byte the client sends to sockframe unchanged and in order, and answers the
client itself with the fewest replies that move it on to its next messages. It cuts the
client's stream into messages with its own (independent, minimal) reading of the protocol,
only to know when to answer; it never writes anything to sockframe of its own.
  postgresql: StartupMessage -> AuthenticationCleartextPassword; PasswordMessage ->
              AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery; Query ->
              CommandComplete "SELECT 0", ReadyForQuery; Terminate ends the session.
              (PostgreSQL docs, Message Flow and Message Formats.)
  mqtt:       CONNECT -> CONNACK (3.1.1 or 5.0 form); DISCONNECT ends the session.
  amqp:       protocol header -> Connection.Start; Start-Ok -> Tune; Open -> Open-Ok;
              Channel.Open -> Channel.Open-Ok; Channel.Close -> Close-Ok;
              Connection.Close -> Close-Ok, which ends the session. (AMQP 0-9-1 §4.2, §1.4.)
  ldap:       BindRequest -> BindResponse success; SearchRequest -> SearchResultDone
              success; UnbindRequest ends the session. (RFC 4511 §4.2, §4.5, §4.3.)
  git:        the real server: like git daemon, it reads the git:// request pkt-line, then
              runs `git upload-pack --strict $SOCKFRAME_GIT_REPO` (protocol v2 when the
              request asks for it) with the rest of the client's stream as its input and
              its output as the reply. (gitprotocol-pack(5), "Git Transport".)
"""
import os
import socket
import struct
import subprocess
import sys
import threading

from front import run_client_through

done = threading.Event()  # the client ended the session the protocol's way


# --- PostgreSQL ---------------------------------------------------------------

def pg_msg(t, body):
    return t + struct.pack(">I", 4 + len(body)) + body


def pg_split(buf, st):
    if not st.get("started"):
        if len(buf) < 4 or len(buf) < struct.unpack_from(">I", buf)[0]:
            return None
        n = struct.unpack_from(">I", buf)[0]
        st["started"] = True
        return buf[:n], buf[n:]
    if len(buf) < 5 or len(buf) < 1 + struct.unpack_from(">I", buf, 1)[0]:
        return None
    n = 1 + struct.unpack_from(">I", buf, 1)[0]
    return buf[:n], buf[n:]


def pg_reply(m, st):
    if not st.get("authed"):
        if m[:1] == b"p":
            st["authed"] = True
            ps = b"".join(pg_msg(b"S", k + b"\0" + v + b"\0") for k, v in (
                (b"server_version", b"15.0"), (b"server_encoding", b"UTF8"), (b"client_encoding", b"UTF8"),
                (b"DateStyle", b"ISO, MDY"), (b"integer_datetimes", b"on"), (b"standard_conforming_strings", b"on")))
            return (pg_msg(b"R", struct.pack(">I", 0)) + ps + pg_msg(b"K", struct.pack(">II", 4242, 1234))
                    + pg_msg(b"Z", b"I"))
        return pg_msg(b"R", struct.pack(">I", 3))  # AuthenticationCleartextPassword
    if m[:1] == b"Q":
        return pg_msg(b"C", b"SELECT 0\0") + pg_msg(b"Z", b"I")
    if m[:1] == b"X":
        done.set()
    return b""


# --- MQTT ---------------------------------------------------------------------

def mqtt_split(buf, st):
    value, mult, i = 0, 1, 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        value += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    if len(buf) < i + value:
        return None
    return buf[:i + value], buf[i + value:]


def mqtt_reply(m, st):
    t = m[0] >> 4
    if t == 1:  # CONNECT: the protocol level follows the remaining length and the name "MQTT"
        level = m[m.index(b"MQTT") + 4]
        return b"\x20\x03\x00\x00\x00" if level == 5 else b"\x20\x02\x00\x00"
    if t == 14:
        done.set()
    return b""


# --- AMQP 0-9-1 -----------------------------------------------------------------

def amqp_frame(t, ch, payload):
    return struct.pack(">BHI", t, ch, len(payload)) + payload + b"\xce"


def amqp_method(ch, cls, meth, args=b""):
    return amqp_frame(1, ch, struct.pack(">HH", cls, meth) + args)


def amqp_split(buf, st):
    if not st.get("started"):
        if len(buf) < 8:
            return None
        st["started"] = True
        return buf[:8], buf[8:]
    if len(buf) < 7 or len(buf) < 8 + struct.unpack_from(">I", buf, 3)[0]:
        return None
    n = 8 + struct.unpack_from(">I", buf, 3)[0]
    return buf[:n], buf[n:]


def amqp_longstr(s):
    return struct.pack(">I", len(s)) + s


def amqp_reply(m, st):
    if m.startswith(b"AMQP"):
        return amqp_method(0, 10, 10, b"\x00\x09" + struct.pack(">I", 0) + amqp_longstr(b"PLAIN")
                           + amqp_longstr(b"en_US"))
    if m[0] != 1:
        return b""
    ch = struct.unpack_from(">H", m, 1)[0]
    cls, meth = struct.unpack_from(">HH", m, 7)
    if (cls, meth) == (10, 11):
        return amqp_method(0, 10, 30, struct.pack(">HIH", 2047, 131072, 0))
    if (cls, meth) == (10, 40):
        return amqp_method(0, 10, 41, b"\x00")
    if (cls, meth) == (20, 10):
        return amqp_method(ch, 20, 11, amqp_longstr(b""))
    if (cls, meth) == (20, 40):
        return amqp_method(ch, 20, 41)
    if (cls, meth) == (10, 50):
        done.set()
        return amqp_method(0, 10, 51)
    return b""


def serve_git(listener, sockframe_port):
    listener.settimeout(20)
    c, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", sockframe_port))
    buf = b""
    try:
        while len(buf) < 4 or len(buf) < int(buf[:4], 16):
            chunk = c.recv(65536)
            if not chunk:
                return
            up.sendall(chunk)
            buf += chunk
        n = int(buf[:4], 16)
        request, rest = buf[:n], buf[n:]
        env = dict(os.environ)
        extra = [p for p in request[4:].split(b"\0") if p.startswith(b"version=")]
        if extra:
            env["GIT_PROTOCOL"] = extra[0].decode()
        pack = subprocess.Popen(["git", "upload-pack", "--strict", "--timeout=10", os.environ["SOCKFRAME_GIT_REPO"]],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

        def to_client():
            for chunk in iter(lambda: pack.stdout.read1(65536), b""):
                c.sendall(chunk)
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=to_client, daemon=True)
        t.start()
        if rest:
            pack.stdin.write(rest)
            pack.stdin.flush()
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            up.sendall(chunk)
            try:
                pack.stdin.write(chunk)
                pack.stdin.flush()
            except BrokenPipeError:
                pass
        try:
            pack.stdin.close()
        except BrokenPipeError:
            pass
        if pack.wait(10) == 0:
            done.set()
        t.join(5)
    finally:
        c.close()
        up.close()


# --- LDAP (BER) -------------------------------------------------------------------

def ber_split(buf, st):
    if len(buf) < 2:
        return None
    n, o = buf[1], 2
    if n & 0x80:
        if len(buf) < 2 + (n & 0x7F):
            return None
        o = 2 + (n & 0x7F)
        n = int.from_bytes(buf[2:o], "big")
    if len(buf) < o + n:
        return None
    return buf[:o + n], buf[o + n:]


def ldap_reply(m, st):
    o = 2 + (m[1] & 0x7F if m[1] & 0x80 else 0)
    msgid = m[o:o + 2 + m[o + 1]]  # the messageID INTEGER TLV, echoed
    op = m[o + 2 + m[o + 1]]
    result = b"\x0a\x01\x00\x04\x00\x04\x00"  # resultCode success, matchedDN "", diagnosticMessage ""
    if op in (0x60, 0x63):  # BindRequest, SearchRequest
        body = msgid + bytes([op + 1 if op == 0x60 else 0x65, len(result)]) + result
        return bytes([0x30, len(body)]) + body
    if op == 0x42:  # UnbindRequest
        done.set()
    return b""


PROTOCOLS = {"postgresql": (pg_split, pg_reply), "mqtt": (mqtt_split, mqtt_reply), "amqp": (amqp_split, amqp_reply),
             "ldap": (ber_split, ldap_reply)}


def serve_one(listener, sockframe_port, split, reply):
    listener.settimeout(20)
    c, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", sockframe_port))
    buf, st = b"", {}
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            up.sendall(chunk)
            buf += chunk
            while True:
                cut = split(buf, st)
                if cut is None:
                    break
                m, buf = cut
                r = reply(m, st)
                if r:
                    c.sendall(r)
    finally:
        c.close()
        up.close()


def main():
    sockframe_port = int(sys.argv[2])
    argv = sys.argv[sys.argv.index("--") + 1:]
    if sys.argv[1] == "git":
        rc = run_client_through(lambda listener: serve_git(listener, sockframe_port), argv)
    else:
        rc = run_client_through(lambda listener: serve_one(listener, sockframe_port, *PROTOCOLS[sys.argv[1]]), argv)
    sys.exit(0 if done.is_set() else (rc or 1))


if __name__ == "__main__":
    main()
