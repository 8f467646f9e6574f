// sockframe-bench --workload send: the send side's cost against a plain send().
// One loopback connection per cell. Two tables:
//  - throughput: the sender writes messages of one size for --seconds, a reader thread
//    drains them; msgs/s and the sender thread's CPU time per message (user + system,
//    RUSAGE_THREAD);
//  - latency: one message in flight, the peer answers each whole message with one byte;
//    round trips p50/p99, for a single write, 8 plain writes (TCP_NODELAY) and the send
//    side given the message in 8 pieces (docs/send.md: within 10 us of a single write).
// Senders: plain send(); `sk_msg-pass`, the kernel's SK_MSG path with a verdict that
// passes everything (what the kernel costs); `sk_msg-local` (--local-delivery), each
// sendmsg redirected into the peer's receive queue, skipping TCP (issue 14 item 5:
// measured, not adopted; docs/send.md); `kernel`, sockframe's generated program;
// `userspace`, the twin. Not the matrix of main.cpp: the send side is measured alone.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sockframe/sender.hpp>

#include "send_baseline.hpp"
#include "support/loopback.hpp"

namespace sockframe::bench {
namespace {

using Clock = std::chrono::steady_clock;

double thread_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Who writes: plain send(), the pass-through SK_MSG program, or a sockframe Sender.
struct SenderKind {
    const char* name;
    Sender* sender = nullptr;                      // kernel / userspace
    const PassThroughSendProgram* pass = nullptr;  // sk_msg-pass
    const LocalDeliveryProgram* local = nullptr;   // sk_msg-local
};

struct Connection {
    Fd listener, client, server;
    std::unique_ptr<SendSocket> side;
    const PassThroughSendProgram* pass = nullptr;
    const LocalDeliveryProgram* local = nullptr;
    bool ok = false;

    explicit Connection(const SenderKind& k) : pass(k.pass), local(k.local) {
        sockaddr_in addr{};
        listener = loopback_listener(addr, 1);
        client = Fd(socket(AF_INET, SOCK_STREAM, 0));
        if (connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
        server = Fd(accept(listener.fd, nullptr, nullptr));
        int one = 1;
        setsockopt(client.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(server.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (k.sender) side = k.sender->attach(client.fd);
        if (pass && pass->attach(client.fd) != 0) return;
        if (local && local->attach_pair(client.fd, server.fd) != 0) return;
        ok = true;
    }
    ~Connection() {
        side.reset();
        if (pass && client.fd >= 0) pass->detach(client.fd);
        if (local) {  // out of the map before the sockets close
            if (client.fd >= 0) local->detach(client.fd);
            if (server.fd >= 0) local->detach(server.fd);
        }
    }
    // One message: through the send side in `pieces` sendmsgs, else plain writes.
    bool send_message(const std::vector<uint8_t>& msg, size_t pieces) {
        if (side) return side->send_pieces(msg, pieces).status == SendStatus::sent;
        size_t step = (msg.size() + pieces - 1) / pieces;
        for (size_t off = 0; off < msg.size(); off += step)
            if (!send_all(client.fd, msg.data() + off, std::min(step, msg.size() - off))) return false;
        return true;
    }
};

std::vector<uint8_t> message_of(size_t size) {
    std::vector<uint8_t> msg(size, 0x42);
    uint64_t v = size - 4;  // the bench description: u32be length of what follows
    msg[0] = static_cast<uint8_t>(v >> 24), msg[1] = static_cast<uint8_t>(v >> 16);
    msg[2] = static_cast<uint8_t>(v >> 8), msg[3] = static_cast<uint8_t>(v);
    return msg;
}

struct Throughput {
    double msgs_per_s = 0, cpu_us_per_msg = 0;
    bool ok = false;
};

Throughput run_throughput(const SenderKind& k, size_t size, double seconds) {
    Connection c(k);
    if (!c.ok) return {};
    std::thread reader([&] {
        std::vector<char> buf(1 << 20);
        while (recv(c.server.fd, buf.data(), buf.size(), 0) > 0) {
        }
    });
    std::vector<uint8_t> msg = message_of(size);
    uint64_t n = 0;
    bool ok = true;
    double cpu0 = thread_cpu_s();
    auto start = Clock::now();
    auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (ok) {
        for (int i = 0; i < 64 && ok; i++, n++) ok = c.send_message(msg, 1);
        if (Clock::now() >= end) break;
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    double cpu = thread_cpu_s() - cpu0;
    c.side.reset();
    shutdown(c.client.fd, SHUT_WR);
    reader.join();
    return {n / elapsed, cpu / n * 1e6, ok};
}

struct Latency {
    double p50_us = 0, p99_us = 0;
    size_t rounds = 0;
    bool ok = false;
};

// One message in flight; the peer reads it whole and answers with one byte.
Latency run_latency(const SenderKind& k, size_t size, size_t pieces, double seconds) {
    Connection c(k);
    if (!c.ok) return {};
    std::thread echo([&] {
        std::vector<char> buf(size);
        for (;;) {
            size_t got = 0;
            while (got < size) {
                ssize_t n = recv(c.server.fd, buf.data() + got, size - got, 0);
                if (n <= 0) return;
                got += static_cast<size_t>(n);
            }
            char ack = 1;
            if (::send(c.server.fd, &ack, 1, MSG_NOSIGNAL) != 1) return;
        }
    });
    std::vector<uint8_t> msg = message_of(size);
    std::vector<double> rtt;
    bool ok = true;
    auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (ok && Clock::now() < end && rtt.size() < 200000) {
        auto t0 = Clock::now();
        ok = c.send_message(msg, pieces);
        char ack;
        ok = ok && recv(c.client.fd, &ack, 1, 0) == 1;
        rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    c.side.reset();
    shutdown(c.client.fd, SHUT_WR);
    echo.join();
    if (rtt.empty()) return {};
    std::sort(rtt.begin(), rtt.end());
    return {rtt[rtt.size() / 2], rtt[rtt.size() * 99 / 100], rtt.size(), ok};
}

}  // namespace

int run_send_workload(double seconds, const std::vector<size_t>& sizes, bool with_local) {
    Description d = parse_description(
        "name = \"bench-send\"\nsummary = \"sockframe-bench send workload\"\nmax_message = 1048576\n"
        "[length]\noffset = 0\nwidth = 4\n",
        "bench-send.toml");
    std::unique_ptr<Sender> kernel, twin;
    std::unique_ptr<PassThroughSendProgram> pass;
    std::unique_ptr<LocalDeliveryProgram> local;
    SenderOptions o;
    o.mode = Mode::kernel;
    o.cork_max = 1 << 20;
    try {
        kernel = open_sender(d, o);
        pass = std::make_unique<PassThroughSendProgram>();
        if (with_local) local = std::make_unique<LocalDeliveryProgram>();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sockframe-bench: kernel send side unavailable: %s\n", e.what());
    }
    o.mode = Mode::userspace;
    twin = open_sender(d, o);
    std::vector<SenderKind> kinds = {{"plain"}};
    if (pass) kinds.push_back({"sk_msg-pass", nullptr, pass.get()});
    if (local) kinds.push_back({"sk_msg-local", nullptr, nullptr, local.get()});
    if (kernel) kinds.push_back({"kernel", kernel.get()});
    kinds.push_back({"userspace", twin.get()});

    std::printf("throughput: one connection, messages written back to back\n");
    std::printf("%-8s %-12s %12s %12s %10s\n", "size", "sender", "msgs/s", "cpu us/msg", "vs plain");
    for (size_t size : sizes) {
        double plain = 0;
        for (const SenderKind& k : kinds) {
            Throughput r = run_throughput(k, size, seconds);
            if (k.name == std::string("plain")) plain = r.msgs_per_s;
            char ratio[32];
            std::snprintf(ratio, sizeof ratio, "%.2f", plain > 0 ? r.msgs_per_s / plain : 0.0);
            std::printf("%-8zu %-12s %12.0f %12.3f %10s%s\n", size, k.name, r.msgs_per_s, r.cpu_us_per_msg, ratio,
                        r.ok ? "" : "  (a send failed)");
        }
        std::fflush(stdout);
    }

    std::printf("\nlatency: one message in flight, the peer answers each with one byte (round trip, us)\n");
    std::printf("%-8s %-12s %8s %10s %10s %10s\n", "size", "sender", "writes", "p50", "p99", "rounds");
    for (size_t size : sizes) {
        for (const SenderKind& k : kinds) {
            for (size_t pieces : {size_t{1}, size_t{8}}) {
                if (k.name == std::string("userspace") && pieces == 8) continue;  // the twin writes once anyway
                Latency r = run_latency(k, size, pieces, seconds / 2);
                std::printf("%-8zu %-12s %8zu %10.1f %10.1f %10zu%s\n", size, k.name, pieces, r.p50_us, r.p99_us,
                            r.rounds, r.ok ? "" : "  (failed)");
            }
        }
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace sockframe::bench
