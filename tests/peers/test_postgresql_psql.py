"""PostgreSQL by database name (issue 16): psql "dbname=alpha|beta" -> sockframe proxy
(postgresql, --route first-key, --backend alpha=… --backend beta=…) -> two recorded-startup
responders (pg_responder.py: a real PostgreSQL server pair is too heavy for CI; docs/proxy.md
describes the manual run with real servers).

Each responder answers any query with its own name and the startup it received, so psql
prints which backend it reached: dbname=alpha must reach A and dbname=beta must reach B,
with the user and database intact (the StartupMessage passed through unchanged)."""
import os
import sys

import peers as p

state = {}


def start_responder(tag):
    port = p.free_port()
    argv = [sys.executable, os.path.join(p.HERE, "pg_responder.py"), str(port), tag]
    return p.server(argv, f"pg_responder {tag}", port), port


def requires():
    p.require("postgresql-client", "psql")
    state["A"], state["portA"] = start_responder("A")
    state["B"], state["portB"] = start_responder("B")


def psql(port, db):
    conn = f"host=127.0.0.1 port={port} dbname={db} user=peers sslmode=disable gssencmode=disable connect_timeout=5"
    return p.run(["psql", conn, "-X", "-tAc", "select backend"], what="psql").strip()


def direct():
    for tag in ("A", "B"):
        got = psql(state["port" + tag], "alpha")
        p.expect(got == f"{tag} database=alpha user=peers", f"psql straight to responder {tag}: {got!r}")


def through(path):
    backends = [f"alpha=127.0.0.1:{state['portA']}", f"beta=127.0.0.1:{state['portB']}"]
    # Replies are typed messages from the first byte (no untyped startup message): framed
    # by postgresql-typed. With the request description the proxy reads 'R' 0 0 0 as a length.
    with p.Proxy("postgresql", backends, path, route="first-key", extra=("--response", "postgresql-typed")) as proxy:
        got = [(db, psql(proxy.port, db)) for db in ("alpha", "beta", "alpha", "beta")]
        want = [(db, f"{'A' if db == 'alpha' else 'B'} database={db} user=peers") for db, _ in got]
        p.expect(got == want, f"through the proxy: {got}\n{proxy.log()}")
        proxy.stop()
    return got


if __name__ == "__main__":
    p.main("postgresql-psql", requires, direct, through)
