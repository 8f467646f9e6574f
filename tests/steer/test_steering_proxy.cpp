// sockframe::Proxy behind Steering: what `sockframe proxy --listen RANGE --workers 2`
// builds (tools/cli/proxy_workers.cpp), in the real kernel inside a private network
// namespace. Two Proxy engines, each serving one worker listener of the Steering
// (ProxyOptions::listen_fd), one backend that answers each DNS-over-TCP message with
// its payload upper-cased. Root (77 = SKIP without); a hard alarm ends a hung run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <sockframe/load_options.hpp>
#include <sockframe/proxy.hpp>
#include <sockframe/steering.hpp>

#include "netns_sandbox.hpp"
#include "support.hpp"

using namespace sockframe;
using namespace sockframe::steer_test;

namespace {

bool read_exact(int fd, std::string& out, size_t n) {
    out.clear();
    char buf[4096];
    while (out.size() < n) {
        ssize_t got = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (got <= 0) return false;
        out.append(buf, static_cast<size_t>(got));
    }
    return true;
}

std::string dns_message(const std::string& payload) {
    std::string m(2, '\0');
    m[0] = static_cast<char>(payload.size() >> 8);
    m[1] = static_cast<char>(payload.size() & 0xff);
    return m + payload;
}

std::string upper(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

// The backend: one thread per connection, each whole message answered upper-cased.
struct Backend {
    int listener;
    std::thread acceptor;
    std::vector<std::thread> connections;  // only the acceptor adds to it
    std::atomic<bool> done{false};
    explicit Backend(uint16_t port) : listener(plain_listener("127.0.0.1", port)) {
        REQUIRE(listener >= 0);
        acceptor = std::thread([this] {
            while (!done) {
                auto [which, fd] = accept_any({listener});
                if (fd < 0) continue;
                connections.emplace_back([fd] {
                    std::string len, body;
                    while (read_exact(fd, len, 2)) {
                        size_t n = static_cast<uint8_t>(len[0]) << 8 | static_cast<uint8_t>(len[1]);
                        if (!read_exact(fd, body, n)) break;
                        std::string reply = len + upper(body);
                        if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size()))
                            break;
                    }
                    close(fd);
                });
            }
        });
    }
    ~Backend() {
        done = true;
        acceptor.join();
        for (auto& t : connections) t.join();
        close(listener);
    }
};

// A client through the proxy: two requests on one connection, each reply checked.
bool answered(uint16_t port, unsigned n) {
    int c = connect_to("127.0.0.1", port);
    if (c < 0) return false;
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        std::string payload =
            "query " + std::to_string(n) + "." + std::to_string(i) + " to port " + std::to_string(port);
        std::string m = dns_message(payload), reply;
        ok = send(c, m.data(), m.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(m.size()) &&
             read_exact(c, reply, m.size()) && reply == dns_message(upper(payload));
    }
    close(c);
    return ok;
}

std::vector<ProxyPath> paths() {
    if (missing_kernel_capabilities().empty()) return {ProxyPath::userspace, ProxyPath::kernel};
    return {ProxyPath::userspace};
}

}  // namespace

TEST_CASE("proxy over a 1000-port range with 2 workers: every connection answered, both workers used") {
    Backend backend(40100);
    SteeringOptions so;
    so.rules = {parse_steering_rule("127.0.0.1:41000-41999")};
    so.workers = 2;
    Steering steering(so);
    for (ProxyPath path : paths()) {
        CAPTURE(static_cast<int>(path));
        std::vector<std::unique_ptr<Proxy>> workers;
        for (unsigned i = 0; i < 2; i++) {
            ProxyOptions o;
            o.request = sockframe::testing::shipped("dns");
            o.backends = {parse_backend("127.0.0.1:40100")};
            o.route = RouteMode::connection;
            o.path = path;
            o.listen_fd = steering.listener(i);
            workers.push_back(std::make_unique<Proxy>(o));
        }
        std::vector<std::thread> loops;
        for (auto& w : workers) loops.emplace_back([p = w.get()] { p->run(); });

        std::mt19937 rng(static_cast<unsigned>(path) + 7);
        unsigned ok = 0;
        for (unsigned n = 0; n < 60; n++) ok += answered(static_cast<uint16_t>(41000 + rng() % 1000), n);
        CHECK(ok == 60);
        CHECK(workers[0]->counters().clients > 0);  // the 4-tuple hash used both
        CHECK(workers[1]->counters().clients > 0);
        CHECK(workers[0]->counters().clients + workers[1]->counters().clients == 60);
        CHECK(connect_to("127.0.0.1", 40999) == -ECONNREFUSED);  // outside the range: untouched
        CHECK(connect_to("127.0.0.1", 42000) == -ECONNREFUSED);
        for (auto& w : workers) w->stop();
        for (auto& t : loops) t.join();
        CHECK(std::string(workers[0]->path()) == (path == ProxyPath::kernel ? "kernel" : "userspace"));
    }
    CHECK(steering.check().empty());
}

int main(int argc, char** argv) {
    enter_private_netns(120);
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
