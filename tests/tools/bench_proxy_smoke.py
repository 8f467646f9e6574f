#!/usr/bin/env python3
"""CI-sized run of `sockframe-bench --workload proxy`: every cell prints one JSON line with
the usual keys plus "workload": "proxy", and each strategy either runs with 0 errors
(every reply matched to its request and checked) or is skipped with a reason a user can
act on. Nothing about speed is asserted. Any error fails, a duplicated reply included
(replies are matched by sequence number in any order: issue 15's "duplicate" was the
benchmark's own ring of 2 x depth slots, reused while an overtaken request still waited).

  direct, handwritten   always run (they need nothing outside the tool)
  haproxy, dnsdist      run when installed, else skipped naming the package; dnsdist is
                        skipped for memcached-binary (it proxies DNS only)
  kernel, userspace     run when this sockframe has the proxy subcommand (and, for kernel,
                        root), else skipped with what sockframe said
usage: bench_proxy_smoke.py PATH/TO/sockframe-bench
"""
import json
import os
import shutil
import subprocess
import sys

BENCH = sys.argv[1]
SOCKFRAME = os.environ.get("SOCKFRAME_BIN") or os.path.join(os.path.dirname(os.path.dirname(BENCH)), "sockframe")
STRATEGIES = ["direct", "handwritten", "haproxy", "dnsdist", "kernel", "userspace"]
KEYS = ["strategy", "workload", "size", "connections", "per_write", "msgs_per_s", "mb_per_s", "cpu_ns_per_msg",
        "client_cpu_ns_per_msg", "total_cpu_ns_per_msg", "all_cpu_ns_per_msg", "p50_us", "p99_us", "errors",
        "protocol", "pipelined"]


def main():
    has_proxy = subprocess.run([SOCKFRAME, "proxy", "--help"], capture_output=True, timeout=30).returncode == 0
    cmd = [BENCH, "--quiet", "--format", "jsonl", "--workload", "proxy", "--strategies", ",".join(STRATEGIES),
           "--proxy-protocol", "memcached-binary,dns", "--sizes", "64,4K", "--connections", "1,4",
           "--proxy-depth", "1,8", "--duration", "0.1"]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, SOCKFRAME_BIN=SOCKFRAME))
    print(p.stdout)
    print(p.stderr, file=sys.stderr)
    cells = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    failures = []
    expected = 2 * 2 * 2 * 2 * len(STRATEGIES)
    if len(cells) != expected:
        failures.append(f"{len(cells)} cells, expected {expected}")
    for c in cells:
        key = (c.get("strategy"), c.get("protocol"), c.get("size"), c.get("connections"), c.get("per_write"))
        missing = [k for k in KEYS if k not in c]
        if missing:
            failures.append(f"{key}: lacks keys {missing}")
            continue
        if c["workload"] != "proxy" or c["pipelined"] != (c["per_write"] > 1):
            failures.append(f"{key}: workload {c['workload']}, pipelined {c['pipelined']}")
        s, why = c["strategy"], c.get("skipped")
        if s in ("haproxy", "dnsdist") and not shutil.which(s, path="/usr/sbin:/usr/bin"):
            ok_skip = why and "not installed" in why
        elif s == "dnsdist" and c["protocol"] != "dns":
            ok_skip = why and "DNS only" in why
        elif s in ("kernel", "userspace") and not has_proxy:
            ok_skip = bool(why)
        elif s == "kernel" and os.geteuid() != 0:
            ok_skip = why and "root" in why
        else:
            ok_skip = False
        if why:
            if not ok_skip:
                failures.append(f"{key}: skipped: {why}")
            continue
        if c["errors"]:
            failures.append(f"{key}: {c['errors']} errors: {c.get('error', '')}")
        if not c["msgs_per_s"] or c["msgs_per_s"] <= 0 or c["p50_us"] is None:
            failures.append(f"{key}: no replies measured")
    for f in failures:
        print("FAIL: " + f)
    if not has_proxy:
        print("note: this sockframe has no proxy subcommand; kernel and userspace cells were skipped")
    sys.exit(1 if failures or p.returncode not in (0, 1) else 0)


if __name__ == "__main__":
    main()
