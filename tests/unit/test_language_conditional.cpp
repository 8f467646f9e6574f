// Description language: escape-coded widths ([[length.escape]], WebSocket),
// flag-selected widths ([length.flag_width], ZMTP), conditional header bytes
// ([[length.extra]], the WebSocket masking key) and magic on the first message
// ([[first_length.magic]], PROXY v2): validation, explanations, and vectors
// through the userspace framer (valid, split, coalesced, oversize, malformed).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "support.hpp"

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/framing_error.hpp>
#include "description/length_rule.hpp"
#include "description/message_builder.hpp"
#include <sockframe/userspace_framer.hpp>

using namespace sockframe;
using Bytes = std::vector<uint8_t>;
using Status = UserspaceFramer::Status;

namespace {

std::string error_of(const std::string& text) {
    try {
        parse_description(text, "t.toml");
    } catch (const DescriptionError& e) {
        return e.what();
    }
    FAIL("description was accepted: " << text);
    return "";
}

const Description& shipped(const std::string& name) {
    static std::vector<std::unique_ptr<Description>> keep;
    keep.push_back(std::make_unique<Description>(sockframe::testing::shipped(name)));
    return *keep.back();
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
Bytes filled(size_t n, uint8_t b) { return Bytes(n, b); }

struct Outcome {
    std::vector<Bytes> messages;
    std::string error;  // kind name, "" if none
    uint64_t error_value = 0;
};

// Frames `stream` fed in chunks of `chunk` bytes (0: all at once).
Outcome frame(const Description& d, const Bytes& stream, size_t chunk = 0) {
    UserspaceFramer f(d);
    Outcome out;
    size_t step = chunk ? chunk : stream.size();
    for (size_t at = 0; at < stream.size(); at += step) {
        f.feed({stream.data() + at, std::min(step, stream.size() - at)});
        for (;;) {
            auto r = f.next();
            if (r.status == Status::message) {
                out.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
                continue;
            }
            if (r.status == Status::error) {
                out.error = kind_name(r.error->kind);
                out.error_value = r.error->value;
                return out;
            }
            break;
        }
    }
    return out;
}

// The same outcome whatever the chunking.
Outcome frame_all_ways(const Description& d, const Bytes& stream) {
    Outcome whole = frame(d, stream);
    for (size_t chunk : {size_t(1), size_t(3), size_t(7)}) {
        CAPTURE(chunk);
        Outcome o = frame(d, stream, chunk);
        CHECK(o.messages == whole.messages);
        CHECK(o.error == whole.error);
        CHECK(o.error_value == whole.error_value);
    }
    return whole;
}

const char* kWs = R"(name = "ws"
max_message = 100000
[length]
offset = 1
width = 1
mask = 0x7f
header = 2
[[length.escape]]
value = 126
width = 2
[[length.escape]]
value = 127
width = 8
[[length.extra]]
byte = 1
mask = 0x80
bytes = 4
)";

}  // namespace

TEST_CASE("websocket: RFC 6455 §5.7 examples, the 16- and 64-bit forms, coalesced and split") {
    const Description& d = shipped("websocket");
    Bytes hello_unmasked = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    Bytes hello_masked = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    Bytes ping = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
    Bytes bin256 = cat({{0x82, 0x7e, 0x01, 0x00}, filled(256, 0x7e)});
    Bytes bin64k = cat({{0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, filled(65536, 0xff)});
    Bytes masked16 = cat({{0x82, 0xfe, 0x00, 0x80, 1, 2, 3, 4}, filled(128, 0x80)});
    Bytes empty_close = {0x88, 0x80, 9, 9, 9, 9};
    Bytes stream = cat({hello_unmasked, hello_masked, ping, bin256, bin64k, masked16, empty_close});
    Outcome o = frame_all_ways(d, stream);
    CHECK(o.error == "");
    REQUIRE(o.messages.size() == 7);
    CHECK(o.messages[0] == hello_unmasked);
    CHECK(o.messages[1] == hello_masked);
    CHECK(o.messages[3].size() == 260);
    CHECK(o.messages[4].size() == 65546);
    CHECK(o.messages[5].size() == 136);
    CHECK(o.messages[6] == empty_close);
}

TEST_CASE("websocket: need-more inside the escape bytes and the masking key, then oversize") {
    Description d = parse_description(kWs, "ws.toml");
    Bytes partial = {0x82, 0xff, 0, 0, 0};  // 64-bit form, 3 of its 8 bytes
    LengthProbe p = probe_length(d.length(), d.max_message, d.magic, partial.data(), partial.size());
    CHECK(p.state == LengthProbe::need_more);
    Bytes huge = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0};  // 2^63 + 10: too long
    p = probe_length(d.length(), d.max_message, d.magic, huge.data(), huge.size());
    CHECK(p.state == LengthProbe::error);
    CHECK(p.kind == FramingErrorKind::too_long);
    CHECK(p.value == (1ULL << 63) + 10);
    // good, then a masked frame of 200000 bytes: 14 + 200000 > max_message
    Bytes stream = cat({{0x81, 0x81, 1, 2, 3, 4, 'x'}, {0x82, 0xff, 0, 0, 0, 0, 0, 0x03, 0x0d, 0x40}});
    Outcome o = frame_all_ways(d, stream);
    CHECK(o.messages.size() == 1);
    CHECK(o.error == "too_long");
    CHECK(o.error_value == 200014);
}

TEST_CASE("websocket: every size through the builder, masked or not, all forms") {
    const Description& d = shipped("websocket");
    std::mt19937_64 rng(7);
    Bytes stream;
    std::vector<size_t> sizes;
    for (uint64_t t : {2, 3, 6, 127, 128, 129, 130, 131, 134, 135, 1000, 65539, 65540, 65541, 70000})
        for (int i = 0; i < 3; i++) {
            auto m = build_message(d, t, rng);
            REQUIRE_MESSAGE(m.has_value(), t);
            stream.insert(stream.end(), m->begin(), m->end());
            sizes.push_back(t);
        }
    CHECK(smallest_message(d) == 2);
    CHECK(largest_message(d) == d.max_message);
    Outcome o = frame(d, stream);
    CHECK(o.error == "");
    REQUIRE(o.messages.size() == sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) CHECK(o.messages[i].size() == sizes[i]);
}

TEST_CASE("zmtp-frames: short and LONG frames; LONG size too large") {
    const Description& d = shipped("zmtp-frames");
    Bytes ready = cat({{0x04, 0x19, 0x05}, Bytes(24, 'r')});  // command, 25 bytes
    Bytes msg = {0x00, 0x02, 'h', 'i'};
    Bytes more = {0x01, 0x00};
    Bytes long_msg = cat({{0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2c}, filled(300, 0x02)});
    Outcome o = frame_all_ways(d, cat({ready, msg, more, long_msg, {0x02, 0x01, 0, 0, 0, 0, 0, 0, 0}}));
    REQUIRE(o.messages.size() == 4);
    CHECK(o.messages[0] == ready);
    CHECK(o.messages[3] == long_msg);
    CHECK(o.error == "too_long");
    CHECK(o.error_value == 9 + (1ULL << 56));
    std::mt19937_64 rng(3);
    for (uint64_t t : {2, 9, 10, 257, 258, 1000}) {
        auto m = build_message(d, t, rng);
        REQUIRE(m.has_value());
        Outcome one = frame(d, *m);
        REQUIRE(one.messages.size() == 1);
        CHECK(one.messages[0].size() == t);
    }
}

TEST_CASE("proxy-v2: the header (signature checked) then TLS records; a bad signature") {
    const Description& d = shipped("proxy-v2-tls");
    Bytes sig = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    // PROXY, TCP over IPv4: 127.0.0.1:56324 -> 127.0.0.1:443
    Bytes header = cat({sig, {0x21, 0x11, 0x00, 0x0c, 127, 0, 0, 1, 127, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb}});
    Bytes local = cat({sig, {0x20, 0x00, 0x00, 0x00}});
    Bytes hello = cat({{0x16, 0x03, 0x01, 0x00, 0x05}, filled(5, 1)});
    Outcome o = frame_all_ways(d, cat({header, hello, hello}));
    CHECK(o.error == "");
    REQUIRE(o.messages.size() == 3);
    CHECK(o.messages[0] == header);
    CHECK(o.messages[1] == hello);
    o = frame_all_ways(d, cat({local, hello}));
    REQUIRE(o.messages.size() == 2);
    CHECK(o.messages[0].size() == 16);
    Bytes bad = header;
    bad[7] = 'q';  // "qUIT"
    o = frame_all_ways(d, cat({bad, hello}));
    CHECK(o.messages.empty());
    CHECK(o.error == "bad_magic");
    CHECK(o.error_value == 0);
    // A TLS stream without the header: its first bytes are not the signature.
    o = frame_all_ways(d, cat({hello, hello, hello}));
    CHECK(o.error == "bad_magic");
    // Then CRLF lines, and the builder's first message carries the signature.
    const Description& s = shipped("proxy-v2-smtp");
    std::string lines = "EHLO x\r\nQUIT\r\n";
    o = frame_all_ways(s, cat({header, Bytes(lines.begin(), lines.end())}));
    REQUIRE(o.messages.size() == 3);
    CHECK(o.messages[2] == Bytes({'Q', 'U', 'I', 'T', '\r', '\n'}));
    std::mt19937_64 rng(1);
    Bytes first = build_first_message(s, 40, rng);
    REQUIRE(first.size() >= 16);
    CHECK(Bytes(first.begin(), first.begin() + 12) == sig);
    CHECK(frame(s, first).messages.size() == 1);
}

TEST_CASE("explain() states the conditional parts") {
    Description d = parse_description(kWs, "ws.toml");
    std::string e = explain(d);
    CHECK(e.find("A value of 126 means the length is the 2-byte big-endian integer that follows the field") !=
          std::string::npos);
    CHECK(e.find("When byte 1 has a bit of 0x80 set, 4 more header bytes follow (counted in the size).") !=
          std::string::npos);
    CHECK(explain(shipped("zmtp-frames")).find("the field is 8 bytes wide instead (no mask) and size = 9 + value") !=
          std::string::npos);
    CHECK(explain(shipped("proxy-v2-tls"))
              .find("The stream's first message must have \"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n\" at byte 0.") !=
          std::string::npos);
}

TEST_CASE("invalid: escape, flag_width, extra, first_length.magic") {
    const std::string head = "name = \"x\"\nmax_message = 1000\n[length]\noffset = 1\nwidth = 1\nmask = 0x7f\nheader = 2\n";
    CHECK(error_of(head + "[[length.escape]]\nvalue = 128\nwidth = 2\n") ==
          "t.toml:9:9: length.escape.value: 128 is out of range; allowed: an integer from 0 to 127 (what the masked field can hold)");
    CHECK(error_of(head + "[[length.escape]]\nvalue = 126\nwidth = 5\n") ==
          "t.toml:10:9: length.escape.width: 5 is not allowed; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(head + "[[length.escape]]\nvalue = 126\nwidth = 2\n[[length.escape]]\nvalue = 126\nwidth = 8\n") ==
          "t.toml:12:9: length.escape.value: 126 is given twice");
    CHECK(error_of(head + "[[length.escape]]\nvalue = 126\n") ==
          "t.toml:8:1: length.escape.width: is required; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(head + "[[length.escape]]\nvalue = 126\nwidth = 2\nlen = 3\n") ==
          "t.toml:11:1: length.escape.len: unknown key; allowed keys: value, width");
    CHECK(error_of(head + "[[length.extra]]\nbyte = 2\nmask = 0x80\nbytes = 4\n") ==
          "t.toml:9:8: length.extra.byte: 2 is out of range; allowed: an integer from 0 to 1 (a byte before the end of the length field)");
    CHECK(error_of(head + "[[length.extra]]\nbyte = 1\nmask = 0x100\nbytes = 4\n") ==
          "t.toml:10:8: length.extra.mask: 256 is out of range; allowed: a non-zero 8-bit mask, 0x01 to 0xff");
    CHECK(error_of(head + "[[length.extra]]\nbyte = 1\nmask = 0x80\n") ==
          "t.toml:8:1: length.extra.bytes: is required; allowed: an integer from 1 to 65535");
    CHECK(error_of(head + "[length.flag_width]\nbyte = 0\nmask = 2\nwidth = 8\nheader = 4\n") ==
          "t.toml:12:10: length.flag_width.header: 4 is out of range; allowed: an integer from 9 to 1073741824 (at least the end of the wide field)");
    CHECK(error_of(head + "[[length.escape]]\nvalue = 1\nwidth = 2\n[length.flag_width]\nbyte = 0\nmask = 2\nwidth = 8\n") ==
          "t.toml:11:1: length.flag_width: give either [[escape]] or [flag_width], not both");
    CHECK(error_of("name = \"x\"\nmax_message = 1000\n[length]\noffset = 1\nwidth = 1\nheader = 0\n"
                   "[[length.extra]]\nbyte = 0\nmask = 1\nbytes = 4\n") ==
          "t.toml:6:10: length.header: 0 is below the end of the length field (2); with escape, flag_width or extra the length cannot count the header");
    CHECK(error_of("name = \"x\"\nmax_message = 1000\n[length]\nencoding = \"mqtt\"\n[[length.escape]]\nvalue = 1\nwidth = 2\n") ==
          "t.toml:5:1: length.escape: is only for encoding = \"uint\"; with \"mqtt\" the total is offset + field bytes + value * scale + adjust");
    CHECK(error_of("name = \"x\"\nmax_message = 1000\n[delimiter]\ntext = \"\\n\"\n[first_length]\noffset = 14\nwidth = 2\n"
                   "[[first_length.magic]]\noffset = 10\nhex = \"0d0a0d0a000d0a51\"\n") ==
          "t.toml:9:10: first_length.magic.offset: magic bytes must end by byte 16, where the first message's length field ends");
}

TEST_CASE("check explains protocols that cannot be framed, and framing kinds that do not exist") {
    std::string e = error_of("name = \"redis\"\nmax_message = 100\n[delimiter]\ntext = \"\\r\\n\"\n");
    CHECK(e.rfind("t.toml:1:8: name: Redis RESP cannot be framed by a length or a delimiter: ", 0) == 0);
    CHECK(e.find("counted repetition") != std::string::npos);
    for (const char* name : {"resp", "http", "http-1-1", "xmpp", "ssh", "grpc"}) {
        CAPTURE(name);
        e = error_of(std::string("name = \"") + name + "\"\nmax_message = 100\n");
        CHECK(e.find("cannot be framed") != std::string::npos);
        CHECK(e.find("docs/protocols.md") != std::string::npos);
    }
    // Names that only resemble one are fine: an SSH banner is one CRLF line.
    CHECK(parse_description("name = \"ssh-banner\"\nmax_message = 255\n[delimiter]\ntext = \"\\r\\n\"\n", "t.toml").name ==
          "ssh-banner");
    e = error_of("name = \"x\"\nmax_message = 100\n[chunked]\nsize = \"hex\"\n");
    CHECK(e.rfind("t.toml:3:1: chunked: is not a framing kind sockframe knows; allowed: [length] (a length field: "
                  "encoding \"uint\", \"leb128\", \"mqtt\", \"ber\", \"ascii-decimal\" or \"ascii-hex\"; with "
                  "[[length.escape]], [length.flag_width], [[length.extra]]) or [delimiter]",
                  0) == 0);
}

TEST_CASE("zmtp: the 64-byte greeting (libzmq's signature, NULL mechanism), then frames; a 2.0 peer") {
    const Description& d = shipped("zmtp");
    Bytes greeting = cat({{0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 0x03, 0x01},
                          {'N', 'U', 'L', 'L'},
                          filled(16, 0),
                          {0x00},
                          filled(31, 0)});
    REQUIRE(greeting.size() == 64);
    Bytes ready = cat({{0x04, 0x19, 0x05, 'R', 'E', 'A', 'D', 'Y'}, filled(19, 0)});
    Bytes msg = {0x00, 0x03, 'a', 'b', 'c'};
    Outcome o = frame_all_ways(d, cat({greeting, ready, msg}));
    CHECK(o.error == "");
    REQUIRE(o.messages.size() == 3);
    CHECK(o.messages[0] == greeting);
    CHECK(o.messages[2] == msg);
    Bytes v2 = greeting;
    v2[10] = 0x01;  // ZMTP 2.0 revision byte
    o = frame_all_ways(d, v2);
    CHECK(o.error == "too_short");
    CHECK(o.error_value == 62);
    {  // the first message is judged, and worded, by its own bounds
        UserspaceFramer f(d);
        f.feed({v2.data(), v2.size()});
        auto r = f.next();
        REQUIRE(r.status == UserspaceFramer::Status::error);
        CHECK(r.error->message == "length field gives a 62-byte message, below the minimum 64 at stream offset 0");
    }
    Bytes no_sig = greeting;
    no_sig[9] = 0x00;
    o = frame_all_ways(d, no_sig);
    CHECK(o.error == "bad_magic");
    CHECK(o.error_value == 9);
}

TEST_CASE("first_length.magic: may not overlap the length field; its error names the bytes") {
    CHECK(
        error_of("name = \"x\"\nmax_message = 100\n[delimiter]\ntext = \"\\n\"\n[first_length]\noffset = 0\nwidth = 1\n"
                 "header = 0\n[[first_length.magic]]\noffset = 0\nhex = \"55\"\n") ==
        "t.toml:10:10: first_length.magic.offset: magic bytes must not overlap the length field (bytes 0 to 0)");
    const Description& d = shipped("proxy-v2-tls");
    UserspaceFramer f(d);
    Bytes tls = {0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    f.feed({tls.data(), tls.size()});
    auto r = f.next();
    REQUIRE(r.status == Status::error);
    CHECK(r.error->message == "message does not have \"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n\" at byte 0 at stream offset 0");
}
