#include "support.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sockframe/load_options.hpp>

namespace fs = std::filesystem;

namespace sockframe::testing {

std::string source_dir() {
    const char* d = std::getenv("SOCKFRAME_SOURCE_DIR");
    return d && *d ? d : ".";
}

Description shipped(const std::string& name) {
    return load_description_file(source_dir() + "/parsers/" + name + ".toml");
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void require_kernel_or_skip(const std::string& what) {
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty()) {
        std::printf("SKIPPED: %s need %s (run as root); the userspace framer tests still run\n", what.c_str(),
                    missing.c_str());
        std::fflush(stdout);
        std::exit(77);
    }
}

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
}

std::string TempDir::file(const std::string& name, const std::string& content) const {
    std::string p = (path / name).string();
    std::ofstream out(p, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + p);
    return p;
}

ScopedEnv::ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
        setenv(name_.c_str(), value->c_str(), 1);
    else
        unsetenv(name_.c_str());
}

ScopedEnv::~ScopedEnv() {
    if (old_)
        setenv(name_.c_str(), old_->c_str(), 1);
    else
        unsetenv(name_.c_str());
}

Listener::Listener(int rcvbuf, int backlog) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) || listen(fd, backlog) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
        std::string why = std::strerror(errno);
        if (fd >= 0) close(fd);
        throw std::runtime_error("loopback listener: " + why);
    }
}

Listener::~Listener() {
    close(fd);
}

std::pair<int, int> Listener::pair() const {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr)) {
        close(c);
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    int s = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) {
        close(c);
        throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
    }
    return {c, s};
}

void send_all(int fd, const uint8_t* p, size_t n) {
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

bool send_all_until(int fd, const uint8_t* p, size_t n, std::chrono::steady_clock::time_point deadline) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            pollfd pf{fd, POLLOUT, 0};
            poll(&pf, 1, 20);
            continue;
        }
        if (w < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

}  // namespace sockframe::testing
