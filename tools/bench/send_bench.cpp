// sockframe-bench --workload send: the send side's cost against a plain send().
// One loopback connection per cell; the sender writes messages of one size for
// --seconds, a reader thread drains them. Reports msgs/s and the sender thread's
// CPU time per message (user + system, RUSAGE_THREAD). Not the matrix of main.cpp:
// the send side is measured on its own (docs/send.md).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sockframe/sender.hpp>

#include "support/loopback.hpp"

namespace sockframe::bench {
namespace {

double thread_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Result {
    double msgs_per_s = 0, cpu_us_per_msg = 0;
    bool ok = false;
};

// mode: "plain", "kernel", "userspace"
Result run_cell(const Description& d, Sender* sender, size_t size, double seconds) {
    sockaddr_in addr{};
    Fd listener = loopback_listener(addr, 1);
    Fd client(socket(AF_INET, SOCK_STREAM, 0));
    if (connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
    Fd server(accept(listener.fd, nullptr, nullptr));
    int one = 1;
    setsockopt(client.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread reader([&] {
        std::vector<char> buf(1 << 20);
        while (recv(server.fd, buf.data(), buf.size(), 0) > 0) {
        }
    });
    std::vector<uint8_t> msg(size, 0x42);
    const LengthField& f = d.length();
    uint64_t v = size - f.as_uint()->header;
    msg[0] = static_cast<uint8_t>(v >> 24), msg[1] = static_cast<uint8_t>(v >> 16);
    msg[2] = static_cast<uint8_t>(v >> 8), msg[3] = static_cast<uint8_t>(v);
    std::unique_ptr<SendSocket> side = sender ? sender->attach(client.fd) : nullptr;
    uint64_t n = 0;
    bool ok = true;
    double cpu0 = thread_cpu_s();
    auto start = std::chrono::steady_clock::now();
    auto end =
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    while (ok) {
        for (int i = 0; i < 64 && ok; i++, n++) {
            if (side)
                ok = side->send(msg).status == SendStatus::sent;
            else
                ok = send_all(client.fd, msg.data(), msg.size());
        }
        if (std::chrono::steady_clock::now() >= end) break;
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double cpu = thread_cpu_s() - cpu0;
    side.reset();
    shutdown(client.fd, SHUT_WR);
    reader.join();
    return {n / elapsed, cpu / n * 1e6, ok};
}

}  // namespace

int run_send_workload(double seconds, const std::vector<size_t>& sizes) {
    Description d = parse_description(
        "name = \"bench-send\"\nsummary = \"sockframe-bench send workload\"\nmax_message = 1048576\n"
        "[length]\noffset = 0\nwidth = 4\n",
        "bench-send.toml");
    std::unique_ptr<Sender> kernel, twin;
    SenderOptions o;
    o.mode = Mode::kernel;
    o.cork_max = 1 << 20;
    try {
        kernel = open_sender(d, o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sockframe-bench: kernel send side unavailable: %s\n", e.what());
    }
    o.mode = Mode::userspace;
    twin = open_sender(d, o);
    std::printf("%-8s %-10s %12s %12s %10s\n", "size", "sender", "msgs/s", "cpu us/msg", "vs plain");
    for (size_t size : sizes) {
        Result plain = run_cell(d, nullptr, size, seconds);
        std::printf("%-8zu %-10s %12.0f %12.3f %10s\n", size, "plain", plain.msgs_per_s, plain.cpu_us_per_msg, "1.00");
        for (auto [name, s] : {std::pair<const char*, Sender*>{"kernel", kernel.get()}, {"userspace", twin.get()}}) {
            if (!s) continue;
            Result r = run_cell(d, s, size, seconds);
            char ratio[32];
            std::snprintf(ratio, sizeof ratio, "%.2f", plain.msgs_per_s > 0 ? r.msgs_per_s / plain.msgs_per_s : 0.0);
            std::printf("%-8zu %-10s %12.0f %12.3f %10s%s\n", size, name, r.msgs_per_s, r.cpu_us_per_msg, ratio,
                        r.ok ? "" : "  (a send failed)");
        }
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace sockframe::bench
