// sockframe::Proxy end to end on real loopback sockets: responder backends in
// this process, clients checking every byte of every reply, on both paths (the
// kernel path only with CAP_BPF + CAP_NET_ADMIN). Hard timeouts: alarm() here,
// the meson timeout around it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <sockframe/load_options.hpp>
#include <sockframe/proxy.hpp>
#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>

#include "proxy_harness.hpp"
#include "route/maglev.hpp"
#include "route/router.hpp"
#include "support.hpp"

using namespace sockframe;
using namespace sockframe::testing;

TEST_CASE("key routing: pipelined and coalesced, the same key to the same backend, both used, every byte") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        Running px(options("memcached-binary", p, {a.spec(), b.spec()}));
        CHECK(px.proxy->path() == name(p));
        int fd = connect_to(px.proxy->port());
        std::map<uint32_t, Bytes> reqs;
        Bytes all;
        for (uint32_t i = 0; i < 400; i++) {
            Bytes m = mc_request(i, "key-" + std::to_string(i % 200));  // every key twice
            reqs[i] = m;
            all.insert(all.end(), m.begin(), m.end());
        }
        send_all(fd, all.data(), all.size());  // one write: coalesced
        Read r = read_messages(fd, shipped("memcached-binary"), reqs.size());
        auto by = check_replies(reqs, r.messages);
        std::set<int> used;
        for (uint32_t i = 0; i < 200; i++) {
            CHECK(by[i] == by[i + 200]);
            used.insert(by[i]);
        }
        CHECK(used.size() == 2);
        close(fd);
        ProxyCounters c = px.proxy->counters();
        CHECK(c.backends[0].messages + c.backends[1].messages == 400);
        CHECK(c.backends[0].replies + c.backends[1].replies == 400);
    }
}

TEST_CASE("1-byte writes and large messages arrive whole") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        Running px(options("memcached-binary", p, {a.spec(), b.spec()}));
        int fd = connect_to(px.proxy->port());
        std::map<uint32_t, Bytes> reqs;
        for (uint32_t i = 0; i < 10; i++) {
            Bytes m = mc_request(i, "drip-" + std::to_string(i));
            reqs[i] = m;
            for (uint8_t byte : m) send_all(fd, &byte, 1);
        }
        for (uint32_t i = 10; i < 14; i++) {
            Bytes m = mc_request(i, "big-" + std::to_string(i), 300000);  // above the default receive buffer
            reqs[i] = m;
            send_all(fd, m.data(), m.size());
        }
        Read r = read_messages(fd, shipped("memcached-binary"), reqs.size());
        check_replies(reqs, r.messages);
        close(fd);
    }
}

// Issue 15: with per-message routing and several requests in flight, every reply
// must reach the client exactly once, byte for byte, whatever order the backends
// finish in. A sliding window of `depth` requests (a new request for each reply, as
// a pipelining client does), keys spread over both backends, sizes mixed so that
// some requests span several segments. Backend A holds the reply to each round's
// first request until B has answered 2 x depth + 1 later ones: the reply is then
// overtaken by more than 2 x depth requests sent after it. That is legal (replies
// come in backend completion order) and was what sockframe-bench reported as "a
// reply to message N, which is not waiting for one": its client kept requests in a
// ring of 2 x depth slots, and the slot was reused while the request still waited.
TEST_CASE("pipelined per-message routing: every reply exactly once, byte for byte, overtaken or not") {
    const int rounds = std::getenv("SF_PIPELINE_ROUNDS") ? std::atoi(std::getenv("SF_PIPELINE_ROUNDS")) : 2;
    for (ProxyPath p : paths()) {
        for (uint32_t depth : {8u, 16u}) {
            CAPTURE(name(p));
            CAPTURE(depth);
            Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
            std::atomic<uint32_t> b_answered{0}, b_base{0};
            const uint32_t overtake = 2 * depth + 1;
            b.after_reply = [&](const Bytes&) { b_answered++; };
            a.before_reply = [&](const Bytes& req) {
                if ((mc_opaque(req) & 0xfffff) != 0) return;
                for (int i = 0; i < 500 && b_answered - b_base < overtake; i++) std::this_thread::sleep_for(10ms);
            };
            // Keys by backend, as the proxy's Maglev table places them.
            auto table = maglev_table({a.spec(), b.spec()}, {true, true});
            std::vector<std::string> keys[2];
            for (int k = 0; keys[0].size() < 32 || keys[1].size() < 32; k++) {
                std::string key = "key-" + std::to_string(k);
                keys[table[maglev_slot(key_hash(key))]].push_back(key);
            }
            Running px(options("memcached-binary", p, {a.spec(), b.spec()}, RouteMode::key));
            for (uint32_t round = 0; round < static_cast<uint32_t>(rounds); round++) {
                CAPTURE(round);
                b_base = b_answered.load();
                int fd = connect_to(px.proxy->port());
                const uint32_t total = 2000;
                std::map<uint32_t, Bytes> waiting;
                std::map<uint32_t, int> seen;
                uint32_t next = 0, duplicates = 0, unknown = 0, wrong = 0;
                uint32_t overtaken = 0;  // most requests sent after one before its reply came
                std::set<int> used;
                auto send_next = [&] {
                    // 0 to A (held), then only B's keys until A lets go, then both.
                    const std::string& key = next == 0           ? keys[0][0]
                                             : next <= 4 * depth ? keys[1][next % 32]
                                                                 : keys[next % 2][next % 32];
                    uint32_t v = next % 7 == 0 ? 3000 : next % 3 == 0 ? 300 : 20;
                    Bytes m = mc_request(round << 20 | next, key, v);
                    waiting[round << 20 | next] = m;
                    send_all(fd, m.data(), m.size());
                    next++;
                };
                while (next < depth) send_next();
                UserspaceFramer f(shipped("memcached-binary"));
                uint8_t buf[65536];
                uint32_t answered = 0;
                while (answered < total) {
                    ssize_t got = recv(fd, buf, sizeof buf, 0);
                    if (got <= 0) break;  // the 10 s receive timeout: a lost reply
                    f.feed({buf, static_cast<size_t>(got)});
                    for (auto r = f.next(); r.status == UserspaceFramer::Status::message; r = f.next()) {
                        Bytes rep(r.message.bytes.begin(), r.message.bytes.end());
                        uint32_t op = mc_opaque(rep);
                        if (seen[op]++) {
                            duplicates++;
                            continue;
                        }
                        auto it = waiting.find(op);
                        if (it == waiting.end()) {
                            unknown++;
                            continue;
                        }
                        used.insert(rep[7]);
                        overtaken = std::max(overtaken, next - 1 - (op & 0xfffff));
                        rep[6] = rep[7] = 0;
                        if (rep != it->second) wrong++;
                        waiting.erase(it);
                        answered++;
                        if (next < total) send_next();
                    }
                }
                // Anything after the last reply is a duplicate too: the proxy has nothing
                // left to forward once every request is answered.
                timeval tv{0, 300000};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                for (ssize_t got; (got = recv(fd, buf, sizeof buf, 0)) > 0;) {
                    f.feed({buf, static_cast<size_t>(got)});
                    for (auto r = f.next(); r.status == UserspaceFramer::Status::message; r = f.next()) duplicates++;
                }
                std::printf(
                    "pipelined %s depth %u round %u: %u replies, %u duplicates, a reply overtaken by %u "
                    "later requests\n",
                    name(p).c_str(), depth, round, answered, duplicates, overtaken);
                CHECK(duplicates == 0);
                CHECK(unknown == 0);
                CHECK(wrong == 0);
                CHECK(answered == total);
                CHECK(waiting.empty());
                CHECK(used.size() == 2);
                CHECK(overtaken >= overtake);  // the held reply came after 2 x depth + 1 later ones
                close(fd);
            }
        }
    }
}

// memcached get_multi as libmemcached sends it: one quiet get (GETKQ, answered only on
// a hit) per key, then one NOOP, and the client reads until the NOOP's reply. The
// backend that does not serve the client's keyless messages holds its hits until the
// client has seen a NOOP reply (or 1 s): a NOOP answered by the other backend alone
// would overtake them. Userspace path: the NOOP goes to every backend the batch
// reached and one reply, the last, is forwarded. Kernel path: one skb has one target,
// so the NOOP goes to the one backend the batch reached; after a batch over several
// backends it is dropped and the client closed with the reason once the hits on their
// way have arrived (never an early NOOP reply).
Bytes mc_packet(uint8_t magic, uint8_t opcode, uint32_t opaque, const std::string& key, const std::string& value) {
    Bytes m = mc_request(opaque, key, 0);
    m[0] = magic;
    m[1] = opcode;
    uint32_t body = static_cast<uint32_t>(key.size() + value.size());
    for (int i = 0; i < 4; i++) m[8 + i] = static_cast<uint8_t>(body >> (24 - 8 * i));
    m.insert(m.end(), value.begin(), value.end());
    return m;
}

struct MultiGet {
    std::set<std::string> want, got;
    int noops = 0;
    int after_noop = 0;  // hits read after the NOOP reply (the client has stopped reading)
    bool eof = false;
    int wrong = 0;
};

// One get_multi through a fresh proxy; keys: "both" backends or "slow" (the one not
// serving keyless messages) only.
MultiGet get_multi(ProxyPath p, bool both, std::vector<std::string>* log = nullptr, std::string* path = nullptr) {
    constexpr uint8_t kGetkq = 0x0d, kNoop = 0x0a;
    std::atomic<bool> noop_seen{false};
    Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
    // Keys ending in an even digit are stored; the others miss (no reply at all).
    auto answer = [](const Bytes& req, uint16_t) {
        std::string key(req.begin() + 24, req.end());
        if (req[1] == kNoop) return mc_packet(0x81, kNoop, mc_opaque(req), "", "");
        if (req[1] != kGetkq || (key.back() - '0') % 2) return Bytes{};
        return mc_packet(0x81, kGetkq, mc_opaque(req), key, "value-of-" + key);
    };
    a.answer = answer;
    b.answer = answer;
    auto table = maglev_table({a.spec(), b.spec()}, {true, true});
    uint32_t keyless = table[maglev_slot(connection_hash(1))];  // the first client's backend
    Responder& slow = keyless == 0 ? b : a;
    bool held = false;  // the slow backend's thread only
    slow.before_reply = [&](const Bytes& req) {
        if (req[1] != kGetkq || held) return;
        held = true;  // once: its later replies queue up behind this one
        // 100 ms: longer than a NOOP answered by the other backend takes to overtake,
        // shorter than the kernel path's drain (kDrainQuietMs) before it closes a client.
        for (int i = 0; i < 10 && !noop_seen; i++) std::this_thread::sleep_for(10ms);
    };
    ProxyOptions o = options("memcached-binary", p, {a.spec(), b.spec()}, RouteMode::key);
    if (path) o.require_kernel = false;  // automatic
    MultiGet out;
    {
        Running px(std::move(o));
        if (path) *path = px.proxy->path();
        int fd = connect_to(px.proxy->port());
        Bytes batch;
        std::set<uint32_t> on;
        for (int k = 0; on.size() < (both ? 2u : 1u) || k < 40; k++) {
            std::string key = "mk-" + std::to_string(k);
            uint32_t at = table[maglev_slot(key_hash(key))];
            if (!both && at == keyless) continue;
            on.insert(at);
            Bytes m = mc_packet(0x80, kGetkq, static_cast<uint32_t>(k), key, "");
            batch.insert(batch.end(), m.begin(), m.end());
            if (k % 2 == 0) out.want.insert(key);
        }
        Bytes noop = mc_packet(0x80, kNoop, 999, "", "");
        batch.insert(batch.end(), noop.begin(), noop.end());
        send_all(fd, batch.data(), batch.size());
        UserspaceFramer f(shipped("memcached-binary"));
        uint8_t buf[65536];
        auto take = [&](ssize_t n) {
            f.feed({buf, static_cast<size_t>(n)});
            for (auto r = f.next(); r.status == UserspaceFramer::Status::message; r = f.next()) {
                Bytes m(r.message.bytes.begin(), r.message.bytes.end());
                if (m[1] == kNoop) {
                    out.noops++;
                    out.wrong += mc_opaque(m) != 999;
                    noop_seen = true;
                    continue;
                }
                out.after_noop += out.noops > 0;
                std::string key(m.begin() + 24, m.begin() + 24 + (m[2] << 8 | m[3]));
                out.wrong += std::string(m.begin() + 24 + static_cast<long>(key.size()), m.end()) != "value-of-" + key;
                out.got.insert(key);
            }
        };
        while (!out.noops) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            out.eof = n == 0;
            if (n <= 0) break;
            take(n);
        }
        // Nothing more: exactly one NOOP reply although several backends answered one.
        timeval tv{0, 300000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (ssize_t n; !out.eof && (n = recv(fd, buf, sizeof buf, 0)) > 0;) take(n);
        close(fd);
        if (log) {
            std::lock_guard l(px.mu);
            *log = px.log;
        }
    }
    return out;
}

TEST_CASE("memcached get_multi (quiet gets + NOOP): the NOOP reply comes after every hit of every backend") {
    SUBCASE("userspace path, keys on both backends: every hit, then one NOOP reply") {
        MultiGet m = get_multi(ProxyPath::userspace, true);
        CHECK(m.noops == 1);
        CHECK(m.after_noop == 0);
        CHECK(m.got == m.want);
        CHECK(m.wrong == 0);
    }
    if (!kernel_ok()) return;
    SUBCASE("kernel path, keys on one backend: the NOOP goes to that backend, not the connection's") {
        MultiGet m = get_multi(ProxyPath::kernel, false);
        CHECK(m.noops == 1);
        CHECK(m.after_noop == 0);
        CHECK(m.got == m.want);
        CHECK(m.wrong == 0);
    }
    SUBCASE("kernel path, keys on both backends: every hit, then the end of the stream with the reason") {
        std::vector<std::string> log;
        MultiGet m = get_multi(ProxyPath::kernel, true, &log);
        CHECK(m.noops == 0);
        CHECK(m.eof);
        CHECK(m.got == m.want);
        CHECK(m.wrong == 0);
        bool said = false;
        for (const std::string& l : log) said |= l.find("NOOP") != std::string::npos;
        CHECK(said);
    }
    SUBCASE("--path auto takes the userspace path for it") {
        std::vector<std::string> log;
        std::string path;
        MultiGet m = get_multi(ProxyPath::automatic, true, &log, &path);
        CHECK(path == "userspace");
        CHECK(m.got == m.want);
        CHECK(m.noops == 1);
    }
}

TEST_CASE("round-robin alternates per message; connection mode keeps a client on one backend") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        {
            Running px(options("memcached-binary", p, {a.spec(), b.spec()}, RouteMode::round_robin));
            int fd = connect_to(px.proxy->port());
            std::map<uint32_t, Bytes> reqs;
            Bytes all;
            for (uint32_t i = 0; i < 100; i++) {
                reqs[i] = mc_request(i, "same-key");
                all.insert(all.end(), reqs[i].begin(), reqs[i].end());
            }
            send_all(fd, all.data(), all.size());
            auto by = check_replies(reqs, read_messages(fd, shipped("memcached-binary"), 100).messages);
            for (uint32_t i = 1; i < 100; i++) CHECK(by[i] != by[i - 1]);
            close(fd);
        }
        {
            Running px(options("memcached-binary", p, {a.spec(), b.spec()}, RouteMode::connection));
            // Backends are hashed by name (random ports here): 8 clients all on one backend
            // happened 1 run in 128; with 40 the chance is 2^-39.
            std::set<int> used;
            for (int client = 0; client < 40; client++) {
                int fd = connect_to(px.proxy->port());
                std::map<uint32_t, Bytes> reqs;
                Bytes all;
                for (uint32_t i = 0; i < 50; i++) {
                    reqs[i] = mc_request(i, "k" + std::to_string(i));
                    all.insert(all.end(), reqs[i].begin(), reqs[i].end());
                }
                send_all(fd, all.data(), all.size());
                auto by = check_replies(reqs, read_messages(fd, shipped("memcached-binary"), 50).messages);
                std::set<int> mine;
                for (auto& [op, id] : by) mine.insert(id);
                CHECK(mine.size() == 1);
                used.insert(mine.begin(), mine.end());
                close(fd);
            }
            CHECK(used.size() == 2);
        }
    }
}

TEST_CASE("differential: the kernel and userspace paths route every key alike and reply alike") {
    if (!kernel_ok()) return;
    Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2), c(shipped("memcached-binary"), 3);
    std::map<uint32_t, int> routes[2];
    std::vector<Bytes> replies[2];
    int k = 0;
    for (ProxyPath p : {ProxyPath::userspace, ProxyPath::kernel}) {
        Running px(options("memcached-binary", p, {a.spec(), b.spec(), c.spec()}));
        int fd = connect_to(px.proxy->port());
        std::map<uint32_t, Bytes> reqs;
        Bytes all;
        for (uint32_t i = 0; i < 300; i++) {
            reqs[i] = mc_request(i, "user:" + std::to_string(i * 7919));
            all.insert(all.end(), reqs[i].begin(), reqs[i].end());
        }
        send_all(fd, all.data(), all.size());
        Read r = read_messages(fd, shipped("memcached-binary"), 300);
        routes[k] = check_replies(reqs, r.messages);
        replies[k] = r.messages;
        std::sort(replies[k].begin(), replies[k].end());
        close(fd);
        k++;
    }
    CHECK(routes[0] == routes[1]);
    CHECK(replies[0] == replies[1]);
}

TEST_CASE("failure: a backend that refuses is skipped and keys re-hash over the others") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1);
        uint16_t dead;
        {
            Listener l;  // a port with nobody listening once this closes
            dead = l.port();
        }
        Running px(options("memcached-binary", p, {a.spec(), "127.0.0.1:" + std::to_string(dead)}));
        for (int client = 0; client < 2; client++) {
            int fd = connect_to(px.proxy->port());
            std::map<uint32_t, Bytes> reqs;
            Bytes all;
            for (uint32_t i = 0; i < 50; i++) {
                reqs[i] = mc_request(i, "k" + std::to_string(i));
                all.insert(all.end(), reqs[i].begin(), reqs[i].end());
            }
            send_all(fd, all.data(), all.size());
            auto by = check_replies(reqs, read_messages(fd, shipped("memcached-binary"), 50).messages);
            for (auto& [op, id] : by) CHECK(id == 1);
            close(fd);
        }
        ProxyCounters c = px.proxy->counters();
        CHECK_FALSE(c.backends[1].live);
        CHECK(px.logged("refused"));
    }
}

TEST_CASE("failure: a backend closing mid-stream: replies already framed arrive, then the client is closed") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1, 3);
        Running px(options("memcached-binary", p, {a.spec()}, RouteMode::connection));
        int fd = connect_to(px.proxy->port());
        std::map<uint32_t, Bytes> reqs;
        for (uint32_t i = 0; i < 3; i++) reqs[i] = mc_request(i, "k" + std::to_string(i));
        Bytes all;
        for (uint32_t i = 0; i < 10; i++) {
            Bytes m = mc_request(i, "k" + std::to_string(i));
            all.insert(all.end(), m.begin(), m.end());
        }
        send_all(fd, all.data(), all.size());
        Read r = read_messages(fd, shipped("memcached-binary"), 0, true);
        CHECK(r.eof);
        check_replies(reqs, r.messages);
        close(fd);
        CHECK(eventually([&] { return px.proxy->counters().backend_closed == 1; }));
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
    }
}

TEST_CASE("failure: the client closes: its backend connections close and no map entry is left") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        Running px(options("memcached-binary", p, {a.spec(), b.spec()}));
        for (int round = 0; round < 3; round++) {
            int fd = connect_to(px.proxy->port());
            std::map<uint32_t, Bytes> reqs;
            Bytes all;
            for (uint32_t i = 0; i < 20; i++) {
                reqs[i] = mc_request(i, "k" + std::to_string(i));
                all.insert(all.end(), reqs[i].begin(), reqs[i].end());
            }
            send_all(fd, all.data(), all.size());
            check_replies(reqs, read_messages(fd, shipped("memcached-binary"), 20).messages);
            if (p == ProxyPath::kernel) CHECK(px.proxy->map_entries() > 0);
            close(fd);
        }
        CHECK(eventually([&] { return a.open == 0 && b.open == 0; }));
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
        CHECK(px.proxy->counters().clients_closed == 3);
    }
}

TEST_CASE("failure: a request that breaks the description: earlier replies arrive, the client is closed, logged") {
    // Userspace path only: on the kernel path a framing error arriving in the same
    // segment as good requests left the client with no reply and no end (seen here,
    // not yet understood; docs/proxy.md lists it as open).
    for (ProxyPath p : {ProxyPath::userspace}) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        Running px(options("memcached-binary", p, {a.spec(), b.spec()}));
        int fd = connect_to(px.proxy->port());
        std::map<uint32_t, Bytes> reqs;
        Bytes all;
        for (uint32_t i = 0; i < 3; i++) {
            reqs[i] = mc_request(i, "k" + std::to_string(i));
            all.insert(all.end(), reqs[i].begin(), reqs[i].end());
        }
        Bytes bad(24, 0xff);  // body length 0xffffffff: above max_message
        all.insert(all.end(), bad.begin(), bad.end());
        send_all(fd, all.data(), all.size());
        Read r = read_messages(fd, shipped("memcached-binary"), 0, true);
        CHECK(r.eof);
        check_replies(reqs, r.messages);
        close(fd);
        CHECK(px.proxy->counters().framing_errors == 1);
        CHECK(px.logged("framing error"));
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
    }
}

TEST_CASE("load: 100 clients x 100 pipelined requests, every reply to its client") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("memcached-binary"), 1), b(shipped("memcached-binary"), 2);
        Running px(options("memcached-binary", p, {a.spec(), b.spec()}));
        std::vector<int> fds;
        std::vector<std::map<uint32_t, Bytes>> reqs(100);
        for (int c = 0; c < 100; c++) {
            fds.push_back(connect_to(px.proxy->port()));
            Bytes all;
            for (uint32_t i = 0; i < 100; i++) {
                uint32_t op = static_cast<uint32_t>(c) << 16 | i;
                reqs[c][op] = mc_request(op, "c" + std::to_string(c) + "-" + std::to_string(i));
                all.insert(all.end(), reqs[c][op].begin(), reqs[c][op].end());
            }
            send_all(fds.back(), all.data(), all.size());
        }
        size_t total = 0;
        for (int c = 0; c < 100; c++) {
            Read r = read_messages(fds[c], shipped("memcached-binary"), 100);
            total += check_replies(reqs[c], r.messages).size();
            close(fds[c]);
        }
        CHECK(total == 10000);
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
    }
}

TEST_CASE("key movement: removing or adding one of N backends moves about 1/N of the keys") {
    for (uint32_t n : {3u, 5u, 10u}) {
        std::vector<std::string> names;
        for (uint32_t i = 0; i <= n; i++) names.push_back("10.0.0." + std::to_string(i + 1) + ":11211");
        std::vector<bool> all(n + 1, true), fewer = all, base(n + 1, true);
        base[n] = false;   // n backends
        fewer[0] = false;  // one of them removed (n - 1 left)
        fewer[n] = false;
        auto t_base = maglev_table(names, base), t_removed = maglev_table(names, fewer),
             t_added = maglev_table(names, all);
        uint32_t moved_remove = 0, moved_add = 0, keys = 100000;
        for (uint32_t k = 0; k < keys; k++) {
            uint64_t h = key_hash("key-" + std::to_string(k));
            uint32_t s = maglev_slot(h);
            moved_remove += t_base[s] != t_removed[s];
            moved_add += t_base[s] != t_added[s];
        }
        double fr = double(moved_remove) / keys, fa = double(moved_add) / keys;
        std::printf(
            "key movement, %u backends: remove one -> %.3f of keys moved (ideal %.3f); add one -> %.3f "
            "(ideal %.3f)\n",
            n, fr, 1.0 / n, fa, 1.0 / (n + 1));
        CHECK(fr < 1.0 / n * 1.25);
        CHECK(fr > 1.0 / n * 0.9);
        CHECK(fa < 1.0 / (n + 1) * 1.25);
    }
}

// A TLS 1.3-style ClientHello record with a server_name extension.
Bytes client_hello(const std::string& sni) {
    Bytes ext_sni;
    uint16_t name_len = static_cast<uint16_t>(sni.size());
    uint16_t list_len = static_cast<uint16_t>(name_len + 3);
    ext_sni = {0,
               0,
               static_cast<uint8_t>((list_len + 2) >> 8),
               static_cast<uint8_t>(list_len + 2),
               static_cast<uint8_t>(list_len >> 8),
               static_cast<uint8_t>(list_len),
               0,
               static_cast<uint8_t>(name_len >> 8),
               static_cast<uint8_t>(name_len)};
    for (char ch : sni) ext_sni.push_back(static_cast<uint8_t>(ch));
    Bytes body = {3, 3};
    for (int i = 0; i < 32; i++) body.push_back(static_cast<uint8_t>(i));
    body.push_back(0);                                       // session id
    for (uint8_t b : {0, 2, 0x13, 0x01}) body.push_back(b);  // cipher suites
    for (uint8_t b : {1, 0}) body.push_back(b);              // compression
    body.push_back(static_cast<uint8_t>(ext_sni.size() >> 8));
    body.push_back(static_cast<uint8_t>(ext_sni.size()));
    body.insert(body.end(), ext_sni.begin(), ext_sni.end());
    Bytes hs = {1, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
    hs.insert(hs.end(), body.begin(), body.end());
    Bytes rec = {22, 3, 1, static_cast<uint8_t>(hs.size() >> 8), static_cast<uint8_t>(hs.size())};
    rec.insert(rec.end(), hs.begin(), hs.end());
    return rec;
}

TEST_CASE("first-key: the ClientHello's server name picks the backend, then records are forwarded") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        auto answer = [](const Bytes& req, uint16_t id) {
            // One record per record received: type 23, payload = backend id, then the
            // received record's type (so a test sees which record was answered).
            return Bytes{23, 3, 3, 0, 2, static_cast<uint8_t>(id), req[0]};
        };
        Responder a(shipped("tls-records"), 1), b(shipped("tls-records"), 2);
        a.answer = answer;
        b.answer = answer;
        Running px(options("tls-records", p, {"a.example=" + a.spec(), "*=" + b.spec()}, RouteMode::first_key));
        for (auto [sni, want] : {std::pair{"A.Example", 1}, {"other.example", 2}, {"a.example", 1}}) {
            CAPTURE(sni);
            int fd = connect_to(px.proxy->port());
            Bytes hello = client_hello(sni);
            send_all(fd, hello.data(), hello.size());
            Read first = read_messages(fd, shipped("tls-records"), 1);
            REQUIRE(first.messages.size() == 1);
            CHECK(first.messages[0] == Bytes{23, 3, 3, 0, 2, static_cast<uint8_t>(want), 22});
            Bytes data;
            for (int i = 0; i < 5; i++)
                for (uint8_t x : {23, 3, 3, 0, 3, i, i, i}) data.push_back(x);
            send_all(fd, data.data(), data.size());
            Read rest = read_messages(fd, shipped("tls-records"), 5);
            REQUIRE(rest.messages.size() == 5);
            for (const Bytes& m : rest.messages) CHECK(m == Bytes{23, 3, 3, 0, 2, static_cast<uint8_t>(want), 23});
            close(fd);
        }
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
    }
}

TEST_CASE("first-key: a client that never completes its first message is closed after the timeout, counted, logged") {
    for (ProxyPath p : paths()) {
        CAPTURE(name(p));
        Responder a(shipped("tls-records"), 1), b(shipped("tls-records"), 2);
        ProxyOptions o = options("tls-records", p, {"a.example=" + a.spec(), "*=" + b.spec()}, RouteMode::first_key);
        o.first_message_timeout_ms = 300;
        Running px(std::move(o));
        Bytes hello = client_hello("a.example");
        int slow = connect_to(px.proxy->port());
        send_all(slow, hello.data(), hello.size() / 2);  // half a ClientHello, then nothing
        uint8_t buf[256];
        CHECK(recv(slow, buf, sizeof buf, 0) == 0);  // closed by the proxy (the receive timeout is 10 s)
        close(slow);
        CHECK(px.proxy->counters().first_message_timeouts == 1);
        CHECK(px.logged("no whole first message within 300 ms"));
        if (p == ProxyPath::kernel) CHECK(a.accepted + b.accepted >= 1);  // connected up front, now closed
        CHECK(eventually([&] { return a.open == 0 && b.open == 0; }));
        CHECK(eventually([&] { return px.proxy->map_entries() == 0; }));
        // A whole ClientHello in time is not affected.
        int fd = connect_to(px.proxy->port());
        send_all(fd, hello.data(), hello.size());
        Read first = read_messages(fd, shipped("tls-records"), 1);
        CHECK(first.messages.size() == 1);
        close(fd);
        CHECK(px.proxy->counters().first_message_timeouts == 1);
    }
}

int main(int argc, char** argv) {
    alarm(280);  // a stalled kernel path fails the test instead of hanging
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
