// One cell of the proxy workload (issue 15 item 8): client -> proxy -> two backends.
//
// The backends are a fast responder inside the tool (it frames each request and sends
// it straight back as the reply: memcached magic 0x81, DNS QR bit), so the proxy is
// the only thing that differs between strategies:
//   kernel, userspace  `sockframe proxy --path kernel|userspace --route key` (a child process)
//   handwritten        an epoll proxy thread here: UserspaceFramer + decide_route per
//                      message, jump hash of the key over the two backends
//   haproxy            HAProxy in TCP mode, round robin per connection (L4: a floor)
//   dnsdist            dnsdist, consistent hashing of the query name (DNS only)
//   direct             the client straight to a backend (connection i to backend i % 2)
// The client sends messages that say which connection and sequence number they are and
// end with a check value; every reply is matched to its request (replies may come back
// in backend completion order) and checked byte for byte at the stamped places.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>

#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>
#include "bench.hpp"
#include "proxy_peers.hpp"
#include "sysstat.hpp"

namespace sockframe::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<bool> measuring{false};
    std::atomic<uint64_t> replies{0};
    std::atomic<uint64_t> errors{0};
    std::mutex mutex;
    std::string first_error;
    std::vector<uint32_t> latencies_ns;  // client thread only, while measuring

    void error(const std::string& what) {
        errors++;
        std::lock_guard<std::mutex> lock(mutex);
        if (first_error.empty()) first_error = what;
    }
};

void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int listen_loopback(uint16_t& port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    port = ntohs(a.sin_port);
    return fd;
}

int connect_loopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Bytes waiting to go out on a non-blocking socket. Nothing here ever blocks on a send:
// a full socket arms EPOLLOUT and the rest goes when the peer reads (every peer here
// always reads, and the client bounds what is in flight, so the buffers stay bounded).
struct Outbox {
    std::vector<uint8_t> buf;
    size_t sent = 0;
    bool armed = false;

    void add(const uint8_t* p, size_t n) { buf.insert(buf.end(), p, p + n); }
    // false: the socket failed
    bool flush(int ep, int fd, uint64_t tag) {
        while (sent < buf.size()) {
            ssize_t r = send(fd, buf.data() + sent, buf.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                sent += static_cast<size_t>(r);
            } else if (r < 0 && errno == EINTR) {
                continue;
            } else if (r < 0 && errno == EAGAIN) {
                if (sent > (1u << 20)) {
                    buf.erase(buf.begin(), buf.begin() + static_cast<long>(sent));
                    sent = 0;
                }
                if (!armed) arm(ep, fd, tag, true);
                return true;
            } else {
                return false;
            }
        }
        buf.clear();
        sent = 0;
        if (armed) arm(ep, fd, tag, false);
        return true;
    }
    void arm(int ep, int fd, uint64_t tag, bool on) {
        epoll_event e{};
        e.events = on ? EPOLLIN | EPOLLOUT : uint32_t{EPOLLIN};
        e.data.u64 = tag;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
        armed = on;
    }
};

// A byte buffer read from a socket, consumed from the front. It starts empty and grows
// to what the socket holds (hundreds of connections x 256 KiB up front would spend the
// run in page faults).
struct InBuffer {
    std::vector<uint8_t> b;
    size_t begin = 0, end = 0;
    // -1 error/end, 0 would block, >0 bytes read
    ssize_t fill(int fd) {
        if (begin == end) begin = end = 0;
        if (b.size() - end < 16384 && begin > 0) {
            std::memmove(b.data(), b.data() + begin, end - begin);
            end -= begin;
            begin = 0;
        }
        if (b.size() - end < 16384) b.resize(std::max<size_t>(b.size() * 2, 65536));
        ssize_t r = recv(fd, b.data() + end, b.size() - end, MSG_DONTWAIT);
        if (r > 0) end += static_cast<size_t>(r);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        return r == 0 ? -1 : r;
    }
};

// ---- the responder: both backends in one thread --------------------------------------

void responder_thread(const ProxyProtocol& proto, int listen_a, int listen_b, Shared& sh) {
    pthread_setname_np(pthread_self(), "bench-backend");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct Conn {
        int fd;
        InBuffer in;
        Outbox out;
    };
    std::vector<std::unique_ptr<Conn>> conns;
    for (int l : {listen_a, listen_b}) {
        set_nonblocking(l);
        epoll_event e{EPOLLIN, {}};
        e.data.u64 = UINT64_MAX - static_cast<uint64_t>(l);
        epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
    }
    epoll_event events[64];
    while (!sh.stop) {
        int n = epoll_wait(ep, events, 64, 50);
        for (int k = 0; k < n; k++) {
            uint64_t tag = events[k].data.u64;
            if (tag > UINT64_MAX - 65536) {
                int l = static_cast<int>(UINT64_MAX - tag);
                for (int fd; (fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns.push_back(std::make_unique<Conn>(Conn{fd, {}, {}}));
                    epoll_event e{EPOLLIN, {}};
                    e.data.u64 = conns.size() - 1;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            Conn& c = *conns[tag];
            if (c.fd < 0) continue;
            ssize_t r = events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? c.in.fill(c.fd) : 0;
            for (;;) {
                size_t avail = c.in.end - c.in.begin;
                uint8_t* m = c.in.b.data() + c.in.begin;
                size_t total = proto.whole(m, avail);
                if (!total) break;
                proto.make_reply(m, total);
                c.out.add(m, total);
                c.in.begin += total;
            }
            if (r < 0 || !c.out.flush(ep, c.fd, tag)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                close(c.fd);
                c.fd = -1;
            }
        }
    }
    for (auto& c : conns)
        if (c->fd >= 0) close(c->fd);
    close(ep);
}

// ---- the handwritten proxy ---------------------------------------------------------------

// Lamping and Veach's jump consistent hash.
uint32_t jump_hash(uint64_t key, uint32_t buckets) {
    int64_t b = -1, j = 0;
    while (j < buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = static_cast<int64_t>(static_cast<double>(b + 1) *
                                 (static_cast<double>(1LL << 31) / static_cast<double>((key >> 33) + 1)));
    }
    return static_cast<uint32_t>(b);
}

void handwritten_proxy_thread(const Description& d, int listener, uint16_t port_a, uint16_t port_b, Shared& sh,
                              std::atomic<uint64_t>& cpu_ns) {
    pthread_setname_np(pthread_self(), "bench-proxy");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    set_nonblocking(listener);
    epoll_event le{EPOLLIN, {}};
    le.data.u64 = UINT64_MAX;
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &le);
    struct Side {
        int fd = -1;
        std::unique_ptr<UserspaceFramer> framer;
        Outbox out;
        uint64_t tag = 0;
    };
    struct Session {
        Side client, backend[2];
    };
    std::vector<std::unique_ptr<Session>> sessions;
    auto pump = [&](Side& from, const std::function<Side&(std::span<const uint8_t>)>& to) -> bool {
        for (;;) {
            auto space = from.framer->write_space(64 * 1024);
            ssize_t r = recv(from.fd, space.data(), space.size(), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return false;
            if (r < 0) break;
            from.framer->commit(static_cast<size_t>(r));
            for (;;) {
                auto m = from.framer->next();
                if (m.status == UserspaceFramer::Status::error) {
                    sh.error("handwritten proxy: framing error");
                    return false;
                }
                if (m.status != UserspaceFramer::Status::message) break;
                to(m.message.bytes).out.add(m.message.bytes.data(), m.message.bytes.size());
            }
            if (static_cast<size_t>(r) < space.size()) break;
        }
        return true;
    };
    auto flush = [&](Side& s) { return s.out.flush(ep, s.fd, s.tag); };
    epoll_event events[64];
    while (!sh.stop) {
        int n = epoll_wait(ep, events, 64, 50);
        for (int k = 0; k < n; k++) {
            uint64_t tag = events[k].data.u64;
            if (tag == UINT64_MAX) {
                for (int fd; (fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
                    auto s = std::make_unique<Session>();
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    s->client = {fd, std::make_unique<UserspaceFramer>(d), {}};
                    uint16_t ports[2] = {port_a, port_b};
                    for (int b = 0; b < 2; b++) {
                        int bfd = connect_loopback(ports[b]);
                        if (bfd < 0) sh.error(std::string("handwritten proxy: connect: ") + std::strerror(errno));
                        set_nonblocking(bfd);
                        s->backend[b] = {bfd, std::make_unique<UserspaceFramer>(d), {}};
                    }
                    uint64_t id = sessions.size();
                    for (int side = 0; side < 3; side++) {
                        Side& x = side == 0 ? s->client : s->backend[side - 1];
                        x.tag = id * 4 + static_cast<uint64_t>(side);
                        epoll_event e{EPOLLIN, {}};
                        e.data.u64 = x.tag;
                        epoll_ctl(ep, EPOLL_CTL_ADD, x.fd, &e);
                    }
                    sessions.push_back(std::move(s));
                }
                continue;
            }
            Session& s = *sessions[tag / 4];
            if (s.client.fd < 0) continue;
            bool ok = true, readable = events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR);
            if (tag % 4 == 0) {
                if (readable)
                    ok = pump(s.client, [&](std::span<const uint8_t> m) -> Side& {
                        RouteDecision rd = decide_route(d, m);
                        return s.backend[rd.has_key ? jump_hash(rd.key_hash, 2) : 0];
                    });
                ok = flush(s.backend[0]) && flush(s.backend[1]) && flush(s.client) && ok;
            } else {
                Side& b = s.backend[tag % 4 - 1];
                if (readable) ok = pump(b, [&](std::span<const uint8_t>) -> Side& { return s.client; });
                ok = flush(s.client) && flush(b) && ok;
            }
            if (!ok) {
                for (Side* side : {&s.client, &s.backend[0], &s.backend[1]}) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, side->fd, nullptr);
                    close(side->fd);
                    side->fd = -1;
                }
            }
        }
        rusage ru{};
        getrusage(RUSAGE_THREAD, &ru);
        cpu_ns = (static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                  static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) *
                 1000;
    }
    for (auto& s : sessions)
        for (Side* side : {&s->client, &s->backend[0], &s->backend[1]})
            if (side->fd >= 0) close(side->fd);
    close(ep);
}

// ---- the client ------------------------------------------------------------------------------

struct ClientConn {
    int fd;
    InBuffer in;
    Outbox out;
    uint64_t next_seq = 0;
    // Send time of every request not yet answered, by seq. Not a ring indexed by
    // seq % (2 x depth): replies come back in backend completion order, and one
    // request can be overtaken by any number of later ones (a slow backend while the
    // other answers many), so a ring slot may be reused while its request still
    // waits (docs/proxy.md, issue 15: that was the "duplicate reply").
    std::unordered_map<uint64_t, int64_t> sent_at;
};

void client_thread(const ProxyProtocol& proto, std::vector<ClientConn>& conns, uint64_t size, uint32_t depth,
                   Shared& sh, std::atomic<uint64_t>& cpu_ns) {
    pthread_setname_np(pthread_self(), "bench-client");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    auto now_ns = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    };
    auto top_up = [&](size_t i) {
        ClientConn& c = conns[i];
        int64_t t = now_ns();
        while (c.sent_at.size() < depth) {
            size_t at = c.out.buf.size();
            c.out.buf.resize(at + size);
            proto.make_request(c.out.buf.data() + at, size, static_cast<uint32_t>(i), c.next_seq);
            c.sent_at.emplace(c.next_seq, t);
            c.next_seq++;
        }
        if (!c.out.flush(ep, c.fd, i) && !sh.stop)
            sh.error("client: send to the proxy failed: " + std::string(std::strerror(errno)));
    };
    for (size_t i = 0; i < conns.size(); i++) {
        conns[i].sent_at.reserve(depth * 2);
        epoll_event e{EPOLLIN, {}};
        e.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
        top_up(i);
    }
    epoll_event events[256];
    while (!sh.stop) {
        int n = epoll_wait(ep, events, 256, 50);
        for (int k = 0; k < n; k++) {
            size_t i = events[k].data.u64;
            ClientConn& c = conns[i];
            if (c.fd < 0) continue;
            ssize_t r = events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? c.in.fill(c.fd) : 0;
            if (r < 0) {
                if (!sh.stop) sh.error("client: connection " + std::to_string(i) + " ended (the proxy closed it)");
                epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                c.fd = -1;
                continue;
            }
            int64_t t = now_ns();
            bool measuring = sh.measuring.load(std::memory_order_relaxed);
            for (;;) {
                uint8_t* m = c.in.b.data() + c.in.begin;
                size_t total = proto.whole(m, c.in.end - c.in.begin);
                if (!total) break;
                c.in.begin += total;
                uint64_t seq = 0;
                std::string why = proto.check_reply(m, total, size, static_cast<uint32_t>(i), seq);
                auto waiting = c.sent_at.find(seq);
                if (why.empty() && waiting == c.sent_at.end())
                    why = "a reply to message " + std::to_string(seq) +
                          (seq < c.next_seq ? ", which was answered already (a duplicate)" : ", which was never sent");
                if (!why.empty()) {
                    sh.error("connection " + std::to_string(i) + ": " + why);
                    continue;
                }
                if (measuring && sh.latencies_ns.size() < (4u << 20))
                    sh.latencies_ns.push_back(
                        static_cast<uint32_t>(std::min<int64_t>(t - waiting->second, UINT32_MAX)));
                c.sent_at.erase(waiting);
                sh.replies.fetch_add(1, std::memory_order_relaxed);
            }
            top_up(i);
        }
        rusage ru{};
        getrusage(RUSAGE_THREAD, &ru);
        cpu_ns = (static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                  static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) *
                 1000;
    }
    close(ep);
}

uint64_t self_cpu_ns() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
            static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) *
           1000;
}

double percentile(std::vector<uint32_t>& v, double q) {
    if (v.empty()) return kNone;
    size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k] / 1000.0;
}

}  // namespace

CellResult run_proxy_cell(const CellSpec& spec, const Options& o) {
    CellResult r;
    r.spec = spec;
    const ProxyProtocol& proto = proxy_protocol(spec.protocol);
    if (spec.size < proto.min_size() || spec.size > proto.max_message()) {
        r.skipped = std::string(proto.name()) + " messages of " + std::to_string(spec.size) +
                    " bytes cannot be built (" + std::to_string(proto.min_size()) + " to " +
                    std::to_string(proto.max_message()) + ")";
        return r;
    }
    if (spec.strategy == Strategy::dnsdist && spec.protocol != "dns") {
        r.skipped = "dnsdist proxies DNS only (--proxy-protocol dns)";
        return r;
    }
    if (is_kernel(spec.strategy) && geteuid() != 0) {
        r.skipped = "the kernel path needs root";
        return r;
    }
    Shared sh;
    std::vector<std::thread> threads;
    std::vector<ClientConn> conns;
    std::unique_ptr<ExternalProxy> external;
    int listen_a = -1, listen_b = -1, proxy_listener = -1;
    std::atomic<uint64_t> client_cpu{0}, proxy_cpu{0};
    auto finish = [&] {
        sh.stop = true;
        for (auto& t : threads) t.join();
        threads.clear();
        for (auto& c : conns)
            if (c.fd >= 0) close(c.fd);
        conns.clear();
        external.reset();
        for (int fd : {listen_a, listen_b, proxy_listener})
            if (fd >= 0) close(fd);
    };
    try {
        Description d = proto.description();
        uint16_t port_a = 0, port_b = 0, proxy_port = 0;
        listen_a = listen_loopback(port_a);
        listen_b = listen_loopback(port_b);
        threads.emplace_back(responder_thread, std::cref(proto), listen_a, listen_b, std::ref(sh));
        switch (spec.strategy) {
            case Strategy::direct:
                break;
            case Strategy::handwritten:
                proxy_listener = listen_loopback(proxy_port);
                threads.emplace_back(handwritten_proxy_thread, std::cref(d), proxy_listener, port_a, port_b,
                                     std::ref(sh), std::ref(proxy_cpu));
                break;
            default:
                external = start_external_proxy(spec.strategy, proto, port_a, port_b, proxy_port);
                if (!external->why_not.empty()) {
                    r.skipped = external->why_not;
                    finish();
                    return r;
                }
        }
        uint32_t depth = spec.per_write;
        uint64_t fit = o.window / (static_cast<uint64_t>(spec.connections) * spec.size);
        depth = static_cast<uint32_t>(std::max<uint64_t>(1, std::min<uint64_t>(depth, fit)));
        for (uint32_t i = 0; i < spec.connections; i++) {
            uint16_t to = spec.strategy == Strategy::direct ? (i % 2 ? port_b : port_a) : proxy_port;
            int fd = connect_loopback(to);
            if (fd < 0) throw std::runtime_error(std::string("client connect: ") + std::strerror(errno));
            set_nonblocking(fd);
            conns.push_back(ClientConn{fd, {}, {}, 0, {}});
        }
        threads.emplace_back(client_thread, std::cref(proto), std::ref(conns), spec.size, depth, std::ref(sh),
                             std::ref(client_cpu));

        alarm(static_cast<unsigned>(o.duration + o.stall_timeout + 60));
        auto warmup = std::chrono::duration<double>(std::min(0.25, o.duration / 5));
        auto stalled = [&](auto until) {
            uint64_t last = sh.replies;
            auto progress_at = Clock::now();
            while (Clock::now() < until && !sh.errors) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                if (sh.replies != last) {
                    last = sh.replies;
                    progress_at = Clock::now();
                } else if (Clock::now() - progress_at > std::chrono::duration<double>(o.stall_timeout)) {
                    return true;
                }
            }
            return false;
        };
        // The warm-up lasts until the first reply as well (a proxy's first backend connection).
        auto first_by =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.stall_timeout));
        while (sh.replies == 0 && !sh.errors && Clock::now() < first_by)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (sh.replies == 0 && !sh.errors)
            sh.error("no reply within " + std::to_string(o.stall_timeout).substr(0, 4) + " s of the start");
        if (stalled(Clock::now() + std::chrono::duration_cast<Clock::duration>(warmup)))
            sh.error("stalled in the warm-up: no reply for " + std::to_string(o.stall_timeout).substr(0, 4) + " s");
        ProcSnapshot p0 = proc_snapshot();
        uint64_t self0 = self_cpu_ns(), ext0 = external ? external->cpu_ns() : 0, c0 = client_cpu, x0 = proxy_cpu;
        uint64_t m0 = sh.replies;
        auto t0 = Clock::now();
        sh.measuring = true;
        if (!sh.errors &&
            stalled(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration))))
            sh.error("stalled: no reply for " + std::to_string(o.stall_timeout).substr(0, 4) + " s");
        sh.measuring = false;
        auto t1 = Clock::now();
        uint64_t m1 = sh.replies;
        ProcSnapshot p1 = proc_snapshot();
        uint64_t self1 = self_cpu_ns(), ext1 = external ? external->cpu_ns() : 0, c1 = client_cpu, x1 = proxy_cpu;
        bool was_external = external != nullptr;
        finish();
        alarm(0);

        r.seconds = std::chrono::duration<double>(t1 - t0).count();
        r.messages = m1 - m0;
        r.bytes = r.messages * spec.size;
        r.errors = sh.errors;
        r.error_detail = sh.first_error;
        if (r.messages == 0) {
            if (!r.errors) r.error_detail = "no reply in the measured window";
            r.errors = std::max<uint64_t>(r.errors, 1);
            return r;
        }
        double m = static_cast<double>(r.messages);
        r.msgs_per_s = m / r.seconds;
        r.mb_per_s = static_cast<double>(r.bytes) / r.seconds / 1e6;
        uint64_t kthreads = kthread_ns_between(p0, p1);
        // "server" = the proxy: the handwritten thread or the proxy process (every thread).
        uint64_t proxy_ns = spec.strategy == Strategy::direct ? 0 : was_external ? ext1 - ext0 : x1 - x0;
        r.cpu_ns_per_msg = static_cast<double>(proxy_ns) / m;
        r.client_cpu_ns_per_msg = static_cast<double>(c1 - c0) / m;
        r.kthread_ns_per_msg = static_cast<double>(kthreads) / m;
        r.softirq_ns_per_msg = static_cast<double>(p1.softirq_ns - p0.softirq_ns) / m;
        // Every thread of this tool (client, backends, handwritten proxy) + the proxy process + kernel workers.
        r.total_cpu_ns_per_msg = static_cast<double>(self1 - self0 + (ext1 - ext0) + kthreads) / m;
        r.all_cpu_ns_per_msg = static_cast<double>(p1.busy_ns - p0.busy_ns) / m;
        r.p50_us = percentile(sh.latencies_ns, 0.50);
        r.p99_us = percentile(sh.latencies_ns, 0.99);
    } catch (const std::exception& e) {
        finish();
        alarm(0);
        r.errors = std::max<uint64_t>(r.errors + 1, 1);
        r.error_detail = e.what();
    }
    return r;
}

}  // namespace sockframe::bench
