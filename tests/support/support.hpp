// What the tests share (one copy instead of one per test file): the source tree and
// its shipped descriptions, scratch directories and environment changes undone by
// RAII, loopback sockets, sends that finish, a checksum, and the skip (exit 77) for
// tests that need privileges this process lacks.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include <sockframe/description.hpp>

namespace sockframe::testing {

// $SOCKFRAME_SOURCE_DIR (set by meson for every test), else ".".
std::string source_dir();
// A shipped description from the source tree's parsers/ ("dns" -> parsers/dns.toml).
Description shipped(const std::string& name);
std::string read_file(const std::filesystem::path& path);

// Exits 77 (meson: SKIP) with the reason when the kernel path can't run here
// (missing CAP_BPF / CAP_NET_ADMIN).
void require_kernel_or_skip(const std::string& what = "kernel-path tests");

// A scratch directory, removed with everything in it when this goes out of scope.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "sockframe-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // Writes `content` to `name` inside the directory; returns the file's path.
    std::string file(const std::string& name, const std::string& content) const;
};

// Sets (or, with nullopt, unsets) an environment variable; the old value comes back
// when this goes out of scope.
class ScopedEnv {
public:
    ScopedEnv(std::string name, std::optional<std::string> value);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// A TCP listener on 127.0.0.1 at a port the kernel picks; pair() connects a client
// (TCP_NODELAY) and accepts it. Throws on failure.
struct Listener {
    int fd = -1;
    sockaddr_in addr{};
    explicit Listener(int rcvbuf = 0, int backlog = 256);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    uint16_t port() const { return ntohs(addr.sin_port); }
    std::pair<int, int> pair() const;  // {client, accepted server side}; the caller closes both
};

// Sends all `n` bytes (EINTR retried, no SIGPIPE); throws on a socket error.
void send_all(int fd, const uint8_t* p, size_t n);
// Sends all `n` bytes without blocking past `deadline`: false if the peer stopped taking data.
bool send_all_until(int fd, const uint8_t* p, size_t n, std::chrono::steady_clock::time_point deadline);

// FNV-1a over bytes (message checksums in the load and soak tests).
uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace sockframe::testing
