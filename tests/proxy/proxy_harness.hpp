// What the proxy tests share: responder backends in this process, a proxy run on a
// thread, memcached binary requests, and reading and checking replies byte for byte.
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <sockframe/load_options.hpp>
#include <sockframe/proxy.hpp>
#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>

#include "support.hpp"

namespace sockframe::testing {

using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;

inline bool kernel_ok() {
    return missing_kernel_capabilities().empty();
}
inline std::vector<ProxyPath> paths() {
    if (const char* only = std::getenv("SOCKFRAME_TEST_PATH"))  // "kernel" or "userspace": one path only
        return {std::string(only) == "kernel" ? ProxyPath::kernel : ProxyPath::userspace};
    if (kernel_ok()) return {ProxyPath::userspace, ProxyPath::kernel};
    std::printf("note: kernel path not tested (%s missing)\n", missing_kernel_capabilities().c_str());
    return {ProxyPath::userspace};
}
inline std::string name(ProxyPath p) {
    return p == ProxyPath::kernel ? "kernel" : "userspace";
}

// A memcached binary request with opaque = id and a key/value.
inline Bytes mc_request(uint32_t id, const std::string& key, size_t value_size = 0) {
    Bytes m;
    m.reserve(24 + key.size() + value_size);
    m.resize(24, 0);
    m[0] = 0x80;
    m[2] = static_cast<uint8_t>(key.size() >> 8);
    m[3] = static_cast<uint8_t>(key.size());
    uint32_t body = static_cast<uint32_t>(key.size() + value_size);
    for (int i = 0; i < 4; i++) m[8 + i] = static_cast<uint8_t>(body >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) m[12 + i] = static_cast<uint8_t>(id >> (24 - 8 * i));
    for (char ch : key) m.push_back(static_cast<uint8_t>(ch));
    for (size_t i = 0; i < value_size; i++) m.push_back(static_cast<uint8_t>(id * 7 + i));
    return m;
}
inline uint32_t mc_opaque(const Bytes& m) {
    return uint32_t(m[12]) << 24 | uint32_t(m[13]) << 16 | m[14] << 8 | m[15];
}

// Answers each whole request with the request itself, bytes 6-7 (vbucket) set to
// the backend's id; or with `answer` when set. close_after: answer that many
// messages on a connection, then close it (FIN, after reading what is left).
struct Responder {
    Description d;
    uint16_t id;
    int close_after = -1;
    std::function<Bytes(const Bytes&, uint16_t)> answer;
    std::function<void(const Bytes&)> before_reply, after_reply;  // called with the request
    Listener listener;
    std::thread acceptor;
    std::mutex mu;
    std::vector<std::thread> conns;
    std::atomic<int> open{0}, accepted{0};

    Responder(Description desc, uint16_t ident, int close_after_n = -1)
        : d(std::move(desc)), id(ident), close_after(close_after_n) {
        acceptor = std::thread([this] {
            for (;;) {
                int fd = accept(listener.fd, nullptr, nullptr);
                if (fd < 0) return;
                accepted++;
                open++;
                std::lock_guard l(mu);
                conns.emplace_back([this, fd] { serve(fd); });
            }
        });
    }
    ~Responder() {
        shutdown(listener.fd, SHUT_RDWR);
        acceptor.join();
        std::lock_guard l(mu);
        for (std::thread& t : conns) t.join();
    }
    std::string spec() const { return "127.0.0.1:" + std::to_string(listener.port()); }

    void serve(int fd) {
        timeval tv{20, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        UserspaceFramer f(d);
        int answered = 0;
        bool closing = false;
        uint8_t buf[65536];
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (closing) continue;
            f.feed({buf, static_cast<size_t>(n)});
            for (auto r = f.next(); r.status == UserspaceFramer::Status::message; r = f.next()) {
                Bytes req(r.message.bytes.begin(), r.message.bytes.end());
                Bytes rep = answer ? answer(req, id) : req;
                if (!answer) {
                    rep[6] = 0;
                    rep[7] = static_cast<uint8_t>(id);
                }
                if (before_reply) before_reply(req);
                try {
                    send_all(fd, rep.data(), rep.size());
                } catch (const std::exception&) {
                    closing = true;  // the proxy closed this connection (its client is gone)
                    break;
                }
                if (after_reply) after_reply(req);
                if (++answered == close_after) {
                    shutdown(fd, SHUT_WR);
                    closing = true;
                    break;
                }
            }
        }
        close(fd);
        open--;
    }
};

struct Running {
    std::unique_ptr<Proxy> proxy;
    std::thread thread;
    std::mutex mu;
    std::vector<std::string> log;
    explicit Running(ProxyOptions o) {
        o.log = [this](const std::string& line) {
            std::lock_guard l(mu);
            std::fprintf(stderr, "proxy: %s\n", line.c_str());
            log.push_back(line);
        };
        proxy = std::make_unique<Proxy>(std::move(o));
        thread = std::thread([this] { proxy->run(); });
    }
    ~Running() {
        proxy->stop();
        thread.join();
    }
    bool logged(const std::string& what) {
        std::lock_guard l(mu);
        for (const std::string& s : log)
            if (s.find(what) != std::string::npos) return true;
        return false;
    }
};

inline ProxyOptions options(const std::string& desc, ProxyPath path, std::vector<std::string> backends,
                            std::optional<RouteMode> mode = std::nullopt) {
    ProxyOptions o;
    o.request = shipped(desc);
    o.path = path;
    o.require_kernel = path == ProxyPath::kernel;
    for (const std::string& b : backends) o.backends.push_back(parse_backend(b));
    o.route = mode;
    return o;
}

inline int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// Reads whole messages until `n` arrived, the peer closed, or 10 s passed.
struct Read {
    std::vector<Bytes> messages;
    bool eof = false;
};
inline Read read_messages(int fd, const Description& d, size_t n, bool until_eof = false) {
    Read out;
    UserspaceFramer f(d);
    uint8_t buf[65536];
    while (until_eof || out.messages.size() < n) {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got == 0) {
            out.eof = true;
            break;
        }
        if (got < 0) break;
        f.feed({buf, static_cast<size_t>(got)});
        for (auto r = f.next(); r.status == UserspaceFramer::Status::message; r = f.next())
            out.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
    }
    return out;
}

// Every reply is its request with the backend's id in bytes 6-7; each request is
// answered once. Returns opaque -> backend id.
inline std::map<uint32_t, int> check_replies(const std::map<uint32_t, Bytes>& requests,
                                             const std::vector<Bytes>& replies) {
    std::map<uint32_t, int> by;
    for (const Bytes& r : replies) {
        REQUIRE(r.size() >= 24);
        uint32_t op = mc_opaque(r);
        REQUIRE_MESSAGE(requests.count(op), "a reply to no request");
        CHECK_MESSAGE(!by.count(op), "a request answered twice");
        Bytes want = requests.at(op);
        by[op] = r[7];
        Bytes got = r;
        got[6] = got[7] = 0;
        CHECK_MESSAGE(got == want, "reply bytes differ from the request");
    }
    CHECK(by.size() == requests.size());
    return by;
}

template <typename F>
inline bool eventually(F f, std::chrono::milliseconds limit = 5000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

}  // namespace sockframe::testing
