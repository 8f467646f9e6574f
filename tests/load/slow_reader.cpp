// Measures what one connection can make the kernel hold when the server does not
// read (docs/faults.md, "unbounded kernel memory under a slow reader"): a client
// writes MiB of messages for a bounded time while the server never calls receive();
// prints MemAvailable and `ss -tm` for the sockets, then reads everything and checks it.
//   slow_reader [MiB=64] [seconds=5] [--userspace]
#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "../kernel/kernel_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

static long mem_available_kib() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    long v = 0;
    std::string unit;
    while (in >> key >> v >> unit)
        if (key == "MemAvailable:") return v;
    return -1;
}

static void ss(const char* when, uint16_t port) {
    std::printf("ss -tmp (%s), this process's TCP sockets:\n", when);
    (void)port;  // every TCP socket of this process: client, S, and the delivery pair A/B
    std::string cmd = "ss -tmnp | grep -A1 'pid=" + std::to_string(getpid()) + ",' | grep -v '^--'";
    std::fflush(stdout);
    if (system(cmd.c_str()) != 0) std::printf("(ss failed)\n");
}

int main(int argc, char** argv) {
    uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64;
    int seconds = argc > 2 ? std::atoi(argv[2]) : 5;
    bool userspace = argc > 3 && std::string(argv[3]) == "--userspace";
    alarm(seconds + 120);
    Description d = parse_description(
        "name = \"slow\"\nsummary = \"slow reader\"\nmax_message = 65536\n"
        "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\n",
        "slow.toml");
    ReceiverOptions o;
    o.mode = userspace ? Mode::userspace : Mode::kernel;
    auto r = open_receiver(d, o);
    Listener l;
    auto [c, s] = l.pair();
    auto conn = r->adopt(s);
    uint16_t port = ntohs(l.addr.sin_port);
    std::vector<uint8_t> msg(16384);
    uint32_t body = msg.size() - 4;
    msg[0] = body >> 24, msg[1] = body >> 16, msg[2] = body >> 8, msg[3] = body;
    for (size_t i = 4; i < msg.size(); i++) msg[i] = static_cast<uint8_t>(i * 7);
    uint64_t want = mib << 20, sent = 0;
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    long before = mem_available_kib();
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::seconds(seconds);
    size_t pos = 0;
    while (sent < want && std::chrono::steady_clock::now() < deadline) {
        ssize_t w = send(c, msg.data() + pos, msg.size() - pos, MSG_NOSIGNAL);
        if (w > 0) {
            sent += w;
            pos = (pos + w) % msg.size();
        } else {
            pollfd p{c, POLLOUT, 0};
            poll(&p, 1, 50);
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    long after = mem_available_kib();
    std::printf("%s path: client wrote %.1f MiB in %.2f s while the server did not read (%s)\n", conn->mode(),
                sent / 1048576.0, secs, sent >= want ? "no backpressure: all accepted" : "writer blocked: backpressure");
    std::printf("MemAvailable: %ld MiB before, %ld MiB after: %.1f MiB held\n", before / 1024, after / 1024,
                (before - after) / 1024.0);
    ss("before reading", port);
    // Now read everything: nothing lost.
    uint64_t got = 0, messages = 0;
    bool ok = true;
    uint64_t whole = sent / msg.size();
    while (messages < whole) {
        Got g;
        receive_until(*conn, g, 1, 10);
        if (g.timed_out || g.messages.empty()) {
            ok = false;
            break;
        }
        if (g.messages[0] != msg) ok = false;
        got += g.messages[0].size();
        messages++;
    }
    std::printf("read back %llu whole messages (%.1f MiB), all intact: %s\n", static_cast<unsigned long long>(messages),
                got / 1048576.0, ok ? "yes" : "NO");
    std::printf("MemAvailable after reading: %ld MiB\n", mem_available_kib() / 1024);
    close(c);
    conn.reset();
    r.reset();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::printf("MemAvailable 1 s after closing: %ld MiB\n", mem_available_kib() / 1024);
    return ok ? 0 : 1;
}
