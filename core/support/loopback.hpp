// Loopback plumbing the kernel path builds on: an owned descriptor, a listener on
// 127.0.0.1 at a port the kernel picks, and a send that finishes or fails.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace sockframe {

// Owns one file descriptor (-1 = none).
struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd, o.fd);
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    int release() { return std::exchange(fd, -1); }
};

// A TCP listener on 127.0.0.1 at a port the kernel picks, written to `addr`.
// Returns an empty Fd (errno set) on failure.
Fd loopback_listener(sockaddr_in& addr, int backlog);

// Sends all `n` bytes (retrying on EINTR, no SIGPIPE); false if the socket failed.
bool send_all(int fd, const uint8_t* p, size_t n);

}  // namespace sockframe
