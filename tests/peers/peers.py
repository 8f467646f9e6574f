"""Real servers behind `sockframe proxy`, real clients in front of it (issues 15 and 16).

A test starts two real servers of one protocol on loopback (each answering so that a
client can tell which one it reached), then runs real clients
  - straight to each server ("direct": proves the fixture tells the backends apart), and
  - through `sockframe proxy DESCRIPTION --listen … --backend …` on the kernel path
    (--path kernel --require-kernel, root only) and on the userspace path (--path userspace),
and asserts on the routing: which backend answered, not only that something answered.

Every process runs in its own session with a hard timeout and is stopped (SIGTERM, then
SIGKILL) when the test ends, whatever happens. The whole test is bounded by an alarm.

Exit codes follow meson: 0 pass, 1 fail, 77 skip (a server or client package missing).
Run by hand:
  SOCKFRAME_BIN=build/tools/sockframe /usr/bin/python3 tests/peers/test_x.py [--direct] [--path kernel|userspace]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SOCKFRAME_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
HARD_LIMIT = 100  # seconds for one whole test (meson kills at 120)


class Skip(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def require(package, program):
    """Skips (exit 77) when a package's program is missing."""
    for p in (program, "/usr/sbin/" + program, "/usr/bin/" + program):
        path = shutil.which(p) or (p if os.path.isabs(p) and os.access(p, os.X_OK) else None)
        if path:
            return path
    raise Skip(f"{package} not installed (no {program})")


def require_module(package, module):
    r = subprocess.run(["/usr/bin/python3", "-c", f"import {module}"], capture_output=True, timeout=30)
    if r.returncode != 0:
        raise Skip(f"{package} not installed (import {module} failed)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workdir():
    d = tempfile.mkdtemp(prefix="sockframe-peers-")
    _cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


_cleanups = []
_processes = []


def _stop(proc, first=signal.SIGTERM):
    for sig, wait in ((first, 3), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_port(port, proc, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode} before listening on {port}:\n"
                                 + proc.log())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s:\n" + proc.log())


class Process(subprocess.Popen):
    """A background process whose output goes to a log file (read with log())."""

    def __init__(self, argv, name, **kw):
        self.name = name
        self._log = tempfile.TemporaryFile()
        super().__init__(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                         start_new_session=True, **kw)
        _processes.append(self)

    def log(self):
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        _stop(self, sig)


def server(argv, name, port, **kw):
    """Starts a server and waits until it accepts on 127.0.0.1:port."""
    p = Process(argv, name, **kw)
    wait_port(port, p, name)
    return p


def run(argv, timeout=15, input=None, check=True, what=None):
    """Runs a client to completion (own session, killed at the timeout); returns stdout+stderr."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(p, signal.SIGKILL)
        out, _ = p.communicate()
        raise AssertionError(f"{what or argv[0]} did not finish within {timeout}s: {' '.join(argv)}\n"
                             + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    if check and p.returncode != 0:
        raise AssertionError(f"{what or argv[0]} exited with {p.returncode}: {' '.join(argv)}\n{text}")
    return text


def sockframe_bin():
    b = os.environ.get("SOCKFRAME_BIN") or os.path.join(SOURCE_DIR, "build", "tools", "sockframe")
    expect(os.access(b, os.X_OK), f"sockframe binary not found: {b} (set SOCKFRAME_BIN)")
    return b


class Proxy:
    """`sockframe proxy` in front of backends; stderr is collected (banner, counters)."""

    def __init__(self, description, backends, path, route=None, extra=()):
        self.port = free_port()
        argv = [sockframe_bin(), "proxy", description, "--listen", f"127.0.0.1:{self.port}"]
        for b in backends:
            argv += ["--backend", b]
        if route:
            argv += ["--route", route]
        argv += ["--path", path] + (["--require-kernel"] if path == "kernel" else [])
        argv += list(extra)
        self.argv = argv
        self.path = path
        self.lines = []
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _processes.append(self.proc)
        started = threading.Event()

        def read():
            for line in self.proc.stdout:
                s = line.decode(errors="replace")
                self.lines.append(s)
                if s.startswith("sockframe: proxying"):
                    started.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 30
        while not started.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sockframe proxy did not start ({path}): {' '.join(argv)}\n" + self.log())
        banner = next(l for l in self.lines if l.startswith("sockframe: proxying"))
        if path == "kernel":
            expect("kernel" in banner, f"not on the kernel path: {banner}")
        elif path == "userspace":
            expect("userspace" in banner, f"not on the userspace path: {banner}")

    def log(self):
        return "".join(self.lines)

    def stop(self):
        """SIGINT (the proxy prints its counters), then waits for its output to end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                _stop(self.proc)
        self.reader.join(5)
        return self.log()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def proxy_available():
    """True when this sockframe has the proxy subcommand."""
    r = subprocess.run([sockframe_bin(), "proxy", "--help"], capture_output=True, timeout=30)
    return r.returncode == 0


def kernel_log_marks():
    r = subprocess.run(["dmesg"], capture_output=True, timeout=30)
    bad = ("kernel BUG", "WARNING: CPU", "seq # bug", "BUG: ", "Oops")
    return [l for l in r.stdout.decode(errors="replace").splitlines() if any(b in l for b in bad)]


def main(name, requires, direct, through):
    """direct() checks the fixture without the proxy; through(path) runs it behind
    `sockframe proxy --path PATH` and returns a summary that must be the same on both paths."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--direct", action="store_true", help="check the servers and clients only (no proxy)")
    ap.add_argument("--path", choices=["kernel", "userspace"], action="append")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"{name}: over {HARD_LIMIT}s")))
    signal.alarm(HARD_LIMIT)
    rc = 0
    try:
        requires()
        direct()
        print(f"{name} (direct): fixture tells the backends apart")
        if not args.direct:
            paths = args.path or (["kernel", "userspace"] if os.geteuid() == 0 else ["userspace"])
            marks = kernel_log_marks()
            summaries = {}
            for path in paths:
                summaries[path] = through(path)
                print(f"{name} ({path}): {summaries[path]}")
            expect(len(set(map(repr, summaries.values()))) <= 1,
                   f"the kernel and userspace paths routed differently: {summaries}")
            new = [l for l in kernel_log_marks() if l not in marks]
            expect(not new, "kernel log gained:\n" + "\n".join(new))
        print(f"PASS {name}")
    except Skip as s:
        print(f"SKIPPED: {s}")
        rc = 77
    except (AssertionError, TimeoutError) as e:
        print(f"FAIL {name}: {e}")
        rc = 1
    finally:
        signal.alarm(0)
        for p in reversed(_processes):
            _stop(p)
        for c in reversed(_cleanups):
            c()
    sys.exit(rc)
