// Measures what the kernel path costs while connections are idle: mostly the stall
// watchdog, which looks at every connection every quarter of stall_timeout_ms
// (docs/faults.md, "Watchdog cost"). For each connection count, the same N idle
// loopback connections are adopted twice, watchdog on (default 1 s) and off, and the
// process's CPU time (getrusage) is read over `seconds` of doing nothing.
//   idle_cost [seconds=5] [counts=100,1000,3000]
#include <sys/resource.h>

#include <cstdio>
#include <sstream>
#include <thread>

#include "../kernel/kernel_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

static double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds per second of wall time with `n` idle connections on a fresh receiver.
static double idle_cpu(const Description& d, uint32_t n, uint32_t stall_timeout_ms, int seconds) {
    ReceiverOptions o;
    o.mode = Mode::kernel;
    o.probe = false;
    o.load.max_connections = n;
    o.load.stall_timeout_ms = stall_timeout_ms;
    auto r = open_receiver(d, o);
    Listener l;
    std::vector<int> clients;
    std::vector<std::unique_ptr<Connection>> conns;
    for (uint32_t i = 0; i < n; i++) {
        auto [c, s] = l.pair();
        clients.push_back(c);
        conns.push_back(r->adopt(s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // settle
    double before = cpu_seconds();
    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double used = (cpu_seconds() - before) / wall;
    conns.clear();
    for (int c : clients) close(c);
    return used;
}

int main(int argc, char** argv) {
    int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
    std::vector<uint32_t> counts = {100, 1000, 3000};
    if (argc > 2) {
        counts.clear();
        std::stringstream in(argv[2]);
        for (std::string t; std::getline(in, t, ',');) counts.push_back(std::stoul(t));
    }
    require_kernel_or_skip();
    alarm(60 + 4 * seconds * counts.size() + 120);
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    // Six descriptors per connection here: the client, S, the delivery pair, an epoll set, an eventfd.
    for (uint32_t n : counts)
        if (6ull * n + 64 > nofile.rlim_cur) {
            std::fprintf(stderr, "%u connections need about %llu descriptors; the limit here is %llu\n", n,
                         6ull * n + 64, static_cast<unsigned long long>(nofile.rlim_cur));
            return 2;
        }
    Description d = parse_description(
        "name = \"idle\"\nsummary = \"idle connections\"\nmax_message = 65536\n"
        "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\n",
        "idle.toml");
    std::printf("| idle connections | CPU, watchdog on (1 s) | CPU, watchdog off | watchdog per connection |\n");
    std::printf("|---:|---:|---:|---:|\n");
    for (uint32_t n : counts) {
        double on = idle_cpu(d, n, 1000, seconds);
        double off = idle_cpu(d, n, 0, seconds);
        std::printf("| %u | %.2f %% | %.2f %% | %.2f µs/s |\n", n, 100 * on, 100 * off, 1e6 * (on - off) / n);
        std::fflush(stdout);
    }
    return 0;
}
