// Shared plumbing for the send-side tests: messages of a description, loopback pairs,
// reading exactly what arrived (with a deadline), TCP_INFO segment counts.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "support.hpp"

namespace sockframe::testing {

using Bytes = std::vector<uint8_t>;

// A dns-tcp message (2-byte big-endian length, then the body) of `total` bytes whose
// body bytes depend on `seed`, so a misplaced byte shows.
inline Bytes dns_message(size_t total, uint32_t seed) {
    Bytes m(total);
    m[0] = static_cast<uint8_t>((total - 2) >> 8);
    m[1] = static_cast<uint8_t>(total - 2);
    for (size_t i = 2; i < total; i++) m[i] = static_cast<uint8_t>(seed * 131 + i * 7);
    return m;
}

inline Bytes concat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Reads until `want` bytes arrived, the peer closed, or nothing came for `quiet_ms`.
inline Bytes read_until(int fd, size_t want, int quiet_ms = 1000) {
    Bytes got;
    uint8_t buf[65536];
    while (got.size() < want) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, quiet_ms) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            break;
        }
        got.insert(got.end(), buf, buf + n);
    }
    return got;
}

// Writes `bytes` in writes of `chunk` bytes (each its own sendmsg); returns the errno
// of the first failed write (0 if all went), and how many bytes went in `sent`.
inline int write_chunks(int fd, const Bytes& bytes, size_t chunk, size_t* sent = nullptr) {
    size_t off = 0;
    while (off < bytes.size()) {
        size_t n = std::min(chunk, bytes.size() - off);
        ssize_t w = ::send(fd, bytes.data() + off, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (sent) *sent = off;
            return w == 0 ? -1 : errno;
        }
        off += static_cast<size_t>(w);
    }
    if (sent) *sent = off;
    return 0;
}

// TCP_INFO tcpi_data_segs_out: data segments the socket sent (tcp_segments.cpp).
uint64_t data_segs_out(int fd);

inline void set_nonblocking(int fd, bool on) {
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

// A connected loopback pair, both ends closed with it.
struct Pair {
    int client = -1, server = -1;
    explicit Pair(const Listener& l) { std::tie(client, server) = l.pair(); }
    ~Pair() {
        if (client >= 0) close(client);
        if (server >= 0) close(server);
    }
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;
};

}  // namespace sockframe::testing
