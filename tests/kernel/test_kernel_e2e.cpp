// Kernel path end to end, per example description: real loopback sockets, the
// generated parser attached, every byte compared with what the client sent.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "kernel_harness.hpp"
#include "description/message_builder.hpp"
#include <sockframe/userspace_framer.hpp>

using namespace sockframe;
using namespace sockframe::testing;

namespace {

const char* kExamples[] = {"dns", "kafka", "mongodb", "postgresql-typed", "http2-frames",
                           "mysql", "modbus-tcp", "json-lines", "smtp-commands"};

// Messages above this are too slow to push through a test; descriptions allowing
// more are tested with max_message lowered to it (the rule itself is unchanged).
constexpr uint64_t kTestMaxMessage = 16 * 1024 * 1024 + 8;

struct Example {
    Description desc;
    std::unique_ptr<Receiver> receiver;
};

// `max_message_override`: a variant of the shipped description with a lower limit.
Example& example(const std::string& name, uint64_t max_message_override = 0) {
    static std::map<std::string, Example> cache;
    std::string key = name + "/" + std::to_string(max_message_override);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    std::string dir = std::getenv("SOCKFRAME_SOURCE_DIR") ? std::getenv("SOCKFRAME_SOURCE_DIR") : ".";
    Example e;
    e.desc = load_description_file(dir + "/parsers/" + name + ".toml");
    if (e.desc.max_message > kTestMaxMessage) e.desc.max_message = 4 * 1024 * 1024;
    if (max_message_override && max_message_override < e.desc.max_message) e.desc.max_message = max_message_override;
    ReceiverOptions o;
    o.mode = Mode::kernel;  // no silent fallback: these tests are about the kernel
    e.receiver = open_receiver(e.desc, o);
    REQUIRE(std::string(e.receiver->mode()) == "kernel");
    return cache.emplace(key, std::move(e)).first->second;
}

std::mt19937_64& rng() {
    static std::mt19937_64 r(12345);
    return r;
}

std::vector<uint8_t> message_of(const Description& d, uint64_t size) {
    auto m = build_message(d, legal_size_near(d, size), rng());
    REQUIRE(m.has_value());
    return *m;
}

// Random sizes, mostly small, some up to a few KiB.
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
    Session(Example& e, const Listener& l) {
        auto [c, s] = l.pair();
        client = c;
        conn = e.receiver->adopt(s);
    }
    ~Session() {
        if (client >= 0) close(client);
    }
};

}  // namespace

TEST_CASE("1,000 messages of random sizes in one send") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        auto msgs = random_messages(e.desc, 1000);
        auto stream = concat(msgs);
        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, msgs.size(), 20);
        writer.join();
        check_same(got, msgs);
    }
}

TEST_CASE("a message sent one byte at a time") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        auto msgs = std::vector<std::vector<uint8_t>>{message_of(e.desc, 200), message_of(e.desc, 20)};
        auto stream = concat(msgs);
        for (uint8_t b : stream) send_all(s.client, &b, 1);
        Got got;
        receive_until(*s.conn, got, msgs.size(), 10);
        check_same(got, msgs);
    }
}

TEST_CASE("a message of max_message bytes") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        auto big = build_message(e.desc, largest_message(e.desc), rng());
        REQUIRE(big.has_value());
        INFO("size " << big->size() << " max_message " << e.desc.max_message);
        // the largest legal size: max_message itself unless scale leaves a remainder
        CHECK(big->size() + (e.desc.is_length() ? e.desc.length().scale : 1) > e.desc.max_message);
        std::vector<std::vector<uint8_t>> msgs{*big, message_of(e.desc, 30)};
        auto stream = concat(msgs);
        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, msgs.size(), 30);
        writer.join();
        check_same(got, msgs);
    }
}

TEST_CASE("a length field split across two sends") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        auto m = message_of(e.desc, 100);
        // Split inside the length field (or, for delimiters, inside the delimiter).
        size_t cut = e.desc.is_length()
                         ? e.desc.length().offset + std::max<uint32_t>(1, e.desc.length().max_field_bytes() / 2)
                         : m.size() - e.desc.delimiter().bytes.size() / 2 - 1;
        if (cut == 0 || cut >= m.size()) cut = 1;
        send_all(s.client, m.data(), cut);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        Got early;
        receive_until(*s.conn, early, 1, 0.05);
        CHECK(early.messages.empty());  // nothing whole yet
        send_all(s.client, m.data() + cut, m.size() - cut);
        Got got;
        receive_until(*s.conn, got, 1, 10);
        check_same(got, {m});
    }
}

TEST_CASE("50 connections interleaved") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        std::vector<std::unique_ptr<Session>> sessions;
        std::vector<std::vector<std::vector<uint8_t>>> want(50);
        std::vector<std::vector<uint8_t>> streams(50);
        for (int i = 0; i < 50; i++) {
            sessions.push_back(std::make_unique<Session>(e, l));
            want[i] = random_messages(e.desc, 20);
            streams[i] = concat(want[i]);
        }
        // Round-robin in uneven pieces so segments of different connections interleave.
        std::vector<size_t> pos(50, 0);
        for (bool more = true; more;) {
            more = false;
            for (int i = 0; i < 50; i++) {
                size_t n = std::min<size_t>(streams[i].size() - pos[i], 1 + rng()() % 700);
                if (n) send_all(sessions[i]->client, streams[i].data() + pos[i], n), pos[i] += n, more = true;
            }
        }
        for (int i = 0; i < 50; i++) {
            CAPTURE(i);
            Got got;
            receive_until(*sessions[i]->conn, got, want[i].size(), 10);
            check_same(got, want[i]);
        }
    }
}

TEST_CASE("a framing error after good messages") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        // HTTP/2 and MySQL fields can't exceed their max_message and their header is
        // their minimum: no stream breaks them. Test them with a lower limit.
        const Description& shipped = example(name).desc;
        const UintLength* su = shipped.is_length() ? shipped.length().as_uint() : nullptr;
        bool breakable = !su || su->max_value() >= (shipped.max_message - su->header) / shipped.length().scale + 1 ||
                         su->header < shipped.length().effective_min();
        Example& e = breakable ? example(name) : example(name, 16384 + 9);
        Session s(e, l);
        auto good = random_messages(e.desc, 5);
        auto stream = concat(good);
        std::vector<uint8_t> bad;
        if (e.desc.is_length()) {
            // Above max_message if the field can say so, else below the minimum.
            const LengthField& lf = e.desc.length();
            const UintLength& f = std::get<UintLength>(lf.encoding);
            bad.assign(lf.field_end() + 8, 0);
            uint64_t max_value = f.max_value();
            uint64_t value = (max_value >= (e.desc.max_message - f.header) / lf.scale + 1)
                                 ? (e.desc.max_message - f.header) / lf.scale + 1
                                 : 0;
            uint64_t field = (value << f.shift) & f.mask;
            for (uint32_t i = 0; i < f.width; i++) {
                uint32_t idx = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;
                bad[lf.offset + idx] = static_cast<uint8_t>(field >> (8 * i));
            }
        } else {
            bad.assign(e.desc.max_message + 10, 'x');
        }
        stream.insert(stream.end(), bad.begin(), bad.end());
        // The userspace framer is the oracle for the exact error.
        UserspaceFramer oracle(e.desc);
        oracle.feed(stream);
        while (oracle.next().status == UserspaceFramer::Status::message) {
        }
        auto expected = oracle.next();
        REQUIRE(expected.status == UserspaceFramer::Status::error);

        std::thread writer([&] { send_all(s.client, stream.data(), stream.size()); });
        Got got;
        receive_until(*s.conn, got, 0, 10, true);
        writer.join();
        REQUIRE_FALSE(got.timed_out);
        REQUIRE(got.messages.size() == good.size());
        for (size_t i = 0; i < good.size(); i++) CHECK(got.messages[i] == good[i]);
        CHECK(got.error == expected.error->message);
    }
}

TEST_CASE("exact error text: DNS length below the minimum") {
    Listener l;
    Example& e = example("dns");
    Session s(e, l);
    auto good = message_of(e.desc, 40);
    std::vector<uint8_t> stream = good;
    stream.insert(stream.end(), {0x00, 0x05, 1, 2, 3, 4, 5});
    send_all(s.client, stream.data(), stream.size());
    Got got;
    receive_until(*s.conn, got, 0, 10, true);
    REQUIRE(got.messages.size() == 1);
    CHECK(got.error == "length field gives a 7-byte message, below the minimum 14 at stream offset 40");
}

TEST_CASE("the stall pattern: many messages framed before the first read, then small ones") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        std::vector<std::vector<uint8_t>> msgs;
        for (int i = 0; i < 12; i++) {
            msgs.push_back(message_of(e.desc, 40 + i));
            send_all(s.client, msgs.back().data(), msgs.back().size());
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the kernel frames them all first
        Got got;
        receive_until(*s.conn, got, msgs.size(), 10);
        for (int i = 0; i < 20; i++) {
            msgs.push_back(message_of(e.desc, 1 + i));
            send_all(s.client, msgs.back().data(), msgs.back().size());
            receive_until(*s.conn, got, msgs.size(), 5);  // each small one arrives promptly
            REQUIRE_FALSE(got.timed_out);
        }
        check_same(got, msgs);
    }
}

TEST_CASE("request/response ping-pong, 10,000 rounds") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        Session s(e, l);
        s.conn->set_nonblocking(true);
        std::vector<uint8_t> echo;
        for (int round = 0; round < 10000; round++) {
            auto m = message_of(e.desc, 20 + round % 50);
            send_all(s.client, m.data(), m.size());
            Got got;
            receive_until(*s.conn, got, 1, 5);
            REQUIRE_FALSE(got.timed_out);
            REQUIRE(got.messages.size() == 1);
            REQUIRE(got.messages[0] == m);
            send_all(s.conn->socket(), got.messages[0].data(), got.messages[0].size());
            echo.resize(m.size());
            size_t have = 0;
            while (have < m.size()) {
                ssize_t n = recv(s.client, echo.data() + have, m.size() - have, 0);
                REQUIRE(n > 0);
                have += static_cast<size_t>(n);
            }
            REQUIRE(echo == m);
        }
    }
}

TEST_CASE("peer closes: whole messages, then end; a partial message is reported as truncated") {
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        {
            Session s(e, l);
            auto msgs = random_messages(e.desc, 30);
            auto stream = concat(msgs);
            send_all(s.client, stream.data(), stream.size());
            close(s.client);
            s.client = -1;
            Got got;
            receive_until(*s.conn, got, 0, 10, true);
            check_same(got, msgs);
            CHECK(got.ended);
        }
        {
            Session s(e, l);
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
            receive_until(*s.conn, got, 0, 10, true);
            REQUIRE(got.messages.size() == msgs.size());
            CHECK(got.error == expected->message);
        }
    }
}

TEST_CASE("bytes sent before the socket joined the map are framed at once, not at close") {
    // Real clients speak right after connect; their first bytes are queued before adopt().
    Listener l;
    for (std::string name : kExamples) {
        CAPTURE(name);
        Example& e = example(name);
        auto [c, s] = l.pair();
        auto m = message_of(e.desc, 60);
        send_all(c, m.data(), m.size());
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        auto conn = e.receiver->adopt(s);
        Got got;
        receive_until(*conn, got, 1, 3);  // the client keeps the connection open
        check_same(got, {m});
        close(c);
    }
}

TEST_CASE("a peer that sent everything and closed before adopt is still framed") {
    Listener l;
    Example& e = example("dns");
    auto [c, s] = l.pair();
    auto msgs = random_messages(e.desc, 5);
    auto stream = concat(msgs);
    send_all(c, stream.data(), stream.size());
    close(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto conn = e.receiver->adopt(s);  // CLOSE_WAIT: can't join a sockmap
    CHECK(std::string(conn->mode()) == "userspace");
    Got got;
    receive_until(*conn, got, 0, 3, true);
    check_same(got, msgs);
    CHECK(got.ended);
}

namespace {

// What the userspace framer makes of `stream` (then the end of the stream).
Got oracle_of(const Description& d, const std::vector<uint8_t>& stream) {
    UserspaceFramer f(d);
    f.feed(stream);
    Got got;
    for (;;) {
        auto r = f.next();
        if (r.status == UserspaceFramer::Status::message) {
            got.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
            got.offsets.push_back(r.message.offset);
            continue;
        }
        if (r.status == UserspaceFramer::Status::error) got.error = r.error->message;
        else if (auto e = f.finish()) got.error = e->message;
        else got.ended = true;
        return got;
    }
}

// Sends `stream` in chunks (0: all at once), closes, receives everything.
Got through_kernel(Example& e, const Listener& l, const std::vector<uint8_t>& stream, size_t chunk) {
    Session s(e, l);
    std::thread writer([&] {
        std::mt19937_64 r(stream.size());
        for (size_t pos = 0; pos < stream.size();) {
            size_t n = chunk == 0 ? stream.size() - pos : std::min<size_t>(stream.size() - pos, 1 + r() % chunk);
            send_all(s.client, stream.data() + pos, n);
            pos += n;
        }
        shutdown(s.client, SHUT_WR);
    });
    Got got;
    receive_until(*s.conn, got, 0, 20, true);
    writer.join();
    return got;
}

// Every shipped description, by file name without ".toml".
std::vector<std::string> shipped_parsers() {
    std::string dir = std::getenv("SOCKFRAME_SOURCE_DIR") ? std::getenv("SOCKFRAME_SOURCE_DIR") : ".";
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/parsers"))
        if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("every shipped parser (first messages, varints, ASCII lengths, magic, trailers) agrees with the userspace framer") {
    Listener l;
    auto names = shipped_parsers();
    CHECK(names.size() >= 30);
    for (std::string name : names) {
        CAPTURE(name);
        Example& e = example(name, 1 << 20);
        std::mt19937_64& r = rng();
        auto base = build_first_message(e.desc, 40, r);
        for (auto& m : random_messages(e.desc, 200)) base.insert(base.end(), m.begin(), m.end());
        for (size_t chunk : {size_t(0), size_t(1), size_t(700)}) {
            CAPTURE(chunk);
            std::vector<uint8_t> stream = base;
            if (chunk == 1) stream.resize(std::min<size_t>(stream.size(), 3000));  // byte by byte: keep it short
            Got want = oracle_of(e.desc, stream);
            Got got = through_kernel(e, l, stream, chunk);
            REQUIRE_FALSE(got.timed_out);
            CHECK(got.messages == want.messages);
            CHECK(got.offsets == want.offsets);
            CHECK(got.error == want.error);
            CHECK(got.ended == want.ended);
        }
        // Corrupt one early byte (a header, a magic, a digit, a trailer): same outcome on both paths.
        for (int trial = 0; trial < 6; trial++) {
            std::vector<uint8_t> stream = base;
            size_t at = r() % std::min<size_t>(stream.size(), 200);
            stream[at] ^= static_cast<uint8_t>(1 + r() % 255);
            CAPTURE(at);
            Got want = oracle_of(e.desc, stream);
            Got got = through_kernel(e, l, stream, 0);
            REQUIRE_FALSE(got.timed_out);
            CHECK(got.messages == want.messages);
            CHECK(got.error == want.error);
        }
    }
}

int main(int argc, char** argv) {
    require_kernel_or_skip();
    alarm(600);  // a stalled kernel connection fails the run instead of hanging CI
    return with_kernel_log_check("the kernel tests", [&] { return doctest::Context(argc, argv).run(); });
}
