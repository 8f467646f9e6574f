#!/usr/bin/env python3
"""CI-sized runs of the workloads with tables of their own; nothing about speed is asserted.

  --workload send  every size has a row for plain, kernel (root), sk_msg-pass (root) and
                   userspace, none saying a send failed; the latency table has the same
                   senders with a p50 above 0;
  --workload sni   TLS connections routed by server name through sockframe proxy (kernel
                   with root, userspace), HAProxy (when installed) and direct: the tool
                   exits 0 (every echoed byte compared, every backend checks that each
                   connection names it), every strategy has a row with 0 errors, or is
                   skipped with a reason (HAProxy not installed).
usage: bench_workloads_smoke.py PATH/TO/sockframe-bench
"""
import os
import shutil
import subprocess
import sys

BENCH = sys.argv[1]
SOCKFRAME = os.environ.get("SOCKFRAME_BIN") or os.path.join(os.path.dirname(os.path.dirname(BENCH)), "sockframe")
ROOT = os.geteuid() == 0


def run(args):
    cmd = [BENCH] + args
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, SOCKFRAME_BIN=SOCKFRAME))
    print(p.stdout)
    print(p.stderr, file=sys.stderr)
    return p


def send_smoke(failures):
    p = run(["--workload", "send", "--seconds", "0.1"])
    if p.returncode != 0:
        failures.append(f"send: exit {p.returncode}")
    throughput, latency = p.stdout.split("latency:", 1) if "latency:" in p.stdout else (p.stdout, "")
    senders = ["plain", "userspace"] + (["kernel", "sk_msg-pass"] if ROOT else [])
    for size in ("64", "512", "4096", "65536"):
        for s in senders:
            rows = [l.split() for l in throughput.splitlines() if l.split()[:2] == [size, s]]
            if len(rows) != 1:
                failures.append(f"send throughput: {len(rows)} rows for {s} at {size}")
            elif "failed" in " ".join(rows[0]) or float(rows[0][2]) <= 0:
                failures.append(f"send throughput: {s} at {size}: {' '.join(rows[0])}")
            lat = [l.split() for l in latency.splitlines() if l.split()[:2] == [size, s]]
            if not lat or any("failed" in " ".join(r) or float(r[3]) <= 0 for r in lat):
                failures.append(f"send latency: {s} at {size}: {lat}")


def sni_smoke(failures):
    p = run(["--workload", "sni", "--duration", "0.2", "--connections", "1,4"])
    if p.returncode != 0:
        failures.append(f"sni: exit {p.returncode} (an error in some cell)")
    strategies = ["userspace", "haproxy", "direct"] + (["kernel"] if ROOT else [])
    for s in strategies:
        rows = [l for l in p.stdout.splitlines() if l.split()[:1] == [s]]
        if s == "haproxy" and not shutil.which("haproxy", path="/usr/sbin:/usr/bin"):
            if not rows or not all("skipped" in r and "not installed" in r for r in rows):
                failures.append(f"sni: haproxy not installed but not skipped with a reason: {rows}")
            continue
        if len(rows) != 2 * 2 + 1:  # 2 record sizes x 2 connection counts, and the short table
            failures.append(f"sni: {len(rows)} rows for {s}, expected 5")
        for r in rows:  # the errors column ends a clean row; an error's text follows its count
            if "skipped" in r or r.split()[-1] != "0":
                failures.append(f"sni: {s}: {r}")


def main():
    failures = []
    send_smoke(failures)
    sni_smoke(failures)
    for f in failures:
        print("FAIL " + f)
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
