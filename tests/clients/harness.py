"""Real-client integration harness for sockframe.

One test = one protocol + one real client. The harness
  1. starts `sockframe serve PARSER --listen 127.0.0.1:PORT --format jsonl`
     (kernel path with --require-kernel, then again with --userspace),
  2. waits for "sockframe: serving" on stderr,
  3. runs the real client against 127.0.0.1:PORT with a hard timeout; once the
     expected number of messages has been framed it gives the client a short
     grace period to send anything else, then stops it (clients that wait for a
     server reply would otherwise wait forever),
  4. waits for sockframe's "closed" event, stops sockframe with SIGINT and
     returns every jsonl record it printed.
The test's check function decodes the framed messages and asserts the exact
sequence the protocol mandates; it returns a summary (types and lengths) that
must be identical on the kernel path and on the userspace path.

A message that the kernel path prints only together with its connection's "closed" event,
while the client was waiting for an answer, is reported as a WARNING (sockframe held it
until the close instead of framing it on arrival); SOCKFRAME_CLIENTS_STRICT_LATENCY=1 turns
that into a failure. A connection sockframe drops unframed ("cannot frame a new
connection") always fails the test.

Exit codes follow meson/automake: 0 pass, 1 fail, 77 skip (client missing only).
Run a test by hand:  SOCKFRAME_BIN=build/tools/sockframe /usr/bin/python3 tests/clients/test_x.py
"""

import importlib.util
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SOCKFRAME_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-* client packages live here
HARD_LIMIT = 45.0  # seconds for one whole test (meson kills at 60)
_start = time.monotonic()


class Skip(Exception):
    pass


def fail(msg):
    raise AssertionError(msg)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def sockframe_bin():
    b = os.environ.get("SOCKFRAME_BIN")
    if not b:
        b = os.path.join(SOURCE_DIR, "build", "tools", "sockframe")
    if not os.access(b, os.X_OK):
        fail(f"sockframe binary not found: {b} (set SOCKFRAME_BIN)")
    return b


def parser_path(name):
    p = os.path.join(SOURCE_DIR, "parsers", name + ".toml")
    expect(os.path.isfile(p), f"parser description missing: {p}")
    return p


def require_program(package, program):
    """Skip (exit 77) only when the client package's program is missing."""
    path = shutil.which(program) or (program if os.path.isabs(program) and os.access(program, os.X_OK) else None)
    if not path:
        raise Skip(f"{package} not installed (no {program})")
    return path


def require_python_module(package, module):
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise Skip(f"{package} not installed (no {SYSTEM_PYTHON})")
    r = subprocess.run([SYSTEM_PYTHON, "-c", f"import {module}"], capture_output=True, timeout=30)
    if r.returncode != 0:
        raise Skip(f"{package} not installed (import {module} failed)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_available():
    return os.geteuid() == 0


class Run:
    """What one `sockframe serve` run printed, with helpers for checks."""

    def __init__(self, mode, records, stderr, client_rc, client_out, port):
        self.mode = mode
        self.records = records
        self.stderr = stderr
        self.client_rc = client_rc
        self.client_out = client_out
        self.port = port

    def messages(self, conn=None):
        return [(r["conn"], r["offset"], bytes.fromhex(r["hex"])) for r in self.records
                if "hex" in r and (conn is None or r["conn"] == conn)]

    def payloads(self, conn=None):
        return [m[2] for m in self.messages(conn)]

    def conns(self):
        seen = []
        for r in self.records:
            if r.get("conn") not in seen:
                seen.append(r.get("conn"))
        return seen

    def describe(self):
        lines = [f"--- sockframe serve ({self.mode}) on port {self.port}: {len(self.records)} records; "
                 f"client ran from t={getattr(self, 'timing', ('?', '?'))[0]}s to t={getattr(self, 'timing', ('?', '?'))[1]}s"]
        for r in self.records:
            if "hex" in r:
                h = r["hex"]
                lines.append(f"  t={r['_t']} conn {r['conn']} offset {r['offset']} len {r['len']} {h[:96]}{'...' if len(h) > 96 else ''}")
            else:
                lines.append("  " + json.dumps(r))  # includes _t, the time it was printed
        lines.append("--- sockframe stderr:\n" + self.stderr.rstrip())
        lines.append(f"--- client exit {self.client_rc}; output:\n" + self.client_out.rstrip()[-3000:])
        return "\n".join(lines)

    def late_messages(self):
        """Messages printed only together with their connection's "closed" event while
        the client was waiting for an answer (the harness had to stop it, or it gave up
        with an error): sockframe held them until the connection closed instead of
        framing them when they arrived."""
        if not (getattr(self, "client_stopped", False) or self.client_rc not in (0, None)):
            return []
        closed = {r["conn"]: r["_t"] for r in self.records if r.get("event") == "closed"}
        return [r for r in self.records if "hex" in r and r["conn"] in closed and closed[r["conn"]] - r["_t"] < 0.02]

    def check_stream_integrity(self, conns=None):
        """No framing errors; per connection the messages tile the stream from
        offset 0 without gaps, and the closed event sits right after the last one."""
        refused = [l for l in self.stderr.splitlines() if "cannot frame a new connection" in l]
        expect(not refused, f"sockframe dropped a connection unframed: {refused}")
        errors = [r for r in self.records if "error" in r]
        expect(not errors, f"framing errors: {errors}")
        if conns is not None:
            expect(len(self.conns()) == conns, f"expected {conns} connection(s), saw {len(self.conns())}")
        for c in self.conns():
            pos = 0
            closed = None
            for r in self.records:
                if r.get("conn") != c:
                    continue
                if "hex" in r:
                    expect(closed is None, f"conn {c}: message after close")
                    expect(r["offset"] == pos, f"conn {c}: message at offset {r['offset']}, expected {pos}")
                    expect(r["len"] == len(r["hex"]) // 2, f"conn {c}: len field disagrees with hex")
                    pos += r["len"]
                elif r.get("event") == "closed":
                    closed = r["offset"]
            expect(closed is not None, f"conn {c}: no closed event")
            expect(closed == pos, f"conn {c}: closed at offset {closed} but messages end at {pos} "
                                  f"(bytes left unframed at close)")


def serve_and_run(parser, client, mode, expect_messages=None, grace=0.7, client_timeout=15.0,
                  client_env=None, client_input=None, extra_serve_args=(), listen_host="127.0.0.1",
                  port=None, cwd=None):
    """Starts sockframe serve, runs `client(port)` (an argv list) against it, returns a Run."""
    port = port or free_port()
    argv = [sockframe_bin(), "serve", parser_path(parser), "--listen", f"{listen_host}:{port}",
            "--format", "jsonl"]
    argv += ["--userspace"] if mode == "userspace" else ["--require-kernel"]
    argv += list(extra_serve_args)
    serve = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    records, err_lines = [], []
    serving = threading.Event()
    lock = threading.Lock()

    def read_out():
        for line in serve.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                rec = {"unparsed": line.decode(errors="replace")}
            rec["_t"] = round(time.monotonic() - _start, 3)
            with lock:
                records.append(rec)

    def read_err():
        for line in serve.stderr:
            s = line.decode(errors="replace")
            err_lines.append(s)
            if "sockframe: serving" in s:
                serving.set()

    threads = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads:
        t.start()
    client_rc, client_out = None, ""
    try:
        deadline = time.monotonic() + 30
        while not serving.is_set():
            if serve.poll() is not None or time.monotonic() > deadline:
                fail(f"sockframe serve did not start ({mode}):\n" + "".join(err_lines))
            serving.wait(0.05)
        banner = next(l for l in err_lines if "sockframe: serving" in l)
        if mode == "kernel":
            expect("(kernel path" in banner, f"not on the kernel path: {banner}")
        else:
            expect("(userspace path" in banner, f"not on the userspace path: {banner}")

        out_file = tempfile.TemporaryFile()
        env = dict(os.environ)
        env.update(client_env or {})
        client_started = time.monotonic() - _start
        proc = subprocess.Popen(client(port), stdin=subprocess.PIPE if client_input is not None else subprocess.DEVNULL,
                                stdout=out_file, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd)
        if client_input is not None:
            try:
                proc.stdin.write(client_input)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        limit = min(time.monotonic() + client_timeout, _start + HARD_LIMIT - 8)
        reached_at = None
        while proc.poll() is None and time.monotonic() < limit:
            with lock:
                n = sum(1 for r in records if "hex" in r)
            if expect_messages is not None and n >= expect_messages:
                reached_at = reached_at or time.monotonic()
                if time.monotonic() - reached_at >= grace:
                    break
            time.sleep(0.02)
        client_stopped = proc.poll() is None
        if client_stopped:
            _kill_group(proc)
        client_rc = proc.returncode
        client_ended = time.monotonic() - _start
        out_file.seek(0)
        client_out = out_file.read().decode(errors="replace")

        # Every connection the client opened must end with "closed" (or an error).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with lock:
                conns = {r.get("conn") for r in records if "conn" in r}
                ended = {r.get("conn") for r in records if r.get("event") == "closed" or "error" in r}
            if conns <= ended:
                break
            time.sleep(0.02)
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(serve)
        for t in threads:
            t.join(5)
    with lock:
        recs = list(records)
    run = Run(mode, recs, "".join(err_lines), client_rc, client_out, port)
    run.timing = (round(client_started, 3), round(client_ended, 3))
    run.client_stopped = client_stopped
    return run


def _kill_group(proc):
    for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main(name, requires, parser, client, check, modes=None, **kw):
    """Runs one real-client test on both paths.

    requires: callable raising Skip when the client is missing.
    client(port) -> argv; check(run) -> summary (raises AssertionError on a mismatch).
    """
    try:
        requires()
    except Skip as s:
        print(f"SKIPPED: {s}")
        sys.exit(77)
    modes = modes or (["kernel", "userspace"] if kernel_available() else ["userspace"])
    if "kernel" not in modes:
        print("note: not root, the kernel path cannot be loaded; testing the userspace path only")
    summaries = {}
    for mode in modes:
        run = serve_and_run(parser, client, mode, **kw)
        try:
            summaries[mode] = check(run)
        except AssertionError as e:
            print(run.describe())
            print(f"FAIL {name} ({mode}): {e}")
            sys.exit(1)
        late = run.late_messages()
        if late:
            msg = (f"WARNING {name} ({mode}): {len(late)} of {len(run.messages())} message(s) were framed only when "
                   f"the client's connection closed, not when they arrived (client stopped at t={run.timing[1]}s, "
                   f"messages printed at t={sorted({r['_t'] for r in late})})")
            print(msg)
            if os.environ.get("SOCKFRAME_CLIENTS_STRICT_LATENCY") == "1":
                print(f"FAIL {name} ({mode}): late delivery (SOCKFRAME_CLIENTS_STRICT_LATENCY=1)")
                sys.exit(1)
        print(f"{name} ({mode}): {summaries[mode]}")
    if len(summaries) == 2 and summaries["kernel"] != summaries["userspace"]:
        print(f"FAIL {name}: kernel and userspace framing differ:\n  kernel:    {summaries['kernel']}\n"
              f"  userspace: {summaries['userspace']}")
        sys.exit(1)
    print(f"PASS {name}")
    sys.exit(0)


def explore(parser, client, mode="userspace", **kw):
    """Debug aid: run a client and print what sockframe framed."""
    run = serve_and_run(parser, client, mode, **kw)
    print(run.describe())
    return run


# --- small decoding helpers -------------------------------------------------

def u8(b, o):
    return b[o]


def u16be(b, o):
    return struct.unpack_from(">H", b, o)[0]


def u24be(b, o):
    return int.from_bytes(b[o:o + 3], "big")


def u32be(b, o):
    return struct.unpack_from(">I", b, o)[0]


def u32le(b, o):
    return struct.unpack_from("<I", b, o)[0]
