// The kernel send side for delimited messages (bpf/sockframe_send_delim.bpf.h) on real
// loopback sockets, every byte checked: writers of every shape, delimiters split over
// writes (1-, 2- and 4-byte delimiters), corking, and a message with no delimiter.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sys/sendfile.h>
#include <sys/uio.h>

#include <thread>

#include <sockframe/sender.hpp>

#include "../kernel/kernel_harness.hpp"
#include "send_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

namespace {

Description delimited(const std::string& name, const std::string& delim_hex, uint64_t max_message) {
    return parse_description("name = \"" + name + "\"\nmax_message = " + std::to_string(max_message) +
                                 "\n[delimiter]\nhex = \"" + delim_hex + "\"\n",
                             name + ".toml");
}

std::unique_ptr<Sender> kernel_sender_for(const Description& d) {
    SenderOptions o;
    o.mode = Mode::kernel;
    return open_sender(d, o);
}

const Description& crlf() {
    static Description d = shipped("line-crlf");
    return d;
}

Sender& crlf_sender() {
    static std::unique_ptr<Sender> s = kernel_sender_for(crlf());
    return *s;
}

// A message of `total` bytes ending with `delim`, whose body holds lone first bytes of
// the delimiter and other near misses but never the delimiter itself.
Bytes line(size_t total, uint32_t seed, const std::string& delim) {
    Bytes m;
    const size_t body = total - delim.size();
    for (size_t i = 0; i < body; i++) {
        uint8_t b = static_cast<uint8_t>('a' + (seed * 7 + i * 13) % 26);
        if (i % 37 == 5) b = static_cast<uint8_t>(delim[0]);  // a lone first byte
        m.push_back(b);
    }
    // A body ending in the delimiter's first byte followed by the delimiter would still end
    // the message at the delimiter; keep the body free of any whole delimiter.
    for (size_t i = 0; i + delim.size() <= m.size(); i++)
        if (std::equal(delim.begin(), delim.end(), m.begin() + static_cast<long>(i))) m[i] = 'z';
    if (!m.empty() && delim.size() > 1 && m.back() == static_cast<uint8_t>(delim[0])) m.back() = 'y';
    m.insert(m.end(), delim.begin(), delim.end());
    return m;
}

std::vector<Bytes> lines(size_t n, const std::string& delim, size_t min_total, size_t max_total) {
    std::vector<Bytes> out;
    for (size_t i = 0; i < n; i++) out.push_back(line(min_total + (i * 97) % (max_total - min_total + 1), i, delim));
    return out;
}

const std::string kCrlf = "\r\n";

}  // namespace

TEST_CASE("whole lines through the API arrive exactly, counted per message") {
    Listener l;
    Pair p(l);
    auto s = crlf_sender().attach(p.client);
    CHECK(std::string(s->mode()) == "kernel");
    auto msgs = lines(300, kCrlf, 2, 3000);
    Bytes want = concat(msgs);
    Bytes got;
    std::thread reader([&] { got = read_until(p.server, want.size(), 3000); });
    for (const Bytes& m : msgs) REQUIRE(s->send(m).status == SendStatus::sent);
    reader.join();
    CHECK(got == want);
    SendStats st = s->stats();
    CHECK(st.messages == 300);
    CHECK(st.bytes == want.size());
}

TEST_CASE("1-byte writes: each line is held until its delimiter, then leaves whole") {
    Listener l;
    Pair p(l);
    auto s = crlf_sender().attach(p.client);
    Bytes want = concat(lines(40, kCrlf, 2, 300));
    REQUIRE(write_chunks(p.client, want, 1) == 0);
    CHECK(read_until(p.server, want.size()) == want);
    CHECK(s->stats().messages == 40);
    CHECK(s->stats().corks == 40);
}

TEST_CASE("raw writes in any chunk size: split delimiters are found, never a stall, every byte intact") {
    struct Case {
        const char* name;
        std::string hex, delim;
    };
    for (const Case& c :
         {Case{"lf", "0a", "\n"}, Case{"crlf", "0d0a", "\r\n"}, Case{"blank", "0d0a0d0a", "\r\n\r\n"}}) {
        Description d = delimited(std::string("delim-") + c.name, c.hex, 65536);
        auto sender = kernel_sender_for(d);
        for (size_t chunk : {1, 2, 3, 5, 7, 13, 100, 1000, 4096, 65536}) {
            CAPTURE(c.name);
            CAPTURE(chunk);
            Listener l;
            Pair p(l);
            auto s = sender->attach(p.client);
            const size_t n = chunk < 10 ? 150 : 600;
            Bytes want = concat(lines(n, c.delim, c.delim.size(), 900));
            Bytes got;
            std::thread reader([&] { got = read_until(p.server, want.size(), 3000); });
            size_t sent = 0;
            int rc = write_chunks(p.client, want, chunk, &sent);
            reader.join();
            CAPTURE(sent);
            REQUIRE(rc == 0);
            CHECK(got == want);
            CHECK(s->stats().messages == n);
            CHECK(s->stats().bytes == want.size());
        }
    }
}

TEST_CASE("a delimiter split over two writes after another message in the same write") {
    Listener l;
    Pair p(l);
    auto s = crlf_sender().attach(p.client);
    std::string a = "first\r\nsecond\r", b = "\nthird\r\n";
    REQUIRE(::send(p.client, a.data(), a.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(a.size()));
    REQUIRE(::send(p.client, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()));
    std::string all = a + b;
    CHECK(read_until(p.server, all.size()) == Bytes(all.begin(), all.end()));
    CHECK(s->stats().messages == 3);
    CHECK(s->stats().uncorked == 1);  // "second" started inside a write: it left as written
}

TEST_CASE("writev of many lines in one sendmsg, and sendfile of a capture") {
    {
        Listener l;
        Pair p(l);
        auto s = crlf_sender().attach(p.client);
        auto msgs = lines(64, kCrlf, 2, 500);
        std::vector<iovec> iov;
        for (Bytes& m : msgs) iov.push_back({m.data(), m.size()});
        Bytes want = concat(msgs);
        REQUIRE(writev(p.client, iov.data(), static_cast<int>(iov.size())) == static_cast<ssize_t>(want.size()));
        CHECK(read_until(p.server, want.size()) == want);
        CHECK(s->stats().messages == 64);
    }
    {
        TempDir dir;
        Bytes want = concat(lines(2000, kCrlf, 2, 400));
        std::string path = dir.file("capture.txt", std::string(want.begin(), want.end()));
        Listener l;
        Pair p(l);
        auto s = crlf_sender().attach(p.client);
        int fd = open(path.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        off_t off = 0;
        Bytes got;
        std::thread reader([&] { got = read_until(p.server, want.size(), 3000); });
        while (off < static_cast<off_t>(want.size())) {
            ssize_t n = sendfile(p.client, fd, &off, want.size() - off);
            REQUIRE(n > 0);
        }
        reader.join();
        close(fd);
        CHECK(got == want);
        CHECK(s->stats().messages == 2000);
    }
}

TEST_CASE("no delimiter within max_message: refused, the exact prefix arrives, the rule and offset are named") {
    Description d = delimited("short-lines", "0d0a", 1000);
    auto sender = kernel_sender_for(d);
    Listener l;
    Pair p(l);
    auto s = sender->attach(p.client);
    auto msgs = lines(5, kCrlf, 2, 900);
    for (const Bytes& m : msgs) REQUIRE(s->send(m).status == SendStatus::sent);
    Bytes endless(1500, 'x');
    SendResult r = s->send(endless);
    REQUIRE(r.status == SendStatus::malformed);
    REQUIRE(r.error);
    CHECK(r.error->kind == FramingErrorKind::no_delimiter);
    Bytes prefix = concat(msgs);
    CHECK(r.error->offset == prefix.size());
    CHECK(read_until(p.server, prefix.size() + 1, 300) == prefix);  // none of it left: it was held
    CHECK(s->send(msgs[0]).status == SendStatus::closed);
}

TEST_CASE("a line ending exactly at max_message passes; one byte more is refused") {
    Description d = delimited("exact-lines", "0d0a", 1000);
    auto sender = kernel_sender_for(d);
    Listener l;
    Pair p(l);
    auto s = sender->attach(p.client);
    Bytes edge = line(1000, 3, kCrlf);
    REQUIRE(s->send(edge).status == SendStatus::sent);
    CHECK(read_until(p.server, edge.size()) == edge);
    Bytes over = line(1001, 4, kCrlf);
    SendResult r = s->send(over);
    REQUIRE(r.status == SendStatus::malformed);
    CHECK(r.error->kind == FramingErrorKind::no_delimiter);
    CHECK(r.error->offset == edge.size());
    CHECK(read_until(p.server, 1, 300).empty());
}

TEST_CASE("segments per line: a line in 8 pieces through the API leaves as one segment") {
    Listener l;
    Pair p(l);
    auto s = crlf_sender().attach(p.client);
    const size_t n = 200;
    uint64_t before = data_segs_out(p.client);
    for (size_t i = 0; i < n; i++) {
        Bytes m = line(400, static_cast<uint32_t>(i), kCrlf);
        REQUIRE(s->send_pieces(m, 8).status == SendStatus::sent);
        REQUIRE(read_until(p.server, m.size()) == m);
    }
    double per_message = double(data_segs_out(p.client) - before) / n;
    std::printf("send side (line-crlf): %.3f segments per 400-byte line written in 8 pieces\n", per_message);
    CHECK(per_message <= 1.1);
}

int main(int argc, char** argv) {
    require_kernel_or_skip("send-side kernel tests (delimiters)");
    alarm(300);  // a stalled socket fails the run instead of hanging it
    return with_kernel_log_check("the send-side tests (delimiters)", [&] { return doctest::Context(argc, argv).run(); });
}
