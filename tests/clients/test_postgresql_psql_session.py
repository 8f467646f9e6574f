"""PostgreSQL framed from a whole psql session (postgresql-client, libpq). The server
speaks after the StartupMessage, so reply_front.py answers (cleartext password request,
AuthenticationOk and ReadyForQuery, CommandComplete to the query); every byte psql sends
is forwarded unchanged to sockframe. psql must send exactly: the untyped StartupMessage
(protocol 196608), then typed messages only — PasswordMessage 'p' "secret", Query 'Q'
"select 1", Terminate 'X' — so the description switches from first_length to the typed
rule after exactly one message (PostgreSQL docs, Message Flow, Message Formats)."""
import os

import harness as h


def client(port):
    return [h.SYSTEM_PYTHON, os.path.join(h.HERE, "reply_front.py"), "postgresql", str(port), "--",
            "psql", "host=127.0.0.1 port={front} user=u dbname=d sslmode=disable gssencmode=disable "
                    "connect_timeout=3", "-c", "select 1"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 4, f"expected 4 messages (startup, password, query, terminate), got {len(msgs)}")
    start, pw, query, term = msgs
    h.expect(h.u32be(start, 0) == len(start) and h.u32be(start, 4) == 196608,
             f"first message is not a 3.0 StartupMessage: {start[:8].hex()}")
    for m in msgs[1:]:
        h.expect(h.u32be(m, 1) == len(m) - 1, f"typed message {m[:5].hex()}: length disagrees with {len(m)} bytes")
    h.expect(pw == b"p" + h.u32be(pw, 1).to_bytes(4, "big") + b"secret\0", f"PasswordMessage {pw!r}")
    h.expect(query[:1] == b"Q" and query[5:] == b"select 1\0", f"Query {query!r}")
    h.expect(term == b"X\0\0\0\x04", f"Terminate {term.hex()}")
    h.expect(run.client_rc == 0, f"psql exited {run.client_rc}")
    return [("StartupMessage", 196608, len(start)), ("p", len(pw)), ("Q", "select 1"), ("X", 5)]


if __name__ == "__main__":
    h.main("postgresql-psql-session", lambda: h.require_program("postgresql-client", "psql"), "postgresql", client,
           check, client_timeout=10, client_env={"PGPASSWORD": "secret"})
