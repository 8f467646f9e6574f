// <sockframe/asio.hpp>: whole messages, framing errors, the end and cancellation
// delivered to completion handlers on an io_context (userspace path: no privileges).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <sockframe/asio.hpp>
#include <sockframe/sockframe.hpp>

#include "support.hpp"

using namespace sockframe;
using namespace sockframe::testing;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes dns_message(size_t body, uint8_t fill) {
    Bytes m = {static_cast<uint8_t>(body >> 8), static_cast<uint8_t>(body)};
    m.insert(m.end(), body, fill);
    return m;
}

struct Outcome {
    std::vector<Bytes> messages;
    ReceiveStatus last = ReceiveStatus::would_block;
    std::string error;
    std::error_code ec;
};

// Receives with async_receive until something other than a message arrives.
void receive_all(AsioConnection& conn, Outcome& out) {
    conn.async_receive([&conn, &out](std::error_code ec, Received r) {
        out.ec = ec;
        out.last = r.status;
        if (ec) return;
        if (r.status == ReceiveStatus::message) {
            out.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
            receive_all(conn, out);
        } else if (r.status == ReceiveStatus::error) {
            out.error = r.error->message;
        }
    });
}

struct Setup {
    Description desc = shipped("dns");
    std::unique_ptr<Receiver> receiver = make_userspace_receiver(std::make_shared<const Description>(desc));
    Listener listener;
    int client = -1;
    std::unique_ptr<Connection> server;
    Setup() {
        auto [c, s] = listener.pair();
        client = c;
        server = receiver->adopt(s);
    }
    ~Setup() {
        if (client >= 0) close(client);
    }
};

}  // namespace

TEST_CASE("messages coalesced and split, then the end") {
    Setup s;
    asio::io_context io;
    AsioConnection conn(io, std::move(s.server));
    std::vector<Bytes> sent;
    for (int i = 0; i < 40; i++) sent.push_back(dns_message(12 + i, static_cast<uint8_t>('a' + i % 26)));
    std::thread writer([&] {
        Bytes first;
        for (int i = 0; i < 20; i++) first.insert(first.end(), sent[i].begin(), sent[i].end());
        send_all(s.client, first.data(), first.size());
        for (int i = 20; i < 40; i++)
            for (uint8_t b : sent[i]) {
                send_all(s.client, &b, 1);
                if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        close(s.client);
        s.client = -1;
    });
    Outcome out;
    receive_all(conn, out);
    io.run_for(std::chrono::seconds(10));
    writer.join();
    CHECK_FALSE(out.ec);
    CHECK(out.messages == sent);
    CHECK(out.last == ReceiveStatus::end);
}

TEST_CASE("a framing error arrives after every earlier message") {
    Setup s;
    asio::io_context io;
    AsioConnection conn(io, std::move(s.server));
    Bytes good = dns_message(20, 'x');
    Bytes stream = good;
    stream.insert(stream.end(), {0x00, 0x01, 0xff});  // a 3-byte message: below the minimum of 14
    send_all(s.client, stream.data(), stream.size());
    Outcome out;
    receive_all(conn, out);
    io.run_for(std::chrono::seconds(10));
    REQUIRE(out.messages.size() == 1);
    CHECK(out.messages[0] == good);
    CHECK(out.last == ReceiveStatus::error);
    CHECK(out.error == "length field gives a 3-byte message, below the minimum 14 at stream offset 22");
}

TEST_CASE("cancel ends a pending receive with operation_aborted") {
    Setup s;
    asio::io_context io;
    AsioConnection conn(io, std::move(s.server));
    Outcome out;
    receive_all(conn, out);
    asio::steady_timer timer(io, std::chrono::milliseconds(50));
    timer.async_wait([&](std::error_code) { conn.cancel(); });
    io.run_for(std::chrono::seconds(10));
    CHECK(out.ec == asio::error::operation_aborted);
    CHECK(out.messages.empty());
}

TEST_CASE("many connections on a multi-threaded io_context: nothing stalls, every byte arrives") {
    asio::io_context io;
    const Description desc = shipped("dns");
    auto receiver = make_userspace_receiver(std::make_shared<const Description>(desc));
    Listener listener;
    constexpr int kConns = 16, kMessages = 300;
    std::vector<int> clients;
    std::vector<std::unique_ptr<AsioConnection>> conns;
    std::vector<Outcome> outs(kConns);
    for (int i = 0; i < kConns; i++) {
        auto [c, srv] = listener.pair();
        clients.push_back(c);
        conns.push_back(std::make_unique<AsioConnection>(asio::make_strand(io), receiver->adopt(srv)));
    }
    for (int i = 0; i < kConns; i++) receive_all(*conns[i], outs[i]);
    std::vector<std::thread> runners;
    for (int t = 0; t < 3; t++) runners.emplace_back([&] { io.run_for(std::chrono::seconds(20)); });
    // Small writes, one message at a time, to every connection in turn: many readiness edges.
    std::vector<Bytes> sent;
    for (int m = 0; m < kMessages; m++) sent.push_back(dns_message(12 + m % 50, static_cast<uint8_t>(m)));
    for (int m = 0; m < kMessages; m++)
        for (int c : clients) send_all(c, sent[m].data(), sent[m].size());
    for (int c : clients) close(c);
    for (auto& t : runners) t.join();
    for (int i = 0; i < kConns; i++) {
        CAPTURE(i);
        CHECK(outs[i].messages.size() == kMessages);
        CHECK(outs[i].messages == sent);
        CHECK(outs[i].last == ReceiveStatus::end);
    }
}
