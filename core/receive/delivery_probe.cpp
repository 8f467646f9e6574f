#include "receive/delivery_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "description/message_builder.hpp"
#include "support/loopback.hpp"

namespace sockframe {
namespace {

// A connected loopback pair: {client, accepted server side}, or {-1, -1}.
std::pair<int, int> loopback_pair() {
    sockaddr_in a{};
    Fd listener = loopback_listener(a, 1);
    if (listener.fd < 0) return {-1, -1};
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (c >= 0) close(c);
        return {-1, -1};
    }
    int s = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) {
        close(c);
        return {-1, -1};
    }
    return {c, s};
}

}  // namespace

std::string probe_kernel_delivery(Receiver& kernel, const Description& d, std::chrono::milliseconds budget) {
    std::mt19937_64 rng(1);
    std::vector<std::vector<uint8_t>> want;
    if (auto first = build_first_message(d, 30, rng); !first.empty()) want.push_back(first);
    for (uint64_t size : {40, 300, 1000}) {
        auto m = build_message(d, legal_size_near(d, size), rng);
        if (!m) return "";  // the builder can't make messages for this description: nothing to probe with
        want.push_back(*m);
    }
    auto [client, server] = loopback_pair();
    if (client < 0) return std::string("no loopback connection for the probe: ") + std::strerror(errno);
    Fd c{client};
    std::unique_ptr<Connection> conn = kernel.adopt(server);
    conn->set_nonblocking(true);

    // All but the last message in one write; the last in two writes.
    std::vector<uint8_t> coalesced;
    for (size_t i = 0; i + 1 < want.size(); i++) coalesced.insert(coalesced.end(), want[i].begin(), want[i].end());
    const auto& last = want.back();
    size_t half = last.size() / 2;
    if (!send_all(c.fd, coalesced.data(), coalesced.size()) || !send_all(c.fd, last.data(), half) ||
        !send_all(c.fd, last.data() + half, last.size() - half) || shutdown(c.fd, SHUT_WR) != 0)
        return std::string("the probe client could not send: ") + std::strerror(errno);

    auto deadline = std::chrono::steady_clock::now() + budget;
    size_t got = 0;
    for (;;) {
        Received r = conn->receive();
        if (r.status == ReceiveStatus::message) {
            if (got >= want.size()) return "the probe received more messages than were sent";
            if (!std::equal(r.message.bytes.begin(), r.message.bytes.end(), want[got].begin(), want[got].end()))
                return "probe message " + std::to_string(got + 1) + " came out altered (" +
                       std::to_string(r.message.bytes.size()) + " bytes, sent " + std::to_string(want[got].size()) +
                       ")";
            got++;
            continue;
        }
        if (r.status == ReceiveStatus::error) return "the probe stream failed: " + r.error->message;
        if (r.status == ReceiveStatus::end) break;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return "the probe stream stalled: " + std::to_string(got) + " of " + std::to_string(want.size()) +
                   " messages within " + std::to_string(budget.count()) + " ms";
        pollfd p{conn->poll_fd(), POLLIN, 0};
        poll(&p, 1, static_cast<int>(left.count()));
    }
    if (got != want.size())
        return "the probe stream ended after " + std::to_string(got) + " of " + std::to_string(want.size()) +
               " messages";
    if (std::string(conn->mode()) != "kernel")
        return std::string("the probe connection left the kernel path (") + conn->mode() + ")";
    return "";
}

}  // namespace sockframe
