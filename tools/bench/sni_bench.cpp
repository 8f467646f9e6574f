// sockframe-bench --workload sni: TLS connections routed by server name (issue 16).
// A client opens connections that start with a ClientHello naming a.example or
// b.example, then streams TLS application-data records; two echo backends send every
// byte back. The proxy is the only thing that differs between strategies:
//   kernel, userspace  `sockframe proxy tls-records --route first-key` (a child process)
//   haproxy            HAProxy in TCP mode, req.ssl_sni after the whole ClientHello,
//                      option splice-auto
//   direct             the client straight to the backend its name names
// Two tables: long connections (MB/s one way, records of each size written 64 KiB at a
// time, every echoed byte compared) and short ones (connections/s: ClientHello, one
// 512-byte record, its echo, close). CPU: the whole machine's (every thread, softirq
// and kernel workers included) and the proxy process's own, per MB or per connection.
// Each backend checks that every connection it gets names it (a misroute is an error).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "proxy_peers.hpp"
#include "support/loopback.hpp"
#include "sysstat.hpp"

namespace sockframe::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, size_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

// A well-formed TLS 1.2 ClientHello record: one cipher suite, no compression, one
// extension (server_name = name).
Bytes client_hello(const std::string& name) {
    Bytes ext;
    put16(ext, 0);                // extension type: server_name
    put16(ext, name.size() + 5);  // extension length
    put16(ext, name.size() + 3);  // ServerNameList length
    ext.push_back(0);             // host_name
    put16(ext, name.size());
    ext.insert(ext.end(), name.begin(), name.end());
    Bytes body = {0x03, 0x03};                                                 // legacy_version
    for (int i = 0; i < 32; i++) body.push_back(static_cast<uint8_t>(i * 7));  // random
    body.push_back(0);                                                         // session id
    put16(body, 2);                                                            // cipher suites
    put16(body, 0x1301);
    body.push_back(1);  // compression methods
    body.push_back(0);
    put16(body, ext.size());
    body.insert(body.end(), ext.begin(), ext.end());
    Bytes hs = {1, static_cast<uint8_t>(body.size() >> 16), static_cast<uint8_t>(body.size() >> 8),
                static_cast<uint8_t>(body.size())};
    hs.insert(hs.end(), body.begin(), body.end());
    Bytes rec = {22, 0x03, 0x01};
    put16(rec, hs.size());
    rec.insert(rec.end(), hs.begin(), hs.end());
    return rec;
}

// `total` bytes of application-data records of `record` bytes each (header included).
Bytes records(size_t record, size_t total, uint8_t seed) {
    Bytes out;
    while (out.size() < total) {
        size_t at = out.size();
        out.push_back(23), out.push_back(3), out.push_back(3);
        put16(out, record - 5);
        for (size_t i = 5; i < record; i++) out.push_back(static_cast<uint8_t>(seed + at * 31 + i * 13));
    }
    return out;
}

struct Errors {
    std::atomic<uint64_t> count{0};
    std::mutex mutex;
    std::string first;
    void add(const std::string& what) {
        if (count++ == 0) {
            std::lock_guard l(mutex);
            first = what;
        }
    }
};

// Echoes every byte of every connection; checks the ClientHello names `name`.
class EchoBackend {
public:
    EchoBackend(std::string name, Errors& errors) : name_(std::move(name)), errors_(errors) {
        listener_ = loopback_listener(addr_, 1024);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~EchoBackend() {
        stop_ = true;
        shutdown(listener_.fd, SHUT_RDWR);
        acceptor_.join();
        {
            std::lock_guard l(mutex_);
            for (int fd : open_) shutdown(fd, SHUT_RDWR);
        }
        while (active_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // detached workers
    }
    uint16_t port() const { return ntohs(addr_.sin_port); }

private:
    void accept_loop() {
        while (!stop_) {
            int fd = accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stop_) return;
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            std::lock_guard l(mutex_);
            open_.push_back(fd);
            active_++;
            std::thread([this, fd] { echo(fd); }).detach();  // short connections come by thousands
        }
    }
    void echo(int fd) {
        std::vector<uint8_t> buf(256 * 1024);
        bool checked = false;
        for (;;) {
            ssize_t n = recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            if (!checked) {
                checked = true;  // the whole ClientHello came first (the client wrote it alone)
                std::string seen(buf.begin(), buf.begin() + n);
                if (seen.find(name_) == std::string::npos)
                    errors_.add("backend " + name_ + " got a connection for another name");
            }
            if (!send_all(fd, buf.data(), static_cast<size_t>(n))) break;
        }
        std::lock_guard l(mutex_);
        open_.erase(std::remove(open_.begin(), open_.end(), fd), open_.end());
        close(fd);
        active_--;
    }

    std::string name_;
    Errors& errors_;
    sockaddr_in addr_{};
    Fd listener_;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> open_;
    std::atomic<int> active_{0};
};

int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{5, 0};  // an echo that never comes is an error of the cell, not a hang
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// Reads exactly `want` bytes and compares them with `expect`; false on a difference or end.
bool read_compare(int fd, const uint8_t* expect, size_t want, std::vector<uint8_t>& buf) {
    size_t got = 0;
    while (got < want) {
        ssize_t n = recv(fd, buf.data(), std::min(buf.size(), want - got), 0);
        if (n <= 0) return false;
        if (std::memcmp(buf.data(), expect + got, static_cast<size_t>(n)) != 0) return false;
        got += static_cast<size_t>(n);
    }
    return true;
}

struct Setup {
    Errors errors;
    EchoBackend a{"a.example", errors}, b{"b.example", errors};
    std::unique_ptr<ExternalProxy> proxy;
    uint16_t port = 0;  // where clients connect (0: direct)
    std::string why_not;

    explicit Setup(Strategy s) {
        if (s == Strategy::direct) return;
        proxy = start_sni_proxy(s, a.port(), b.port(), port);
        why_not = proxy->why_not;
    }
    uint16_t port_for(int conn) const { return port ? port : (conn % 2 == 0 ? a.port() : b.port()); }
};

const char* name_for(int conn) {
    return conn % 2 == 0 ? "a.example" : "b.example";
}

struct Cost {
    ProcSnapshot machine;
    uint64_t proxy_ns = 0;
    Clock::time_point at;
};

Cost cost_now(const Setup& s) {
    return {proc_snapshot(), s.proxy ? s.proxy->cpu_ns() : 0, Clock::now()};
}

// After a 0.25 s warm-up, `seconds` with `measuring` set; the costs at both ends.
std::pair<Cost, Cost> measure(const Setup& s, std::atomic<bool>& measuring, double seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    Cost c0 = cost_now(s);
    measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    measuring = false;
    return {c0, cost_now(s)};
}

struct LongResult {
    double mb_per_s = 0, machine_us_per_mb = 0, proxy_us_per_mb = 0;
    uint64_t errors = 0;
    std::string first_error, why_not;
};

// `conns` connections, each streaming records of `record` bytes, 64 KiB per write, at
// most 1 MiB unanswered per connection; every echoed byte compared.
LongResult run_long(Strategy strategy, size_t record, int conns, double seconds) {
    Setup s(strategy);
    if (!s.why_not.empty()) {
        LongResult skipped;
        skipped.why_not = s.why_not;
        return skipped;
    }
    const Bytes chunk = records(record, 64 * 1024, 7);
    const size_t window = 1 << 20;
    std::atomic<bool> stop{false}, measuring{false};
    std::atomic<uint64_t> echoed{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < conns; c++) {
        threads.emplace_back([&, c] {
            int fd = connect_to(s.port_for(c));
            if (fd < 0) return s.errors.add("connect failed");
            Bytes hello = client_hello(name_for(c));
            std::atomic<uint64_t> acked{0};
            std::thread reader([&] {
                std::vector<uint8_t> buf(256 * 1024);
                if (!read_compare(fd, hello.data(), hello.size(), buf)) {
                    if (!stop) s.errors.add("the ClientHello did not come back intact");
                    return;
                }
                uint64_t off = 0;
                for (;;) {
                    size_t want = chunk.size() - off % chunk.size();
                    ssize_t n = recv(fd, buf.data(), std::min(buf.size(), want), 0);
                    if (n <= 0) return;
                    if (std::memcmp(buf.data(), chunk.data() + off % chunk.size(), static_cast<size_t>(n)) != 0) {
                        s.errors.add("an echoed byte differs at stream offset " + std::to_string(off));
                        return;
                    }
                    off += static_cast<uint64_t>(n);
                    acked = off;
                    if (measuring) echoed += static_cast<uint64_t>(n);
                }
            });
            bool ok = send_all(fd, hello.data(), hello.size());
            uint64_t sent = 0;
            while (ok && !stop) {
                if (sent - acked.load() > window) {
                    std::this_thread::sleep_for(std::chrono::microseconds(50));
                    continue;
                }
                ok = send_all(fd, chunk.data(), chunk.size());
                sent += chunk.size();
            }
            shutdown(fd, SHUT_RDWR);
            reader.join();
            close(fd);
        });
    }
    auto [c0, c1] = measure(s, measuring, seconds);
    stop = true;
    for (auto& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(c1.at - c0.at).count();
    double mb = echoed.load() / 1e6;
    LongResult r;
    r.mb_per_s = mb / elapsed;
    r.machine_us_per_mb = mb > 0 ? (c1.machine.busy_ns - c0.machine.busy_ns) / 1e3 / mb : NAN;
    r.proxy_us_per_mb = mb > 0 && s.proxy ? (c1.proxy_ns - c0.proxy_ns) / 1e3 / mb : NAN;
    r.errors = s.errors.count;
    r.first_error = s.errors.first;
    if (echoed == 0 && !r.errors) r.first_error = "nothing came back", r.errors = 1;
    return r;
}

struct ShortResult {
    double conns_per_s = 0, machine_us_per_conn = 0, proxy_us_per_conn = 0;
    uint64_t errors = 0;
    std::string first_error, why_not;
};

// Two client threads, each: connect, ClientHello + one 512-byte record, read both back, close.
ShortResult run_short(Strategy strategy, double seconds) {
    Setup s(strategy);
    if (!s.why_not.empty()) {
        ShortResult skipped;
        skipped.why_not = s.why_not;
        return skipped;
    }
    std::atomic<bool> stop{false}, measuring{false};
    std::atomic<uint64_t> done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; t++) {
        threads.emplace_back([&, t] {
            std::vector<uint8_t> buf(4096);
            for (int i = t; !stop; i += 2) {
                Bytes msg = client_hello(name_for(i));
                Bytes rec = records(512, 512, static_cast<uint8_t>(i));
                msg.insert(msg.end(), rec.begin(), rec.end());
                int fd = connect_to(s.port_for(i));
                if (fd < 0) {
                    s.errors.add("connect failed");
                    continue;
                }
                bool ok = send_all(fd, msg.data(), msg.size()) && read_compare(fd, msg.data(), msg.size(), buf);
                close(fd);
                if (!ok) {
                    if (!stop) s.errors.add("a short connection's echo was not intact or not back within 5 s");
                    continue;
                }
                if (measuring) done++;
            }
        });
    }
    auto [c0, c1] = measure(s, measuring, seconds);
    stop = true;
    for (auto& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(c1.at - c0.at).count();
    double n = static_cast<double>(done.load());
    ShortResult r;
    r.conns_per_s = n / elapsed;
    r.machine_us_per_conn = n > 0 ? (c1.machine.busy_ns - c0.machine.busy_ns) / 1e3 / n : NAN;
    r.proxy_us_per_conn = n > 0 && s.proxy ? (c1.proxy_ns - c0.proxy_ns) / 1e3 / n : NAN;
    r.errors = s.errors.count;
    r.first_error = s.errors.first;
    return r;
}

std::string ratio(double v, double base) {
    char b[32];
    if (!(base > 0) || std::isnan(v)) return "-";
    std::snprintf(b, sizeof b, "%.2f", v / base);
    return b;
}

std::string num(double v, const char* fmt) {
    char b[32];
    if (std::isnan(v)) return "-";
    std::snprintf(b, sizeof b, fmt, v);
    return b;
}

}  // namespace

int run_sni_workload(const Options& o) {
    std::vector<Strategy> strategies;
    for (Strategy s : o.strategies)
        if (s == Strategy::kernel || s == Strategy::userspace || s == Strategy::haproxy || s == Strategy::direct)
            strategies.push_back(s);
    if (strategies.empty()) strategies = {Strategy::kernel, Strategy::userspace, Strategy::haproxy, Strategy::direct};
    std::vector<size_t> sizes;
    for (uint64_t z : o.sizes)
        if (z >= 64 && z <= 16384 + 5) sizes.push_back(z);
    if (sizes.empty()) sizes = {4096, 16384};
    double seconds = o.duration;
    bool failed = false;

    std::printf("sni: TLS connections routed by server name; a.example -> backend A, b.example -> backend B\n");
    std::printf("long connections: records of SIZE bytes written 64 KiB at a time and echoed; MB/s one way\n");
    std::printf("%-10s %7s %6s %9s %10s %14s %12s %7s\n", "strategy", "record", "conns", "MB/s", "x haproxy",
                "machine us/MB", "proxy us/MB", "errors");
    for (size_t size : sizes) {
        for (int conns : o.connections) {
            std::vector<std::pair<Strategy, LongResult>> rows;
            double haproxy = NAN;
            for (Strategy s : strategies) {
                LongResult r = run_long(s, size, conns, seconds);
                if (s == Strategy::haproxy && r.why_not.empty()) haproxy = r.mb_per_s;
                rows.emplace_back(s, r);
            }
            for (auto& [s, r] : rows) {
                if (!r.why_not.empty()) {
                    std::printf("%-10s %7zu %6d  skipped: %s\n", name(s), size, conns, r.why_not.c_str());
                    continue;
                }
                std::printf("%-10s %7zu %6d %9.1f %10s %14s %12s %7llu%s%s\n", name(s), size, conns, r.mb_per_s,
                            ratio(r.mb_per_s, haproxy).c_str(), num(r.machine_us_per_mb, "%.0f").c_str(),
                            num(r.proxy_us_per_mb, "%.0f").c_str(), (unsigned long long)r.errors, r.errors ? "  " : "",
                            r.first_error.c_str());
                failed |= r.errors != 0;
            }
            std::fflush(stdout);
        }
    }

    std::printf("\nshort connections: ClientHello + one 512-byte record, echoed, closed (2 client threads)\n");
    std::printf("%-10s %9s %10s %16s %14s %7s\n", "strategy", "conns/s", "x haproxy", "machine us/conn",
                "proxy us/conn", "errors");
    std::vector<std::pair<Strategy, ShortResult>> rows;
    double haproxy = NAN;
    for (Strategy s : strategies) {
        ShortResult r = run_short(s, seconds);
        if (s == Strategy::haproxy && r.why_not.empty()) haproxy = r.conns_per_s;
        rows.emplace_back(s, r);
    }
    for (auto& [s, r] : rows) {
        if (!r.why_not.empty()) {
            std::printf("%-10s  skipped: %s\n", name(s), r.why_not.c_str());
            continue;
        }
        std::printf("%-10s %9.0f %10s %16s %14s %7llu%s%s\n", name(s), r.conns_per_s,
                    ratio(r.conns_per_s, haproxy).c_str(), num(r.machine_us_per_conn, "%.0f").c_str(),
                    num(r.proxy_us_per_conn, "%.0f").c_str(), (unsigned long long)r.errors, r.errors ? "  " : "",
                    r.first_error.c_str());
        failed |= r.errors != 0;
    }
    return failed ? 1 : 0;
}

}  // namespace sockframe::bench
