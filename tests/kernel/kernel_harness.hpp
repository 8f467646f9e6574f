// Shared plumbing for kernel-path tests: privilege check (SKIPPED, exit 77),
// loopback socket pairs, deadline-bounded receiving and the dmesg check.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "load/parser_program.hpp"
#include <sockframe/connection.hpp>
#include <sockframe/receiver.hpp>

namespace sockframe::testing {

// Exits 77 (meson: SKIP) with the reason when the kernel path can't run here.
inline void require_kernel_or_skip() {
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty()) {
        std::printf("SKIPPED: kernel-path tests need %s (run as root); the userspace framer tests still run\n",
                    missing.c_str());
        std::exit(77);
    }
}

inline std::string kernel_log_marks() {
    FILE* p = popen("dmesg 2>/dev/null | grep -E 'kernel BUG|WARNING: CPU|seq # bug|BUG: |Oops'", "r");
    std::string out;
    if (!p) return out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

struct Listener {
    int fd = -1;
    sockaddr_in addr{};
    explicit Listener(int rcvbuf = 0) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) || listen(fd, 256) ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len))
            throw std::runtime_error("listener");
    }
    ~Listener() { close(fd); }
    // client side connected, server side accepted
    std::pair<int, int> pair() const {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr)) throw std::runtime_error("connect");
        int s = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (s < 0) throw std::runtime_error("accept");
        return {c, s};
    }
};

inline void send_all(int fd, const uint8_t* p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
}

struct Got {
    std::vector<std::vector<uint8_t>> messages;
    std::vector<uint64_t> offsets;
    std::string error;   // FramingError::message if one ended the stream
    bool ended = false;  // clean end
    bool timed_out = false;
};

// How receive_until waits after would_block. `retrying` polls for at most 200 ms at a time,
// so a wake-up the connection fails to signal only costs time; `level_triggered` says so
// to the connection (set_level_triggered) and waits on poll_fd() for as long as is left,
// so a missed wake-up ends the call with timed_out.
enum class Waiting { retrying, level_triggered };

// Receives (non-blocking + poll) until `want` messages, an error/end, or the deadline.
inline void receive_until(Connection& c, Got& got, size_t want, double seconds, bool until_end = false,
                          Waiting waiting = Waiting::retrying) {
    c.set_nonblocking(true);
    if (waiting == Waiting::level_triggered) c.set_level_triggered(true);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        Received r = c.receive();
        if (r.status == ReceiveStatus::message) {
            got.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
            got.offsets.push_back(r.message.offset);
            if (!until_end && got.messages.size() >= want) return;
            continue;
        }
        if (r.status == ReceiveStatus::error) {
            got.error = r.error->message;
            return;
        }
        if (r.status == ReceiveStatus::end) {
            got.ended = true;
            return;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            got.timed_out = true;
            return;
        }
        pollfd p{c.poll_fd(), POLLIN, 0};
        if (waiting == Waiting::retrying) {
            poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 200)));
        } else if (poll(&p, 1, static_cast<int>(left.count())) == 0) {
            got.timed_out = true;
            return;
        }
    }
}

}  // namespace sockframe::testing
