// Counts the receive-side system calls of each thread, whoever makes them.
//
// The executable defines the libc entry points below, so every call to them,
// from the benchmark's own code and from the sockframe library linked into it,
// comes here first: the library's hidden calls (an extra recv that says EAGAIN,
// a poll for hang-ups) are counted exactly like the baseline's. Each wrapper
// makes the same raw system call libc would, so every strategy pays the same.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cerrno>

#include "bench.hpp"

namespace sockframe::bench {
namespace {
thread_local SyscallCounts tl_counts;
}
SyscallCounts& thread_syscalls() {
    return tl_counts;
}
}  // namespace sockframe::bench

using sockframe::bench::tl_counts;

extern "C" {

ssize_t recv(int fd, void* buf, size_t n, int flags) {
    tl_counts.reads++;
    return syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
}

ssize_t recvfrom(int fd, void* __restrict buf, size_t n, int flags, sockaddr* __restrict from,
                 socklen_t* __restrict from_len) {
    tl_counts.reads++;
    return syscall(SYS_recvfrom, fd, buf, n, flags, from, from_len);
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
    tl_counts.reads++;
    return syscall(SYS_recvmsg, fd, msg, flags);
}

ssize_t read(int fd, void* buf, size_t n) {
    tl_counts.reads++;
    return syscall(SYS_read, fd, buf, n);
}

int poll(pollfd* fds, nfds_t n, int timeout_ms) {
    tl_counts.polls++;
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    return static_cast<int>(syscall(SYS_ppoll, fds, n, timeout_ms < 0 ? nullptr : &ts, nullptr, 0));
}

int epoll_wait(int epfd, epoll_event* events, int max_events, int timeout_ms) {
    tl_counts.epoll_waits++;
    int n = static_cast<int>(syscall(SYS_epoll_pwait, epfd, events, max_events, timeout_ms, nullptr, 8));
    if (n > 0) tl_counts.epoll_events++;
    return n;
}

int getsockopt(int fd, int level, int name, void* __restrict value, socklen_t* __restrict len) noexcept {
    tl_counts.sockopts++;
    return static_cast<int>(syscall(SYS_getsockopt, fd, level, name, value, len));
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
    tl_counts.sends++;
    return syscall(SYS_sendto, fd, buf, n, flags, nullptr, 0);
}

}  // extern "C"
