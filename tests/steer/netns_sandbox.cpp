#include "netns_sandbox.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "support.hpp"

namespace sockframe::steer_test {

void enter_private_netns(unsigned alarm_seconds) {
    sockframe::testing::require_kernel_or_skip("steering tests (sk_lookup)");
    if (unshare(CLONE_NEWNET) != 0) {
        std::printf("SKIPPED: unshare(CLONE_NEWNET) failed: %s\n", std::strerror(errno));
        std::exit(77);
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) std::abort();
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) std::abort();
    close(s);
    alarm(alarm_seconds);  // default action: the test dies instead of hanging
}

namespace {
socklen_t fill(const std::string& address, uint16_t port, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof ss);
    if (address.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
        return sizeof *a;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &a->sin_addr);
    return sizeof *a;
}
}  // namespace

int connect_to(const std::string& address, uint16_t port) {
    sockaddr_storage ss;
    socklen_t len = fill(address, port, ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

std::pair<int, int> accept_any(const std::vector<int>& listeners) {
    std::vector<pollfd> p;
    for (int l : listeners) p.push_back({l, POLLIN, 0});
    if (poll(p.data(), p.size(), 2000) <= 0) return {-1, -1};
    for (size_t i = 0; i < p.size(); i++)
        if (p[i].revents & POLLIN) {
            int fd = accept4(listeners[i], nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) {
                timeval tv{2, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                return {static_cast<int>(i), fd};
            }
        }
    return {-1, -1};
}

bool round_trip(int client, int server, const std::string& text) {
    auto carry = [&](int from, int to) {
        if (send(from, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) return false;
        std::string got;
        char buf[4096];
        while (got.size() < text.size()) {
            ssize_t n = recv(to, buf, sizeof buf, 0);
            if (n <= 0) return false;
            got.append(buf, static_cast<size_t>(n));
        }
        return got == text;
    };
    return carry(client, server) && carry(server, client);
}

uint16_t local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

std::string local_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    char buf[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
    return buf;
}

int plain_listener(const std::string& address, uint16_t port) {
    sockaddr_storage ss;
    socklen_t len = fill(address, port, ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 16) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

Child::Child(const std::function<std::string()>& body) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
        close(p[0]);
        std::string err;
        try {
            err = body();
        } catch (const std::exception& e) {
            err = e.what();
        }
        std::string msg = err.empty() ? "ready" : err;
        if (write(p[1], msg.data(), msg.size()) < 0) _exit(1);
        close(p[1]);
        for (;;) pause();
    }
    close(p[1]);
    char buf[2048];
    ssize_t n = read(p[0], buf, sizeof buf);
    close(p[0]);
    std::string msg = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "child exited before it was ready";
    if (msg != "ready") error_ = msg;
}

void Child::kill_and_wait() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

Child::~Child() {
    kill_and_wait();
}

}  // namespace sockframe::steer_test
