#include "route/sockets.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sockframe {
namespace {

struct AddrInfo {
    addrinfo* res = nullptr;
    ~AddrInfo() {
        if (res) freeaddrinfo(res);
    }
};

void resolve(const std::string& host, const std::string& port, bool passive, AddrInfo& out, const std::string& what) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &out.res);
    if (rc != 0) throw std::invalid_argument(what + ": " + gai_strerror(rc));
}

}  // namespace

Fd listen_tcp(const std::string& spec, int backlog) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT, got \"" + spec + "\"");
    std::string host = spec.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    AddrInfo ai;
    resolve(host, spec.substr(colon + 1), true, ai, "--listen " + spec);
    Fd fd(socket(ai.res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (fd.fd >= 0) setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd.fd < 0 || bind(fd.fd, ai.res->ai_addr, ai.res->ai_addrlen) != 0 || listen(fd.fd, backlog) != 0)
        throw std::runtime_error("cannot listen on " + spec + ": " + std::strerror(errno));
    return fd;
}

uint16_t local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

Fd connect_tcp(const ProxyBackend& b, int timeout_ms, int rcvbuf) {
    AddrInfo ai;
    try {
        resolve(b.host, std::to_string(b.port), false, ai, b.name());
    } catch (const std::invalid_argument&) {
        errno = EHOSTUNREACH;
        return {};
    }
    Fd fd(socket(ai.res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) return {};
    if (rcvbuf) set_rcvbuf(fd.fd, rcvbuf);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect()
    if (connect(fd.fd, ai.res->ai_addr, ai.res->ai_addrlen) != 0) {
        int e = errno;
        fd = Fd();
        errno = e;
        return {};
    }
    timeval none{};
    setsockopt(fd.fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    return fd;
}

void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void set_rcvbuf(int fd, int bytes) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace sockframe
