// One cell of the matrix: one strategy, one workload, one size, N connections.
//
// The main thread makes the loopback connections, hands the accepted sockets to
// the strategy, starts a server thread and a client thread (pinned apart), and
// watches them: a cell that stops making progress (a stalled kernel connection)
// or runs past its deadline ends with an error, and SIGALRM ends the process if
// even that fails. Counters are taken over a measured window after a warm-up.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <mutex>
#include <thread>

#include "bench.hpp"
#include <sockframe/receiver.hpp>
#include "sysstat.hpp"
#include "workload.hpp"

namespace sockframe::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRead = 64 * 1024;  // the baseline reads what the library reads

int64_t ns_of(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// System calls the measurement must not count: the client's and the echo's.
ssize_t raw_send(int fd, const void* p, size_t n, int flags) {
    return syscall(SYS_sendto, fd, p, n, flags | MSG_NOSIGNAL, nullptr, 0);
}
ssize_t raw_recv(int fd, void* p, size_t n, int flags) {
    return syscall(SYS_recvfrom, fd, p, n, flags, nullptr, nullptr);
}
int raw_poll(pollfd* fds, nfds_t n, int timeout_ms) {
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    return static_cast<int>(syscall(SYS_ppoll, fds, n, &ts, nullptr, 0));
}

// Names the thread (for perf and top) and pins it.
void pin_to(int cpu, const char* thread_name) {
    pthread_setname_np(pthread_self(), thread_name);
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

struct alignas(64) PaddedCounter {
    std::atomic<uint64_t> v{0};
};

// What the cell's threads share.
struct Shared {
    Clock::time_point t_measure, t_end;
    std::atomic<bool> abort{false};
    std::atomic<int64_t> last_progress{0};
    std::atomic<uint64_t> errors{0};
    std::unique_ptr<PaddedCounter[]> acked;  // bytes the server took, per connection (client window)
    std::mutex mutex;
    std::string first_error;

    void error(const std::string& what, uint64_t count = 1) {
        errors += count;
        std::lock_guard<std::mutex> lock(mutex);
        if (first_error.empty()) first_error = what;
    }
    bool over(Clock::time_point now) const { return now >= t_end || abort.load(std::memory_order_relaxed); }
};

struct ThreadUsage {
    uint64_t cpu_ns = 0, nvcsw = 0;
};
ThreadUsage thread_usage() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    auto us = [](timeval t) { return static_cast<uint64_t>(t.tv_sec) * 1000000 + static_cast<uint64_t>(t.tv_usec); };
    return {(us(ru.ru_utime) + us(ru.ru_stime)) * 1000, static_cast<uint64_t>(ru.ru_nvcsw)};
}

// ---- server strategies --------------------------------------------------------------
// Each has poll_fd(i), reply_fd(i) and drain(i, on_message, shared) -> false when the
// connection is finished. on_message(i, bytes, size) sees each whole message once.

// sockframe's receive API, kernel or userspace path.
struct LibraryServer {
    std::vector<std::unique_ptr<Connection>> conns;
    int poll_fd(size_t i) const { return conns[i]->poll_fd(); }
    int reply_fd(size_t i) const { return conns[i]->socket(); }
    template <class F>
    bool drain(size_t i, F&& on_message, Shared& sh) {
        Connection& c = *conns[i];
        for (;;) {
            Received r = c.receive();
            switch (r.status) {
                case ReceiveStatus::message:
                    on_message(i, r.message.bytes.data(), r.message.bytes.size());
                    continue;
                case ReceiveStatus::would_block:
                    return true;
                case ReceiveStatus::error:
                    sh.error("connection " + std::to_string(i) + ": " + r.error->message);
                    return false;
                case ReceiveStatus::end:
                    sh.error("connection " + std::to_string(i) + ": ended early");
                    return false;
            }
        }
    }
};

// The baseline: what a competent user writes without sockframe. 64 KiB reads into a
// per-connection buffer, the split inline, a short read means the socket is drained.
struct HandwrittenServer {
    struct Conn {
        int fd;
        std::vector<uint8_t> buf;
        size_t begin = 0, end = 0, scanned = 0;
    };
    std::vector<Conn> conns;
    bool delimiter = false;
    uint64_t max_message = 0;

    HandwrittenServer(const std::vector<int>& fds, bool delim, uint64_t max) : delimiter(delim), max_message(max) {
        for (int fd : fds) conns.push_back({fd, std::vector<uint8_t>(kRead + max), 0, 0, 0});
    }
    ~HandwrittenServer() {
        for (auto& c : conns) close(c.fd);
    }
    int poll_fd(size_t i) const { return conns[i].fd; }
    int reply_fd(size_t i) const { return conns[i].fd; }

    template <class F>
    bool drain(size_t i, F&& on_message, Shared& sh) {
        Conn& c = conns[i];
        for (;;) {
            if (c.buf.size() - c.end < kRead) {
                std::memmove(c.buf.data(), c.buf.data() + c.begin, c.end - c.begin);
                c.end -= c.begin;
                c.begin = 0;
            }
            ssize_t n = recv(c.fd, c.buf.data() + c.end, kRead, MSG_DONTWAIT);
            if (n > 0) {
                c.end += static_cast<size_t>(n);
                if (!split(i, c, on_message, sh)) return false;
                if (static_cast<size_t>(n) < kRead) return true;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
            sh.error("connection " + std::to_string(i) + ": " + (n == 0 ? "ended early" : std::strerror(errno)));
            return false;
        }
    }

    template <class F>
    bool split(size_t i, Conn& c, F& on_message, Shared& sh) {
        uint8_t* base = c.buf.data();
        if (!delimiter) {
            while (c.end - c.begin >= 4) {
                const uint8_t* p = base + c.begin;
                uint64_t total = 4 + (uint64_t{p[0]} << 24 | uint64_t{p[1]} << 16 | uint64_t{p[2]} << 8 | p[3]);
                if (total > max_message) {
                    sh.error("connection " + std::to_string(i) + ": message of " + std::to_string(total) + " bytes");
                    return false;
                }
                if (total > c.end - c.begin) break;
                on_message(i, p, total);
                c.begin += total;
            }
        } else {
            for (;;) {
                size_t from = c.begin + c.scanned;
                auto* hit = static_cast<uint8_t*>(std::memchr(base + from, '\n', c.end - from));
                if (!hit) {
                    c.scanned = c.end - c.begin;
                    if (c.scanned >= max_message) {
                        sh.error("connection " + std::to_string(i) + ": no delimiter");
                        return false;
                    }
                    break;
                }
                size_t total = static_cast<size_t>(hit + 1 - (base + c.begin));
                on_message(i, base + c.begin, total);
                c.begin += total;
                c.scanned = 0;
            }
        }
        if (c.begin == c.end) c.begin = c.end = 0;
        return true;
    }
};

// Header read then body read (length framing); one recv per byte up to the
// delimiter, as an unbuffered getline does (delimiter framing). Blocking
// sockets, one message per readiness event. SO_RCVTIMEO lets it notice the end.
struct NaiveServer {
    struct Conn {
        int fd;
        std::vector<uint8_t> buf;
    };
    std::vector<Conn> conns;
    bool delimiter = false;
    uint64_t max_message = 0;

    NaiveServer(const std::vector<int>& fds, bool delim, uint64_t max) : delimiter(delim), max_message(max) {
        for (int fd : fds) {
            timeval tv{0, 100000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            conns.push_back({fd, std::vector<uint8_t>(max)});
        }
    }
    ~NaiveServer() {
        for (auto& c : conns) close(c.fd);
    }
    int poll_fd(size_t i) const { return conns[i].fd; }
    int reply_fd(size_t i) const { return conns[i].fd; }

    // 1: got all, 0: stop (end of the run), -1: failed
    int read_exact(size_t i, uint8_t* p, size_t n, Shared& sh) {
        size_t got = 0;
        while (got < n) {
            ssize_t r = recv(conns[i].fd, p + got, n - got, MSG_WAITALL);
            if (r > 0) {
                got += static_cast<size_t>(r);
                continue;
            }
            if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (sh.over(Clock::now())) return 0;
                continue;
            }
            if (sh.over(Clock::now())) return 0;
            sh.error("connection " + std::to_string(i) + ": " + (r == 0 ? "ended early" : std::strerror(errno)));
            return -1;
        }
        return 1;
    }

    template <class F>
    bool drain(size_t i, F&& on_message, Shared& sh) {
        uint8_t* buf = conns[i].buf.data();
        if (!delimiter) {
            int r = read_exact(i, buf, 4, sh);
            if (r <= 0) return r == 0;
            uint64_t total = 4 + (uint64_t{buf[0]} << 24 | uint64_t{buf[1]} << 16 | uint64_t{buf[2]} << 8 | buf[3]);
            if (total > max_message) {
                sh.error("connection " + std::to_string(i) + ": message of " + std::to_string(total) + " bytes");
                return false;
            }
            r = read_exact(i, buf + 4, total - 4, sh);
            if (r <= 0) return r == 0;
            on_message(i, buf, total);
            return true;
        }
        for (size_t n = 0; n < max_message; n++) {
            if (n % 4096 == 4095 && sh.over(Clock::now())) return true;
            int r = read_exact(i, buf + n, 1, sh);
            if (r <= 0) return r == 0;
            if (buf[n] == '\n') {
                on_message(i, buf, n + 1);
                return true;
            }
        }
        sh.error("connection " + std::to_string(i) + ": no delimiter");
        return false;
    }
};

// ---- the server thread ------------------------------------------------------------------

struct ServerResult {
    uint64_t messages = 0, bytes = 0;  // in the window
    SyscallCounts sc;
    ThreadUsage usage;
    bool measured = false;
};

bool send_all_raw(int fd, const uint8_t* p, size_t n, Shared& sh) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = raw_send(fd, p + done, n - done, MSG_DONTWAIT);
        if (r > 0) {
            done += static_cast<size_t>(r);
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            pollfd pf{fd, POLLOUT, 0};
            raw_poll(&pf, 1, 20);
            if (sh.over(Clock::now())) return false;
        } else {
            return false;
        }
    }
    return true;
}

template <class S>
void server_thread(S& s, size_t n_conns, const CellSpec& spec, const MessageFormat& fmt, Shared& sh, int cpu,
                   ServerResult& out) {
    pin_to(cpu, "bench-server");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < n_conns; i++) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, s.poll_fd(i), &e);
    }
    std::vector<uint64_t> next(n_conns, 0), taken(n_conns, 0);
    uint64_t messages = 0, bytes = 0, bad = 0;
    const bool echo = spec.workload == Workload::pingpong;
    auto on_message = [&](size_t i, const uint8_t* p, size_t n) {
        if (!fmt.check(p, n, next[i])) [[unlikely]] {
            uint64_t claimed = fmt.claimed(p, n);
            if (bad++ < 1)
                sh.error("connection " + std::to_string(i) + ": message " + std::to_string(next[i]) + " is wrong (" +
                         std::to_string(n) + " bytes, claims sequence " +
                         (claimed == ~0ULL ? std::string("?") : std::to_string(claimed)) + ")");
            else
                sh.errors++;
            if (claimed != ~0ULL) next[i] = claimed;
        }
        next[i]++;
        messages++;
        bytes += n;
        taken[i] += n;
        if (echo && !send_all_raw(s.reply_fd(i), p, n, sh) && !sh.over(Clock::now()))
            sh.error("connection " + std::to_string(i) + ": echo failed");
    };

    uint64_t start_messages = 0, start_bytes = 0;
    SyscallCounts start_sc;
    ThreadUsage start_usage;
    epoll_event events[64];
    for (;;) {
        int n = epoll_wait(ep, events, 64, 20);
        uint64_t before = messages;
        for (int k = 0; k < n; k++) {
            // A slow strategy (naive) must not run far past the end draining 64 events.
            if (k > 0 && sh.over(Clock::now())) break;
            size_t i = events[k].data.u64;
            if (!s.drain(i, on_message, sh)) epoll_ctl(ep, EPOLL_CTL_DEL, s.poll_fd(i), nullptr);
            sh.acked[i].v.store(taken[i], std::memory_order_release);
        }
        auto now = Clock::now();
        if (messages != before) sh.last_progress.store(ns_of(now), std::memory_order_relaxed);
        if (!out.measured && now >= sh.t_measure) {
            out.measured = true;
            start_messages = messages;
            start_bytes = bytes;
            start_sc = thread_syscalls();
            start_usage = thread_usage();
        }
        if (sh.over(now)) break;
    }
    if (out.measured) {
        SyscallCounts sc = thread_syscalls();
        ThreadUsage u = thread_usage();
        out.messages = messages - start_messages;
        out.bytes = bytes - start_bytes;
        out.sc = {sc.reads - start_sc.reads,
                  sc.polls - start_sc.polls,
                  sc.epoll_waits - start_sc.epoll_waits,
                  sc.epoll_events - start_sc.epoll_events,
                  sc.sockopts - start_sc.sockopts,
                  sc.sends - start_sc.sends};
        out.usage = {u.cpu_ns - start_usage.cpu_ns, u.nvcsw - start_usage.nvcsw};
    }
    close(ep);
}

// ---- the client thread ------------------------------------------------------------------

struct ClientResult {
    std::vector<uint32_t> rtt_ns;  // ping-pong round trips completed in the window
    ThreadUsage usage;
};

struct ClientConn {
    int fd;
    uint64_t seq = 0;   // next sequence number to write
    uint64_t sent = 0;  // bytes written
    std::vector<uint8_t> buf;
    size_t off = 0, pending = 0;
    size_t got = 0;  // ping-pong: echo bytes received
    Clock::time_point sent_at;
};

void client_thread(std::vector<ClientConn>& conns, const CellSpec& spec, const MessageFormat& fmt, const Options& o,
                   Shared& sh, int cpu, ClientResult& out) {
    pin_to(cpu, "bench-client");
    const uint64_t size = fmt.size();
    const size_t batch = spec.workload == Workload::bulk ? spec.per_write : 1;
    const uint64_t batch_bytes = batch * size;
    const uint64_t window = std::max<uint64_t>(o.window / conns.size(), 2 * std::max<uint64_t>(batch_bytes, size));
    for (auto& c : conns) {
        c.buf.resize(batch_bytes);
        for (size_t k = 0; k < batch; k++) std::copy(fmt.templ().begin(), fmt.templ().end(), c.buf.begin() + k * size);
    }
    bool measuring = false;
    ThreadUsage start{};
    auto tick = [&](Clock::time_point now) {
        if (!measuring && now >= sh.t_measure) {
            measuring = true;
            start = thread_usage();
        }
        return !sh.over(now);
    };
    auto room = [&](size_t i) {
        return conns[i].sent + batch_bytes - sh.acked[i].v.load(std::memory_order_acquire) <= window;
    };

    if (spec.workload == Workload::bulk) {
        std::vector<pollfd> want;
        while (tick(Clock::now())) {
            bool progressed = false;
            want.clear();
            for (size_t i = 0; i < conns.size(); i++) {
                ClientConn& c = conns[i];
                if (c.pending == 0) {
                    if (!room(i)) continue;
                    for (size_t k = 0; k < batch; k++) fmt.stamp(c.buf.data() + k * size, c.seq++);
                    c.off = 0;
                    c.pending = batch_bytes;
                }
                ssize_t n = raw_send(c.fd, c.buf.data() + c.off, c.pending, MSG_DONTWAIT);
                if (n > 0) {
                    c.off += static_cast<size_t>(n);
                    c.pending -= static_cast<size_t>(n);
                    c.sent += static_cast<uint64_t>(n);
                    progressed = true;
                } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    want.push_back({c.fd, POLLOUT, 0});
                } else {
                    sh.error(std::string("client: send failed: ") + std::strerror(errno));
                    return;
                }
            }
            if (progressed) continue;
            if (!want.empty()) {
                raw_poll(want.data(), want.size(), 2);
            } else {
                timespec ts{0, 20000};  // every connection is a window ahead of the server
                nanosleep(&ts, nullptr);
            }
        }
    } else if (spec.workload == Workload::pingpong) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        std::vector<uint8_t> rx(size);
        for (size_t i = 0; i < conns.size(); i++) {
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.u64 = i;
            epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
            fmt.stamp(conns[i].buf.data(), conns[i].seq);
            conns[i].sent_at = Clock::now();
            if (!send_all_raw(conns[i].fd, conns[i].buf.data(), size, sh)) break;
        }
        std::vector<std::vector<uint8_t>> echo(conns.size(), std::vector<uint8_t>(size));
        epoll_event events[64];
        while (tick(Clock::now())) {
            int n = epoll_wait(ep, events, 64, 20);
            for (int k = 0; k < n; k++) {
                size_t i = events[k].data.u64;
                ClientConn& c = conns[i];
                ssize_t r = raw_recv(c.fd, echo[i].data() + c.got, size - c.got, MSG_DONTWAIT);
                if (r <= 0) {
                    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                    if (!sh.over(Clock::now())) sh.error("client: the echo connection ended");
                    close(ep);
                    return;
                }
                c.got += static_cast<size_t>(r);
                if (c.got < size) continue;
                auto now = Clock::now();
                if (!fmt.check(echo[i].data(), size, c.seq))
                    sh.error("client: wrong echo on connection " + std::to_string(i));
                if (measuring && now < sh.t_end)
                    out.rtt_ns.push_back(
                        static_cast<uint32_t>(std::min<int64_t>(ns_of(now) - ns_of(c.sent_at), UINT32_MAX)));
                c.got = 0;
                fmt.stamp(c.buf.data(), ++c.seq);
                c.sent_at = Clock::now();
                if (!send_all_raw(c.fd, c.buf.data(), size, sh)) break;
            }
        }
        close(ep);
    } else {  // drip: every message in drip_pieces writes, with a gap between them
        const size_t piece = (size + o.drip_pieces - 1) / o.drip_pieces;
        while (tick(Clock::now())) {
            bool any = false;
            std::vector<bool> active(conns.size());
            for (size_t i = 0; i < conns.size(); i++) {
                if (!room(i)) continue;
                active[i] = any = true;
                fmt.stamp(conns[i].buf.data(), conns[i].seq++);
            }
            if (!any) {
                timespec ts{0, 100000};
                nanosleep(&ts, nullptr);
                continue;
            }
            for (size_t at = 0; at < size && !sh.over(Clock::now()); at += piece) {
                for (size_t i = 0; i < conns.size(); i++) {
                    if (!active[i]) continue;
                    size_t len = std::min<size_t>(piece, size - at);
                    if (!send_all_raw(conns[i].fd, conns[i].buf.data() + at, len, sh)) break;
                    conns[i].sent += len;
                }
                timespec ts{0, static_cast<long>(o.drip_gap_us) * 1000};
                nanosleep(&ts, nullptr);
            }
        }
    }
    if (measuring) {
        ThreadUsage u = thread_usage();
        out.usage = {u.cpu_ns - start.cpu_ns, u.nvcsw - start.nvcsw};
    }
}

// ---- the cell ---------------------------------------------------------------------------

std::string g_alarm_message;
void on_alarm(int) {
    const char* m = g_alarm_message.c_str();
    ssize_t r = ::write(2, m, std::strlen(m));
    (void)r;
    _exit(3);
}

struct Sockets {
    int listener = -1;
    std::vector<int> client, server;  // server[i] is the accepted peer of client[i]
    ~Sockets() {
        if (listener >= 0) close(listener);
        for (int fd : client) close(fd);
        for (int fd : server)
            if (fd >= 0) close(fd);
    }
};

std::string connect_all(Sockets& s, uint32_t n) {
    s.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s.listener < 0 || bind(s.listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(s.listener, 1024) != 0 || getsockname(s.listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        return std::string("listener: ") + std::strerror(errno);
    std::vector<uint16_t> ports;
    int one = 1;
    for (uint32_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return std::string("client socket: ") + std::strerror(errno);
        s.client.push_back(fd);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            return std::string("connect: ") + std::strerror(errno);
        sockaddr_in local{};
        socklen_t l = sizeof local;
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &l);
        ports.push_back(local.sin_port);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    s.server.assign(n, -1);
    for (uint32_t k = 0; k < n; k++) {
        sockaddr_in peer{};
        socklen_t l = sizeof peer;
        int fd = accept4(s.listener, reinterpret_cast<sockaddr*>(&peer), &l, SOCK_CLOEXEC);
        if (fd < 0) return std::string("accept: ") + std::strerror(errno);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto it = std::find(ports.begin(), ports.end(), peer.sin_port);
        if (it == ports.end() || s.server[static_cast<size_t>(it - ports.begin())] >= 0) {
            close(fd);
            return "accept: a connection that is not ours";
        }
        s.server[static_cast<size_t>(it - ports.begin())] = fd;
    }
    return {};
}

std::pair<int, int> cpus_for(const Options& o) {
    if (!o.pin) return {-1, -1};
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.size() < 2) return {-1, -1};
    return {o.server_cpu >= 0 ? o.server_cpu : cpus[0], o.client_cpu >= 0 ? o.client_cpu : cpus[1]};
}

double percentile(std::vector<uint32_t>& v, double q) {
    if (v.empty()) return kNone;
    size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k] / 1000.0;
}

template <class S>
void run_threads(S& server, Sockets& socks, const CellSpec& spec, const MessageFormat& fmt, const Options& o,
                 CellResult& r, ParserCounters* counters, const std::vector<int>& app_sockets) {
    Shared sh;
    size_t n = socks.client.size();
    sh.acked.reset(new PaddedCounter[n]);
    auto [server_cpu, client_cpu] = cpus_for(o);
    auto warmup = std::chrono::duration<double>(std::min(0.25, o.duration / 5));
    auto measured = std::chrono::duration<double>(o.duration);
    auto t0 = Clock::now();
    sh.t_measure = t0 + std::chrono::duration_cast<Clock::duration>(warmup);
    sh.t_end = sh.t_measure + std::chrono::duration_cast<Clock::duration>(measured);
    sh.last_progress = ns_of(t0);

    // Last resort: a thread stuck in the kernel ends the process, not the machine's patience.
    g_alarm_message = std::string("sockframe-bench: hard timeout in ") + name(spec.strategy) + " " +
                      name(spec.workload) + " size " + std::to_string(spec.size) +
                      ": a thread did not return; exiting\n";
    signal(SIGALRM, on_alarm);
    alarm(static_cast<unsigned>(o.duration + o.stall_timeout + 60));

    std::vector<ClientConn> conns;
    for (int fd : socks.client) conns.push_back(ClientConn{fd, 0, 0, {}, 0, 0, 0, {}});
    ServerResult sr;
    ClientResult cr;
    std::atomic<int> running{2};
    std::thread st([&] {
        server_thread(server, n, spec, fmt, sh, server_cpu, sr);
        running--;
    });
    std::thread ct([&] {
        client_thread(conns, spec, fmt, o, sh, client_cpu, cr);
        running--;
    });

    ProcSnapshot p0, p1;
    bool have_p0 = false, have_p1 = false;
    auto stall = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.stall_timeout));
    auto hard_end = sh.t_end + stall + std::chrono::seconds(5);
    bool woke_sockets = false;
    Clock::time_point abort_at{};
    while (running > 0) {
        auto now = Clock::now();
        auto next = now + std::chrono::milliseconds(20);
        if (!have_p0)
            next = std::min(next, sh.t_measure);
        else if (!have_p1)
            next = std::min(next, sh.t_end);
        std::this_thread::sleep_until(next);
        now = Clock::now();
        if (!have_p0 && now >= sh.t_measure) {
            p0 = proc_snapshot();
            have_p0 = true;
        }
        if (have_p0 && !have_p1 && now >= sh.t_end) {
            p1 = proc_snapshot();
            have_p1 = true;
        }
        if (!sh.abort && now < sh.t_end && ns_of(now) - sh.last_progress.load() > stall.count()) {
            sh.error("stalled: no message for " + std::to_string(o.stall_timeout).substr(0, 4) + " s");
            sh.abort = true;
            abort_at = now;
        }
        if (!sh.abort && now > hard_end) {
            sh.error("timeout: the cell did not finish");
            sh.abort = true;
            abort_at = now;
        }
        if (sh.abort && !woke_sockets && abort_at != Clock::time_point{} && now > abort_at + std::chrono::seconds(3)) {
            // Threads blocked in the kernel: shut the sockets down under them.
            for (int fd : socks.client) shutdown(fd, SHUT_RDWR);
            for (int fd : app_sockets) shutdown(fd, SHUT_RDWR);
            woke_sockets = true;
        }
    }
    st.join();
    ct.join();
    alarm(0);
    if (counters) *counters = read_parser_counters(app_sockets);

    r.errors = sh.errors;
    r.error_detail = sh.first_error;
    if (!sr.measured || !have_p1) {
        if (!r.errors) r.error_detail = "no measurement";
        r.errors = std::max<uint64_t>(r.errors, 1);
        return;
    }
    double secs = o.duration;
    r.seconds = secs;
    r.messages = sr.messages;
    r.bytes = sr.bytes;
    r.msgs_per_s = static_cast<double>(sr.messages) / secs;
    r.mb_per_s = static_cast<double>(sr.bytes) / secs / 1e6;
    if (sr.messages) {
        double m = static_cast<double>(sr.messages);
        r.syscalls_per_msg = static_cast<double>(sr.sc.receive_side()) / m;
        r.reads_per_msg = static_cast<double>(sr.sc.reads) / m;
        r.wakeups_per_msg = static_cast<double>(sr.sc.epoll_events) / m;
        r.cpu_ns_per_msg = static_cast<double>(sr.usage.cpu_ns) / m;
        r.ctxsw_per_msg = static_cast<double>(sr.usage.nvcsw) / m;
        r.client_cpu_ns_per_msg = static_cast<double>(cr.usage.cpu_ns) / m;
        r.all_cpu_ns_per_msg = static_cast<double>(p1.busy_ns - p0.busy_ns) / m;
        r.softirq_ns_per_msg = static_cast<double>(p1.softirq_ns - p0.softirq_ns) / m;
        r.kthread_ns_per_msg = static_cast<double>(kthread_ns_between(p0, p1)) / m;
        r.total_cpu_ns_per_msg = r.cpu_ns_per_msg + r.client_cpu_ns_per_msg + r.kthread_ns_per_msg;
    }
    if (spec.workload == Workload::pingpong) {
        r.p50_us = percentile(cr.rtt_ns, 0.50);
        r.p99_us = percentile(cr.rtt_ns, 0.99);
    }
    if (counters && counters->found && counters->forwarded) {
        double forwarded_msgs = static_cast<double>(counters->forwarded) / static_cast<double>(spec.size);
        r.parser_calls_per_msg = static_cast<double>(counters->parser_calls) / forwarded_msgs;
        r.batches_per_msg = static_cast<double>(counters->batches) / forwarded_msgs;
    }
}

}  // namespace

CellResult run_cell(const CellSpec& spec, const Description& d, const Options& o) {
    CellResult r;
    r.spec = spec;
    try {
        MessageFormat fmt(d, spec.size);
        std::unique_ptr<Receiver> receiver;
        if (spec.strategy == Strategy::kernel || spec.strategy == Strategy::kernel_per_message) {
            std::string missing = missing_kernel_capabilities();
            if (!missing.empty()) {
                r.skipped = "needs " + missing + " (not root)";
                return r;
            }
            ReceiverOptions ro;
            ro.mode = Mode::kernel;
            if (spec.strategy == Strategy::kernel_per_message) ro.load.batch_max_msgs = 1;
            try {
                receiver = open_receiver(d, ro);
            } catch (const BpfLoadError& e) {
                if (e.lacks_privilege()) {
                    r.skipped = std::string("kernel path unavailable: ") + e.what();
                    r.skipped = r.skipped.substr(0, r.skipped.find('\n'));
                    return r;
                }
                throw;
            }
        } else if (spec.strategy == Strategy::userspace || spec.strategy == Strategy::uring) {
            ReceiverOptions ro;
            ro.mode = Mode::userspace;
            // `userspace` stays the recv + epoll engine it always measured; `uring` is the other.
            ro.engine = spec.strategy == Strategy::uring ? Engine::io_uring : Engine::epoll;
            if (spec.strategy == Strategy::uring && !io_uring_unavailable().empty()) {
                r.skipped = "io_uring engine unavailable: " + io_uring_unavailable();
                return r;
            }
            receiver = open_receiver(d, ro);
        }

        Sockets socks;
        if (std::string e = connect_all(socks, spec.connections); !e.empty()) throw std::runtime_error(e);
        std::vector<int> app = socks.server;
        if (receiver) {
            LibraryServer server;
            for (int& fd : socks.server) {
                int f = fd;
                fd = -1;  // the connection owns it now
                server.conns.push_back(receiver->adopt(f));
                server.conns.back()->set_nonblocking(true);
                server.conns.back()->set_level_triggered(true);  // server_thread's epoll is level-triggered
            }
            ParserCounters counters;
            bool kernel = is_kernel(spec.strategy);
            run_threads(server, socks, spec, fmt, o, r, kernel ? &counters : nullptr, app);
            server.conns.clear();  // leave the maps before the program goes
        } else if (spec.strategy == Strategy::handwritten) {
            HandwrittenServer server(socks.server, !d.is_length(), d.max_message);
            socks.server.clear();
            run_threads(server, socks, spec, fmt, o, r, nullptr, app);
        } else {
            NaiveServer server(socks.server, !d.is_length(), d.max_message);
            socks.server.clear();
            run_threads(server, socks, spec, fmt, o, r, nullptr, app);
        }
    } catch (const std::exception& e) {
        r.errors = std::max<uint64_t>(r.errors, 1);
        if (r.error_detail.empty()) r.error_detail = e.what();
    }
    return r;
}

}  // namespace sockframe::bench
