#include "support/loopback.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sockframe {

Fd::~Fd() {
    if (fd >= 0) close(fd);
}

Fd loopback_listener(sockaddr_in& addr, int backlog) {
    Fd l(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (l.fd < 0) return l;
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(l.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(l.fd, backlog) != 0 ||
        getsockname(l.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        int e = errno;
        l = Fd();
        errno = e;
    }
    return l;
}

bool send_all(int fd, const uint8_t* p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

}  // namespace sockframe
