// Costs outside the benchmark's own threads: the whole machine's CPU time, kernel
// worker threads, softirq time, and the kernel parser's own counters.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace sockframe::bench {

struct ProcSnapshot {
    uint64_t busy_ns = 0;              // every CPU: user + nice + system + irq + softirq
    uint64_t softirq_ns = 0;           // every CPU
    std::map<int, uint64_t> kthreads;  // kworker/ksoftirqd pid -> run time (ns)
};
ProcSnapshot proc_snapshot();
// Run time of kernel worker threads between two snapshots (threads that appeared count whole).
uint64_t kthread_ns_between(const ProcSnapshot& a, const ProcSnapshot& b);

// The kernel parser's per-connection counters (sf_conns), summed over `app_sockets`.
// The library does not expose them yet: this finds the map by name among the
// system's BPF maps and reads the entries keyed by these sockets' cookies.
struct ParserCounters {
    bool found = false;
    uint64_t forwarded = 0, batches = 0, parser_calls = 0;
};
ParserCounters read_parser_counters(const std::vector<int>& app_sockets);

}  // namespace sockframe::bench
