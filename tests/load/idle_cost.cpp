// Measures what the kernel path costs while connections are idle: mostly the stall
// watchdog, which looks at every connection every quarter of stall_timeout_ms
// (docs/faults.md, "Watchdog cost"). For each connection count, the same N idle
// loopback connections are adopted twice, watchdog on (default 1 s) and off, and the
// process's CPU time (getrusage) is read over `seconds` of doing nothing; then 200 more
// are adopted, and the slowest adopt() is reported.
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

struct Idle {
    double cpu = 0;           // CPU seconds per second of wall time
    double adopt_max_us = 0;  // slowest of 200 adopt() calls made while the N are idle
};

// `n` idle connections on a fresh receiver: CPU used, and how long adopting one more takes.
static Idle idle(const Description& d, uint32_t n, uint32_t stall_timeout_ms, int seconds) {
    ReceiverOptions o;
    o.mode = Mode::kernel;
    o.probe = false;
    o.load.max_connections = n + 200;
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
    Idle result;
    result.cpu = (cpu_seconds() - before) / wall;
    // Adopt 200 more, 5 ms apart (spanning several watchdog sweeps); the slowest one shows
    // whether adopting waits for a sweep.
    std::vector<std::unique_ptr<Connection>> extra;
    for (int i = 0; i < 200; i++) {
        auto [c, s] = l.pair();
        clients.push_back(c);
        auto t0 = std::chrono::steady_clock::now();
        extra.push_back(r->adopt(s));
        double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        result.adopt_max_us = std::max(result.adopt_max_us, us);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    extra.clear();
    conns.clear();
    for (int c : clients) close(c);
    return result;
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
        if (6ull * (n + 200) + 64 > nofile.rlim_cur) {
            std::fprintf(stderr, "%u connections need about %llu descriptors; the limit here is %llu\n", n,
                         6ull * (n + 200) + 64, static_cast<unsigned long long>(nofile.rlim_cur));
            return 2;
        }
    Description d = parse_description(
        "name = \"idle\"\nsummary = \"idle connections\"\nmax_message = 65536\n"
        "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\n",
        "idle.toml");
    std::printf(
        "| idle connections | CPU, watchdog on (1 s) | CPU, watchdog off | watchdog per connection | slowest adopt(), "
        "on | slowest adopt(), off |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|\n");
    for (uint32_t n : counts) {
        Idle on = idle(d, n, 1000, seconds);
        Idle off = idle(d, n, 0, seconds);
        std::printf("| %u | %.2f %% | %.2f %% | %.2f µs/s | %.0f µs | %.0f µs |\n", n, 100 * on.cpu, 100 * off.cpu,
                    1e6 * (on.cpu - off.cpu) / n, on.adopt_max_us, off.adopt_max_us);
        std::fflush(stdout);
    }
    return 0;
}
