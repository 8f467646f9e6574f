// Connection::receive() on the userspace path over real loopback TCP: what a
// non-blocking caller hears after a short read, with and without
// set_level_triggered(), and above all that a peer FIN arriving with the last
// message is always reported. No privileges needed.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sockframe/connection.hpp>
#include <sockframe/description.hpp>

using namespace sockframe;
using Bytes = std::vector<uint8_t>;

namespace {

// u32 big-endian length prefix, the prefix included in the total.
std::shared_ptr<const Description> length_description() {
    static auto d = std::make_shared<const Description>(parse_description(
        "name = \"t\"\nmax_message = 1048576\n[length]\noffset = 0\nwidth = 4\nheader = 4\n", "t.toml"));
    return d;
}

Bytes message(size_t total, uint8_t fill) {
    Bytes m(total, fill);
    uint32_t body = static_cast<uint32_t>(total - 4);
    m[0] = static_cast<uint8_t>(body >> 24);
    m[1] = static_cast<uint8_t>(body >> 16);
    m[2] = static_cast<uint8_t>(body >> 8);
    m[3] = static_cast<uint8_t>(body);
    return m;
}

// A connected loopback TCP pair: `client` is the peer, `server` the accepted socket.
struct Pair {
    int client = -1, server = -1;
    int accepted = -1;  // the server socket, also after a Connection took it
    Pair() {
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(l >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(listen(l, 1) == 0);
        REQUIRE(getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        server = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(server >= 0);
        accepted = server;
        close(l);
    }
    ~Pair() {
        if (client >= 0) close(client);
        if (server >= 0) close(server);  // unless a Connection took it
    }
    void send_all(const Bytes& b) const {
        size_t done = 0;
        while (done < b.size()) {
            ssize_t n = send(client, b.data() + done, b.size() - done, MSG_NOSIGNAL);
            REQUIRE(n > 0);
            done += static_cast<size_t>(n);
        }
    }
    // Until the server socket holds `bytes` unread and, if `fin`, the peer's FIN.
    void wait_queued(size_t bytes, bool fin) const {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            int queued = 0;
            REQUIRE(ioctl(accepted, FIONREAD, &queued) == 0);
            tcp_info info{};
            socklen_t len = sizeof info;
            REQUIRE(getsockopt(accepted, IPPROTO_TCP, TCP_INFO, &info, &len) == 0);
            if (static_cast<size_t>(queued) == bytes && (!fin || info.tcpi_state == TCP_CLOSE_WAIT)) return;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    std::unique_ptr<Connection> adopt() {
        auto c = make_userspace_receiver(length_description())->adopt(server);
        server = -1;
        return c;
    }
};

bool readable(const Connection& c, int timeout_ms) {
    pollfd p{c.poll_fd(), POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

TEST_CASE("level-triggered: a message and the FIN together give the message, would_block, then end") {
    Pair p;
    Bytes m = message(64, 'a');
    p.send_all(m);
    REQUIRE(shutdown(p.client, SHUT_WR) == 0);
    p.wait_queued(m.size(), true);
    auto c = p.adopt();
    c->set_nonblocking(true);
    c->set_level_triggered(true);

    Received r = c->receive();
    REQUIRE(r.status == ReceiveStatus::message);
    CHECK(Bytes(r.message.bytes.begin(), r.message.bytes.end()) == m);
    // The read was short: the socket counts as drained, no second read is made.
    CHECK(c->receive().status == ReceiveStatus::would_block);
    CHECK(c->stats().reads == 1);
    // The FIN keeps the socket readable for a level-triggered poll...
    REQUIRE(readable(*c, 1000));
    // ...and the next receive() reports it.
    CHECK(c->receive().status == ReceiveStatus::end);
    CHECK(c->receive().status == ReceiveStatus::end);
}

TEST_CASE("default (no level-triggered opt-in): the FIN comes right after the message, no would_block between") {
    Pair p;
    Bytes m = message(64, 'b');
    p.send_all(m);
    REQUIRE(shutdown(p.client, SHUT_WR) == 0);
    p.wait_queued(m.size(), true);
    auto c = p.adopt();
    c->set_nonblocking(true);

    REQUIRE(c->receive().status == ReceiveStatus::message);
    // An edge-triggered caller would get no further event: receive() must read on and see the end.
    CHECK(c->receive().status == ReceiveStatus::end);
}

TEST_CASE("default vs level-triggered: after a short read, data that came since") {
    for (bool lt : {false, true}) {
        CAPTURE(lt);
        Pair p;
        Bytes m = message(100, 'g');
        p.send_all(m);
        p.wait_queued(m.size(), false);
        auto c = p.adopt();
        c->set_nonblocking(true);
        c->set_level_triggered(lt);
        REQUIRE(c->receive().status == ReceiveStatus::message);
        Bytes m2 = message(80, 'h');
        p.send_all(m2);
        p.wait_queued(m2.size(), false);
        if (lt) {
            // No read after the short one: would_block, and the poll that follows reports the data.
            CHECK(c->receive().status == ReceiveStatus::would_block);
            REQUIRE(readable(*c, 1000));
        }
        Received r = c->receive();
        REQUIRE(r.status == ReceiveStatus::message);
        CHECK(Bytes(r.message.bytes.begin(), r.message.bytes.end()) == m2);
        CHECK(c->stats().reads == 2);
    }
}

TEST_CASE("default: a short read is followed by a read that sees EAGAIN") {
    Pair p;
    Bytes m = message(100, 'c');
    p.send_all(m);
    p.wait_queued(m.size(), false);
    auto c = p.adopt();
    c->set_nonblocking(true);

    REQUIRE(c->receive().status == ReceiveStatus::message);
    CHECK(c->receive().status == ReceiveStatus::would_block);
    CHECK(c->stats().reads == 1);
    // Data arriving later is read by the next receive() (whatever the caller's polling).
    Bytes m2 = message(80, 'd');
    p.send_all(m2);
    REQUIRE(readable(*c, 1000));
    Received r = c->receive();
    REQUIRE(r.status == ReceiveStatus::message);
    CHECK(r.message.bytes.size() == m2.size());
}

TEST_CASE("level-triggered: a message split over a short read, completed later") {
    Pair p;
    Bytes m = message(1000, 'e');
    p.send_all(Bytes(m.begin(), m.begin() + 300));
    p.wait_queued(300, false);
    auto c = p.adopt();
    c->set_nonblocking(true);
    c->set_level_triggered(true);

    CHECK(c->receive().status == ReceiveStatus::would_block);
    CHECK(c->stats().reads == 1);
    CHECK_FALSE(readable(*c, 0));  // nothing was left behind
    p.send_all(Bytes(m.begin() + 300, m.end()));
    REQUIRE(readable(*c, 1000));
    Received r = c->receive();
    REQUIRE(r.status == ReceiveStatus::message);
    CHECK(Bytes(r.message.bytes.begin(), r.message.bytes.end()) == m);
    CHECK(c->receive().status == ReceiveStatus::would_block);
    // A FIN after the drain: readable again, then the end.
    REQUIRE(shutdown(p.client, SHUT_WR) == 0);
    REQUIRE(readable(*c, 1000));
    CHECK(c->receive().status == ReceiveStatus::end);
}

TEST_CASE("level-triggered: a poll loop gets every message of a long stream, then the end") {
    Pair p;
    // Larger than one 64 KiB read, so full reads (not drained) and short reads both occur.
    std::vector<Bytes> sent;
    for (size_t i = 0; i < 300; i++) sent.push_back(message(64 + (i * 997) % 9000, static_cast<uint8_t>(i)));
    auto c = p.adopt();
    c->set_nonblocking(true);
    c->set_level_triggered(true);
    std::thread writer([&] {
        for (const Bytes& m : sent) p.send_all(m);
        shutdown(p.client, SHUT_WR);
    });
    size_t got = 0;
    bool ended = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!ended && std::chrono::steady_clock::now() < deadline) {
        if (!readable(*c, 100)) continue;
        for (;;) {
            Received r = c->receive();
            if (r.status == ReceiveStatus::message) {
                REQUIRE(got < sent.size());
                CHECK(Bytes(r.message.bytes.begin(), r.message.bytes.end()) == sent[got]);
                got++;
                continue;
            }
            REQUIRE(r.status != ReceiveStatus::error);
            if (r.status == ReceiveStatus::end) ended = true;
            break;
        }
    }
    writer.join();
    CHECK(got == sent.size());
    CHECK(ended);
}

TEST_CASE("blocking mode ignores the opt-in: message, then end") {
    Pair p;
    Bytes m = message(64, 'f');
    p.send_all(m);
    REQUIRE(shutdown(p.client, SHUT_WR) == 0);
    p.wait_queued(m.size(), true);
    auto c = p.adopt();
    c->set_level_triggered(true);
    REQUIRE(c->receive().status == ReceiveStatus::message);
    CHECK(c->receive().status == ReceiveStatus::end);
}
