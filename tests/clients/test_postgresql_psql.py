"""PostgreSQL framed from psql (postgresql-client, libpq) connecting with
sslmode=disable and gssencmode=disable: the first message is the untyped StartupMessage,
an int32 length counting itself, protocol 196608 (3.0), then NUL-terminated name/value
pairs (user, database, application_name, ...) and a final NUL (PostgreSQL docs, Message
Formats: StartupMessage). psql then waits for an authentication request: the harness stops it."""
import harness as h


def client(port):
    return ["psql", f"host=127.0.0.1 port={port} user=u dbname=d sslmode=disable gssencmode=disable "
                    f"connect_timeout=3", "-c", "select 1"]


def check(run):
    run.check_stream_integrity(conns=1)
    msgs = run.payloads()
    h.expect(len(msgs) == 1, f"expected exactly 1 message (StartupMessage), got {len(msgs)}")
    m = msgs[0]
    h.expect(h.u32be(m, 0) == len(m), f"length field {h.u32be(m, 0)} disagrees with the framed length {len(m)}")
    h.expect(h.u32be(m, 4) == 196608, f"protocol {h.u32be(m, 4)}, expected 196608 (3.0)")
    h.expect(m.endswith(b"\0\0"), "parameter list does not end with a NUL")
    parts = m[8:-2].split(b"\0")
    params = dict(zip(parts[0::2], parts[1::2]))
    h.expect(params.get(b"user") == b"u" and params.get(b"database") == b"d", f"parameters {params}")
    h.expect(params.get(b"application_name") == b"psql", f"parameters {params}")
    return [("StartupMessage", 196608, sorted(k.decode() for k in params), len(m))]


if __name__ == "__main__":
    h.main("postgresql-psql", lambda: h.require_program("postgresql-client", "psql"), "postgresql", client, check,
           expect_messages=1, client_timeout=5)
