// The io_uring engine of the userspace path (core/receive/uring_engine.*): the
// message-exactness tests the kernel and epoll paths have, run against it, and a
// differential test: io_uring and epoll deliver the same messages, offsets and
// final status for the same random streams under random chunkings. Where the engine
// can't run (no liburing in the build, io_uring disabled, kernel < 6.0) the whole
// program prints SKIPPED with the reason and exits 77.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include <sockframe/receiver.hpp>
#include <sockframe/userspace_framer.hpp>
#include "description/message_builder.hpp"
#include "kernel_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

namespace {

// Length prefixes of several shapes, delimiters of one and two bytes, first messages.
const char* kExamples[] = {"dns",   "kafka",      "mongodb",    "postgresql-typed", "http2-frames",
                           "mysql", "modbus-tcp", "json-lines", "smtp-commands"};

struct Example {
    Description desc;
    std::unique_ptr<Receiver> uring, epoll;
};

Example& example(const std::string& name, uint64_t max_message_override = 0) {
    static std::map<std::string, Example> cache;
    std::string key = name + "/" + std::to_string(max_message_override);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Example e;
    e.desc = shipped(name);
    if (e.desc.max_message > 16 * 1024 * 1024) e.desc.max_message = 4 * 1024 * 1024;
    if (max_message_override && max_message_override < e.desc.max_message) e.desc.max_message = max_message_override;
    ReceiverOptions o;
    o.mode = Mode::userspace;
    o.engine = Engine::io_uring;  // forced: no silent fallback to epoll in these tests
    e.uring = open_receiver(e.desc, o);
    REQUIRE(std::string(e.uring->engine()) == "io_uring");
    o.engine = Engine::epoll;
    e.epoll = open_receiver(e.desc, o);
    REQUIRE(std::string(e.epoll->engine()) == "epoll");
    return cache.emplace(key, std::move(e)).first->second;
}

std::mt19937_64& rng() {
    static std::mt19937_64 r(20261202);
    return r;
}

std::vector<uint8_t> message_of(const Description& d, uint64_t size) {
    auto m = build_message(d, legal_size_near(d, size), rng());
    REQUIRE(m.has_value());
    return *m;
}

std::vector<std::vector<uint8_t>> random_messages(const Description& d, size_t n) {
    std::vector<std::vector<uint8_t>> out;
    std::uniform_int_distribution<uint64_t> small(1, 300), big(300, 6000);
    for (size_t i = 0; i < n; i++) out.push_back(message_of(d, i % 10 == 0 ? big(rng()) : small(rng())));
    return out;
}

std::vector<uint8_t> concat(const std::vector<std::vector<uint8_t>>& ms) {
    std::vector<uint8_t> s;
    for (auto& m : ms) s.insert(s.end(), m.begin(), m.end());
    return s;
}

void check_same(const Got& got, const std::vector<std::vector<uint8_t>>& want) {
    REQUIRE_FALSE(got.timed_out);
    REQUIRE(got.error == "");
    REQUIRE(got.messages.size() == want.size());
    uint64_t offset = 0;
    for (size_t i = 0; i < want.size(); i++) {
        CAPTURE(i);
        REQUIRE(got.offsets[i] == offset);
        REQUIRE(got.messages[i] == want[i]);
        offset += want[i].size();
    }
}

struct Session {
    int client = -1;
    std::unique_ptr<Connection> conn;
    Session(Receiver& r, const Listener& l) {
        auto [c, s] = l.pair();
        client = c;
        conn = r.adopt(s);
    }
    ~Session() {
        if (client >= 0) close(client);
    }
};

}  // namespace

TEST_CASE("the engine is what was asked for: a ring to poll, not the socket") {
    Listener l;
    Example& e = example("dns");
    Session u(*e.uring, l), p(*e.epoll, l);
    CHECK(u.conn->poll_fd() != u.conn->socket());
    CHECK(p.conn->poll_fd() == p.conn->socket());
    CHECK(std::string(u.conn->mode()) == "userspace");
    ReceiverOptions o;
    o.mode = Mode::userspace;
    CHECK(std::string(open_receiver(e.desc, o)->engine()) == "epoll");  // the default
    o.engine = Engine::automatic;  // io_uring here, since it is available
    CHECK(std::string(open_receiver(e.desc, o)->engine()) == "io_uring");
}

TEST_CASE("coalesced: 1,000 messages of random sizes in one send") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(*e.uring, l);
        auto msgs = random_messages(e.desc, 1000);
        auto stream = concat(msgs);
        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, msgs.size(), 20, false, Waiting::level_triggered);
        writer.join();
        check_same(got, msgs);
    }
}

TEST_CASE("messages sent one byte at a time") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(*e.uring, l);
        auto msgs = std::vector<std::vector<uint8_t>>{message_of(e.desc, 200), message_of(e.desc, 20)};
        auto stream = concat(msgs);
        for (uint8_t b : stream) send_all(s.client, &b, 1);
        Got got;
        receive_until(*s.conn, got, msgs.size(), 10, false, Waiting::level_triggered);
        check_same(got, msgs);
    }
}

TEST_CASE("large messages: many times the 256 KiB of provided buffers (out of buffers, re-armed)") {
    Listener l;
    for (std::string name : {"kafka", "mongodb", "json-lines"}) {
        CAPTURE(name);
        Example& e = example(name, 4 * 1024 * 1024);
        Session s(*e.uring, l);
        std::vector<std::vector<uint8_t>> msgs{message_of(e.desc, e.desc.max_message), message_of(e.desc, 100),
                                               message_of(e.desc, 1024 * 1024 + 17)};
        auto stream = concat(msgs);
        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, msgs.size(), 30, false, Waiting::level_triggered);
        writer.join();
        check_same(got, msgs);
    }
}

TEST_CASE("many connections: 200 interleaved, uneven pieces") {
    Listener l;
    for (std::string name : {"kafka", "json-lines", "http2-frames"}) {
        CAPTURE(name);
        Example& e = example(name);
        constexpr int kConns = 200;
        std::vector<std::unique_ptr<Session>> sessions;
        std::vector<std::vector<std::vector<uint8_t>>> want(kConns);
        std::vector<std::vector<uint8_t>> streams(kConns);
        for (int i = 0; i < kConns; i++) {
            sessions.push_back(std::make_unique<Session>(*e.uring, l));
            want[i] = random_messages(e.desc, 10);
            streams[i] = concat(want[i]);
        }
        std::vector<size_t> pos(kConns, 0);
        for (bool more = true; more;) {
            more = false;
            for (int i = 0; i < kConns; i++) {
                size_t n = std::min<size_t>(streams[i].size() - pos[i], 1 + rng()() % 700);
                if (n) send_all(sessions[i]->client, streams[i].data() + pos[i], n), pos[i] += n, more = true;
            }
        }
        for (int i = 0; i < kConns; i++) {
            CAPTURE(i);
            Got got;
            receive_until(*sessions[i]->conn, got, want[i].size(), 10, false, Waiting::level_triggered);
            check_same(got, want[i]);
        }
    }
}

TEST_CASE("peer closes: whole messages then end; a partial message is truncated; a reset is an error") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        {
            Session s(*e.uring, l);
            auto msgs = random_messages(e.desc, 30);
            auto stream = concat(msgs);
            send_all(s.client, stream.data(), stream.size());
            close(s.client);
            s.client = -1;
            Got got;
            receive_until(*s.conn, got, 0, 10, true, Waiting::level_triggered);
            check_same(got, msgs);
            CHECK(got.ended);
        }
        {
            Session s(*e.uring, l);
            auto msgs = random_messages(e.desc, 3);
            auto stream = concat(msgs);
            auto partial = message_of(e.desc, 200);
            stream.insert(stream.end(), partial.begin(), partial.end() - 3);
            UserspaceFramer oracle(e.desc);
            oracle.feed(stream);
            while (oracle.next().status == UserspaceFramer::Status::message) {
            }
            auto expected = oracle.finish();
            REQUIRE(expected.has_value());
            send_all(s.client, stream.data(), stream.size());
            close(s.client);
            s.client = -1;
            Got got;
            receive_until(*s.conn, got, 0, 10, true, Waiting::level_triggered);
            REQUIRE(got.messages.size() == msgs.size());
            CHECK(got.error == expected->message);
        }
    }
    Example& e = example("kafka");
    Session s(*e.uring, l);
    auto msgs = random_messages(e.desc, 3);
    auto stream = concat(msgs);
    send_all(s.client, stream.data(), stream.size());
    Got first;
    receive_until(*s.conn, first, msgs.size(), 10, false, Waiting::level_triggered);
    check_same(first, msgs);
    linger lg{1, 0};  // close with RST
    setsockopt(s.client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s.client);
    s.client = -1;
    Got got;
    receive_until(*s.conn, got, 0, 10, true, Waiting::level_triggered);
    CHECK(got.error.find("connection reset by peer") != std::string::npos);
}

TEST_CASE("a framing error after good messages: the same text as the framer") {
    Listener l;
    for (std::string name : {"kafka", "dns", "json-lines", "smtp-commands", "mongodb"}) {
        CAPTURE(name);
        Example& e = example(name, 16384 + 9);
        Session s(*e.uring, l);
        auto good = random_messages(e.desc, 5);
        auto stream = concat(good);
        std::vector<uint8_t> bad;
        if (e.desc.is_length()) {
            const LengthField& lf = e.desc.length();
            const UintLength& f = std::get<UintLength>(lf.encoding);
            bad.assign(lf.field_end() + 8, 0);
            uint64_t value = (e.desc.max_message - f.header) / lf.scale + 1;  // above max_message
            uint64_t field = (value << f.shift) & f.mask;
            for (uint32_t i = 0; i < f.width; i++) {
                uint32_t idx = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;
                bad[lf.offset + idx] = static_cast<uint8_t>(field >> (8 * i));
            }
        } else {
            bad.assign(e.desc.max_message + 10, 'x');
        }
        stream.insert(stream.end(), bad.begin(), bad.end());
        UserspaceFramer oracle(e.desc);
        oracle.feed(stream);
        while (oracle.next().status == UserspaceFramer::Status::message) {
        }
        auto expected = oracle.next();
        REQUIRE(expected.status == UserspaceFramer::Status::error);
        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, 0, 10, true, Waiting::level_triggered);
        writer.join();
        REQUIRE_FALSE(got.timed_out);
        REQUIRE(got.messages.size() == good.size());
        for (size_t i = 0; i < good.size(); i++) CHECK(got.messages[i] == good[i]);
        CHECK(got.error == expected.error->message);
    }
}

TEST_CASE("blocking receive waits on the ring") {
    Listener l;
    Example& e = example("kafka");
    Session s(*e.uring, l);
    auto msgs = random_messages(e.desc, 50);
    auto stream = concat(msgs);
    std::thread writer([&] {
        for (size_t at = 0; at < stream.size(); at += 333) {
            send_all(s.client, stream.data() + at, std::min<size_t>(333, stream.size() - at));
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        shutdown(s.client, SHUT_WR);
    });
    Got got;
    for (;;) {
        Received r = s.conn->receive();  // blocking (the default)
        if (r.status != ReceiveStatus::message) {
            got.ended = r.status == ReceiveStatus::end;
            if (r.status == ReceiveStatus::error) got.error = r.error->message;
            break;
        }
        got.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
        got.offsets.push_back(r.message.offset);
    }
    writer.join();
    check_same(got, msgs);
    CHECK(got.ended);
}

TEST_CASE("adopted on one thread, received on another; and the adopting thread gone") {
    Listener l;
    Example& e = example("json-lines");
    for (bool adopter_exits : {false, true}) {
        CAPTURE(adopter_exits);
        std::unique_ptr<Session> s;
        if (adopter_exits)
            std::thread([&] { s = std::make_unique<Session>(*e.uring, l); }).join();  // its receive is cancelled
        else
            s = std::make_unique<Session>(*e.uring, l);
        auto msgs = random_messages(e.desc, 200);
        auto stream = concat(msgs);
        Got got;
        std::thread reader([&] { receive_until(*s->conn, got, msgs.size(), 10, false, Waiting::level_triggered); });
        for (size_t at = 0; at < stream.size(); at += 1000)
            send_all(s->client, stream.data() + at, std::min<size_t>(1000, stream.size() - at));
        reader.join();
        check_same(got, msgs);
    }
}

// Differential: one stream, two connections (io_uring and epoll), the same random
// chunking on both; messages, offsets and the final status must be identical.
TEST_CASE("differential: io_uring and epoll deliver the same on random streams and chunkings") {
    Listener l;
    std::mt19937_64 r(777);
    int runs = 0;
    for (int round = 0; round < 8; round++) {
        for (std::string name : kExamples) {
            CAPTURE(name);
            CAPTURE(round);
            Example& e = example(name, 64 * 1024);
            auto msgs = random_messages(e.desc, 1 + r() % 120);
            auto stream = concat(msgs);
            // Sometimes a tail: random garbage (often a framing error) or a cut message.
            switch (r() % 4) {
                case 0: {
                    size_t n = 1 + r() % 40;
                    for (size_t i = 0; i < n; i++) stream.push_back(static_cast<uint8_t>(r()));
                    break;
                }
                case 1: {
                    auto m = message_of(e.desc, 500);
                    stream.insert(stream.end(), m.begin(), m.begin() + static_cast<long>(r() % m.size()));
                    break;
                }
                default:
                    break;
            }
            bool reset = r() % 8 == 0;
            Session u(*e.uring, l), p(*e.epoll, l);
            // Chunks from 1 byte to 64 KiB, sometimes with a pause so reads split them.
            std::vector<std::pair<size_t, bool>> chunks;
            for (size_t at = 0; at < stream.size();) {
                size_t max = (r() % 3 == 0) ? 16 : (r() % 2 ? 2000 : 65536);
                size_t n = std::min<size_t>(stream.size() - at, 1 + r() % max);
                chunks.push_back({n, r() % 5 == 0});
                at += n;
            }
            std::thread writer([&] {
                size_t at = 0;
                for (auto [n, pause] : chunks) {
                    send_all(u.client, stream.data() + at, n);
                    send_all(p.client, stream.data() + at, n);
                    at += n;
                    if (pause) std::this_thread::sleep_for(std::chrono::microseconds(100));
                }
                for (int fd : {u.client, p.client}) {
                    if (reset) {
                        linger lg{1, 0};
                        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                    }
                    shutdown(fd, reset ? SHUT_RDWR : SHUT_WR);
                }
            });
            Got gu, gp;
            std::thread ru([&] { receive_until(*u.conn, gu, 0, 20, true, Waiting::level_triggered); });
            receive_until(*p.conn, gp, 0, 20, true, Waiting::retrying);
            ru.join();
            writer.join();
            REQUIRE_FALSE(gu.timed_out);
            REQUIRE_FALSE(gp.timed_out);
            REQUIRE(gu.messages.size() == gp.messages.size());
            CHECK(gu.messages == gp.messages);
            CHECK(gu.offsets == gp.offsets);
            if (!reset) {  // a reset races with the last bytes on both; only the bytes before must agree
                CHECK(gu.error == gp.error);
                CHECK(gu.ended == gp.ended);
            }
            runs++;
        }
    }
    CHECK(runs == 8 * static_cast<int>(std::size(kExamples)));
}

int main(int argc, char** argv) {
    const std::string& why = io_uring_unavailable();
    if (!why.empty()) {
        std::printf("SKIPPED: the io_uring engine is unavailable: %s\n", why.c_str());
        return 77;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
