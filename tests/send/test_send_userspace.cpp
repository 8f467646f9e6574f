// The userspace twin of the send side (no privileges): the same outcomes as the
// kernel path, and the automatic fallback with its one warning.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sockframe/receiver.hpp>
#include <sockframe/sender.hpp>

#include "send_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

namespace {

std::unique_ptr<Sender> twin() {
    SenderOptions o;
    o.mode = Mode::userspace;
    return open_sender(shipped("dns"), o);
}

}  // namespace

TEST_CASE("twin: whole messages, in pieces or not, arrive exactly; each in one write") {
    Listener l;
    Pair p(l);
    auto s = twin()->attach(p.client);
    CHECK(std::string(s->mode()) == "userspace");
    std::vector<Bytes> msgs;
    for (uint32_t i = 0; i < 100; i++) msgs.push_back(dns_message(14 + i * 13, i));
    for (size_t i = 0; i < msgs.size(); i++) REQUIRE(s->send_pieces(msgs[i], 1 + i % 8).status == SendStatus::sent);
    Bytes want = concat(msgs);
    CHECK(read_until(p.server, want.size()) == want);
    CHECK(s->stats().messages == 100);
    CHECK(s->offset() == want.size());
}

TEST_CASE("twin: malformed in the middle: prefix delivered, rule and offset named, send side closed") {
    Listener l;
    Pair p(l);
    auto s = twin()->attach(p.client);
    Bytes a = dns_message(100, 1), b = dns_message(50, 2), bad = dns_message(20, 3);
    bad[0] = 0, bad[1] = 3;
    REQUIRE(s->send(a).status == SendStatus::sent);
    REQUIRE(s->send(b).status == SendStatus::sent);
    SendResult r = s->send(bad);
    REQUIRE(r.status == SendStatus::malformed);
    CHECK(r.error->kind == FramingErrorKind::too_short);
    CHECK(r.error->value == 5);
    CHECK(r.error->offset == 150);
    CHECK(s->send(a).status == SendStatus::closed);
    CHECK(s->closed());
    CHECK(read_until(p.server, 1000, 200) == concat({a, b}));
}

TEST_CASE("twin: an incomplete message is refused (send whole messages)") {
    Listener l;
    Pair p(l);
    auto s = twin()->attach(p.client);
    Bytes m = dns_message(100, 1);
    SendResult r = s->send(std::span<const uint8_t>(m.data(), 60));
    REQUIRE(r.status == SendStatus::malformed);
    CHECK(r.error->kind == FramingErrorKind::truncated);
    CHECK(r.error->offset == 0);
    CHECK(read_until(p.server, 100, 200).empty());
}

TEST_CASE("Connection::send without a send side uses the twin") {
    auto receiver = make_userspace_receiver(std::make_shared<const Description>(shipped("dns")));
    Listener l;
    auto [client, server] = l.pair();
    auto conn = receiver->adopt(server);
    Bytes m = dns_message(64, 5);
    REQUIRE(conn->send(m).status == SendStatus::sent);
    CHECK(std::string(conn->send_side()->mode()) == "userspace");
    CHECK(read_until(client, m.size()) == m);
    Bytes bad = m;
    bad[0] = 0xff;
    CHECK(conn->send(bad).status == SendStatus::malformed);
    close(client);
}

TEST_CASE("automatic: a description the kernel can't enforce falls back with exactly one warning") {
    std::vector<std::string> warnings;
    SenderOptions o;
    o.warn = [&](const std::string& w) { warnings.push_back(w); };
    auto sender = open_sender(shipped("http2"), o);  // a preface: a first message framed apart
    CHECK(std::string(sender->mode()) == "userspace");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("preface") != std::string::npos);
    Listener l;
    Pair p(l);
    auto a = sender->attach(p.client);
    auto b = sender->attach(p.client);  // attaching more sockets says nothing more
    CHECK(warnings.size() == 1);
    std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    CHECK(a->send(Bytes(preface.begin(), preface.end())).status == SendStatus::sent);
    o.mode = Mode::kernel;
    CHECK_THROWS(open_sender(shipped("http2"), o));  // --require-kernel refuses the fallback
}

TEST_CASE("send_side_support: what check reports") {
    CHECK(send_side_support(shipped("dns")).kernel);
    CHECK(send_side_support(shipped("line-crlf")).kernel);  // delimiters: the program scans
    SendSideSupport h2 = send_side_support(shipped("http2"));
    CHECK_FALSE(h2.kernel);
    CHECK(h2.kernel_reason.find("preface") != std::string::npos);
    CHECK_THROWS_AS(generate_bpf_send_c(shipped("http2")), std::invalid_argument);
    std::string lines = generate_bpf_send_c(shipped("line-crlf"));
    CHECK(lines.find("#define SF_FRAMING_DELIMITER 1") != std::string::npos);
    CHECK(lines == generate_bpf_send_c(shipped("line-crlf")));  // deterministic
    std::string c = generate_bpf_send_c(shipped("dns"));
    CHECK(c.find("#define SOCKFRAME_SEND 1") != std::string::npos);
    CHECK(c.find("#include \"sockframe_send.bpf.h\"") != std::string::npos);
    CHECK(c == generate_bpf_send_c(shipped("dns")));  // deterministic
}
