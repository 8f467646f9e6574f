// sockframe-bench: every receive strategy on the same loopback work, side by side.
// One process: a server thread and a client thread, pinned to different cores.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sockframe/description.hpp>

namespace sockframe::bench {

// haproxy, dnsdist and direct run only in the proxy workload (proxy_cell.cpp).
// userspace: the framer read with recv + epoll; uring: the same framer read through the
// io_uring engine (multishot receive into provided buffers), not in the default list.
enum class Strategy { kernel, kernel_per_message, userspace, uring, handwritten, naive, haproxy, dnsdist, direct };
// proxy: client -> proxy -> two backends (the strategy is the proxy), see proxy_cell.cpp.
enum class Workload { bulk, pingpong, drip, proxy };
enum class Framing { length, delimiter };

const char* name(Strategy s);
const char* name(Workload w);
const char* name(Framing f);
bool is_kernel(Strategy s);

inline constexpr double kNone = NAN;  // a metric that does not apply ("-" / null)

struct Options {
    std::vector<Strategy> strategies{Strategy::kernel, Strategy::kernel_per_message, Strategy::userspace,
                                     Strategy::handwritten, Strategy::naive};
    std::vector<uint64_t> sizes{64, 512, 4096, 65536};
    std::vector<uint32_t> connections{1, 64};
    std::vector<Workload> workloads{Workload::bulk, Workload::pingpong, Workload::drip};
    std::vector<Framing> framings{Framing::length, Framing::delimiter};
    std::vector<uint32_t> per_write{64};  // bulk only; 0 = as many as fit in 64 KiB
    double duration = 1.0;                // measured seconds per cell
    uint32_t rounds = 1;                  // medians over rounds
    bool jsonl = false;
    std::string plot;
    std::string save;  // also write the JSON lines here
    uint32_t drip_pieces = 8;
    uint32_t drip_gap_us = 50;
    uint64_t window = 8 << 20;  // bytes a client may have in flight, over all its connections
    double stall_timeout = 3.0;
    int server_cpu = -1, client_cpu = -1;
    bool pin = true;
    bool quiet = false;
    std::string command_line;
    std::string machine;  // one line about where it ran
    // The proxy workload: message protocols, and requests in flight per connection
    // (1 = ping-pong, more = pipelined).
    std::vector<std::string> proxy_protocols{"memcached-binary"};
    std::vector<uint32_t> proxy_depths{1, 16};
};

struct CellSpec {
    Strategy strategy{};
    Workload workload{};
    Framing framing{};
    uint64_t size = 0;
    uint32_t connections = 1;
    uint32_t per_write = 1;  // messages per client write (bulk), resolved ("fit" already applied);
                             // proxy: requests in flight per connection
    std::string protocol;    // proxy: "memcached-binary" or "dns"
};

struct CellResult {
    CellSpec spec;
    std::string skipped;  // reason when the cell did not run
    double seconds = 0;
    uint64_t messages = 0;
    uint64_t bytes = 0;
    double msgs_per_s = kNone;
    double mb_per_s = kNone;
    double syscalls_per_msg = kNone;  // every receive-side system call of the server thread
    double reads_per_msg = kNone;     // of which recv/read calls
    double cpu_ns_per_msg = kNone;    // server thread (getrusage RUSAGE_THREAD)
    double client_cpu_ns_per_msg = kNone;
    double total_cpu_ns_per_msg = kNone;  // server + client + kernel worker threads
    double all_cpu_ns_per_msg = kNone;    // every CPU of the machine (/proc/stat), shared-machine noise included
    double kthread_ns_per_msg = kNone;    // kworker/ksoftirqd threads (schedstat)
    double softirq_ns_per_msg = kNone;    // softirq time of every CPU (/proc/stat)
    double wakeups_per_msg = kNone;       // epoll_wait returns with events
    double ctxsw_per_msg = kNone;         // voluntary context switches of the server thread
    double p50_us = kNone, p99_us = kNone;
    double parser_calls_per_msg = kNone, batches_per_msg = kNone;  // kernel path, from sf_conns
    uint64_t errors = 0;
    std::string error_detail;
    uint32_t rounds = 1;
    std::vector<double> round_msgs_per_s;  // every round's figure
    // Messages/s over handwritten's on the same work: the median of the rounds' ratios
    // (the strategies of one round ran back to back, under the same machine load).
    double vs_handwritten = kNone;
};

// Compile and load costs of the kernel path, per framing and batch mode.
struct SetupResult {
    Framing framing{};
    std::string mode;  // "batch" or "per-message"
    std::string skipped;
    double generate_ms = kNone, compile_ms = kNone, load_ms = kNone;  // wall clock
    double compile_cpu_ms = kNone;  // clang's CPU time (what an idle machine would take)
    double load_cpu_ms = kNone;     // this thread's CPU time in load + verify (the verifier runs here)
    uint32_t rounds = 1;
    uint32_t verified_insns = 0;
    size_t c_bytes = 0, object_bytes = 0;
};

// The description a framing uses, with max_message covering every size of the run.
Description bench_description(Framing f, uint64_t max_message);

// Runs one cell. Never throws; failures become errors in the result.
CellResult run_cell(const CellSpec& spec, const Description& d, const Options& o);
SetupResult measure_setup(Framing f, const Description& d, bool per_message);

// Median of rounds, metric by metric; errors add up.
CellResult median_of(const std::vector<CellResult>& rounds);

void print_table(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup,
                 const Options& o);
void print_jsonl(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup);
void print_targets(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup);
// Draws the plot with gnuplot; returns "" or why it could not.
std::string draw_plot(const std::string& path, const std::vector<CellResult>& cells);

// Per-thread system call counts, kept by the interposed libc wrappers (syscount.cpp).
struct SyscallCounts {
    uint64_t reads = 0;         // recv, recvfrom, recvmsg, read
    uint64_t polls = 0;         // poll, ppoll
    uint64_t epoll_waits = 0;   // calls
    uint64_t epoll_events = 0;  // calls that returned at least one event
    uint64_t sockopts = 0;      // getsockopt
    uint64_t sends = 0;         // send, sendto, write
    uint64_t receive_side() const { return reads + polls + epoll_waits + sockopts; }
};
SyscallCounts& thread_syscalls();

}  // namespace sockframe::bench
