#!/usr/bin/env python3
"""CI-sized run of sockframe-bench: it runs, prints the table and one JSON line per
cell, and every cell that ran saw 0 errors. Nothing about speed is asserted.

As root the kernel strategies must run; without CAP_BPF/CAP_NET_ADMIN they must be
reported as skipped, with the reason, while the other strategies still run. As root
the unprivileged case is exercised too, under setpriv with every capability dropped.
usage: bench_smoke.py PATH/TO/sockframe-bench
"""
import json
import os
import shutil
import subprocess
import sys

BENCH = sys.argv[1]
STRATEGIES = ["kernel", "kernel-per-message", "userspace", "handwritten", "naive"]
KEYS = ["strategy", "workload", "size", "connections", "msgs_per_s", "mb_per_s", "syscalls_per_msg",
        "cpu_ns_per_msg", "wakeups_per_msg", "p50_us", "p99_us", "errors"]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(args, prefix=()):
    cmd = list(prefix) + [BENCH, "--quiet"] + args
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    print(p.stdout)
    if p.stderr:
        print(p.stderr, file=sys.stderr)
    return p


def privileged_caps():
    # CapEff bits: CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_BPF 39
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            eff = int(line.split()[1], 16)
            return bool(eff & (1 << 12)) and bool(eff & ((1 << 39) | (1 << 21)))
    return False


def check_jsonl(p, expected_cells, kernel_allowed):
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    cells = [l for l in lines if "strategy" in l]
    setup = [l for l in lines if "setup" in l]
    seen = {}
    for c in cells:
        missing = [k for k in KEYS if k not in c]
        if missing:
            fail("cell %s lacks keys %s" % (c, missing))
            continue
        key = (c["strategy"], c["workload"], c["size"], c["connections"])
        seen[key] = c
        if c.get("skipped"):
            if not c["strategy"].startswith("kernel"):
                fail("%s was skipped: %s" % (key, c["skipped"]))
            elif kernel_allowed:
                fail("%s was skipped although the kernel path is available: %s" % (key, c["skipped"]))
            elif "CAP_" not in c["skipped"]:
                fail("%s skipped without naming the capability: %s" % (key, c["skipped"]))
            continue
        if c["strategy"].startswith("kernel") and not kernel_allowed:
            fail("%s ran without privileges" % (key,))
        if c["errors"] != 0:
            fail("%s: %d errors: %s" % (key, c["errors"], c.get("error", "")))
        if not c["msgs_per_s"] or c["msgs_per_s"] <= 0:
            fail("%s: no messages" % (key,))
        if c["workload"] == "pingpong" and c["p50_us"] is None:
            fail("%s: ping-pong without latency" % (key,))
    for key in expected_cells:
        if key not in seen:
            fail("no JSON line for cell %s" % (key,))
    if len(cells) != len(expected_cells):
        fail("%d cells, expected %d" % (len(cells), len(expected_cells)))
    if kernel_allowed and not any(s.get("load_ms") for s in setup):
        fail("no kernel setup timings")


def check_table(p, expected_cells, kernel_allowed):
    out = p.stdout.splitlines()
    header = [l for l in out if l.startswith("strategy ") and "msgs/s" in l]
    if not header:
        fail("no table header")
        return
    for col in ["msgs/s", "MB/s", "rx sc/msg", "srv ns/msg", "wake/msg", "p50 us", "p99 us", "errors"]:
        if col not in header[0]:
            fail("table lacks column %r" % col)
    start = out.index(header[0]) + 1
    rows = []
    for l in out[start:]:
        if not l.strip():
            break
        if not l.startswith("error:"):
            rows.append(l.split())
    if len(rows) != len(expected_cells):
        fail("table has %d rows, expected %d" % (len(rows), len(expected_cells)))
    for r in rows:
        if r[0].startswith("kernel") and not kernel_allowed:
            if "skipped:" not in r:
                fail("kernel row not reported as skipped: %s" % " ".join(r))
        elif "skipped:" in r:
            fail("row skipped: %s" % " ".join(r))
        elif r[-1] != "0":
            fail("row with errors: %s" % " ".join(r))


def expected(strategies, workloads, sizes, conns):
    return [(s, w, z, c) for w in workloads for z in sizes for c in conns for s in strategies]


def main():
    kernel = privileged_caps()
    sizes = [64, 4096]
    # JSON lines: every strategy, bulk and ping-pong, two sizes.
    args = ["--strategies", ",".join(STRATEGIES), "--workload", "bulk,pingpong", "--framing", "length",
            "--sizes", "64,4K", "--connections", "1", "--duration", "0.2", "--format", "jsonl"]
    p = run(args)
    if p.returncode != 0:
        fail("jsonl run exited %d" % p.returncode)
    check_jsonl(p, expected(STRATEGIES, ["bulk", "pingpong"], sizes, [1]), kernel)

    # The table: delimiter framing, drip, two connections.
    strategies = ["kernel", "userspace", "handwritten", "naive"]
    args = ["--strategies", ",".join(strategies), "--workload", "drip", "--framing", "delimiter",
            "--sizes", "64", "--connections", "2", "--duration", "0.2", "--drip-pieces", "4"]
    p = run(args)
    if p.returncode != 0:
        fail("table run exited %d" % p.returncode)
    check_table(p, expected(strategies, ["drip"], [64], [2]), kernel)

    # Without privileges (exercised even as root, with every capability dropped).
    setpriv = shutil.which("setpriv")
    if kernel and setpriv:
        drop = [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
        probe = subprocess.run(drop + ["true"], capture_output=True)
        if probe.returncode == 0:
            args = ["--strategies", "kernel,userspace,handwritten", "--workload", "bulk", "--framing", "length",
                    "--sizes", "64", "--connections", "1", "--duration", "0.2"]
            p = run(args, drop)
            if p.returncode != 0:
                fail("unprivileged table run exited %d" % p.returncode)
            check_table(p, expected(["kernel", "userspace", "handwritten"], ["bulk"], [64], [1]), False)
            p = run(args + ["--format", "jsonl"], drop)
            check_jsonl(p, expected(["kernel", "userspace", "handwritten"], ["bulk"], [64], [1]), False)
        else:
            print("note: setpriv cannot drop capabilities here; unprivileged case not exercised")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


sys.exit(main())
