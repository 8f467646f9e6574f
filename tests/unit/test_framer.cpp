// The userspace framer: the shipped parsers under every chunking, the framing
// errors with their exact text and offset, linear time and zero copy.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
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

const char* const kParsers[] = {"dns",   "http2-frames", "json-lines",       "kafka",        "modbus-tcp",
                                "mongodb", "mysql",      "postgresql-typed", "smtp-commands"};

// The framer keeps a reference to its description: keep them alive for the whole run.
const Description& parser(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Description>> loaded;
    auto& slot = loaded[name];
    if (!slot) {
        const char* dir = std::getenv("SOCKFRAME_SOURCE_DIR");
        REQUIRE_MESSAGE(dir != nullptr, "SOCKFRAME_SOURCE_DIR is not set");
        slot = std::make_unique<Description>(load_description_file(std::string(dir) + "/parsers/" + name + ".toml"));
    }
    return *slot;
}

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct Expected {
    Bytes bytes;
    uint64_t offset;
    uint64_t end() const { return offset + bytes.size(); }
};

struct Stream {
    std::vector<Expected> messages;
    Bytes bytes;
    void add(Bytes m) {
        messages.push_back({m, bytes.size()});
        bytes.insert(bytes.end(), m.begin(), m.end());
    }
};

// The legal sizes this test draws from: [lo, hi], hi capped at 64 KiB so streams stay
// small. Found with build_message alone (one call per size tried), so the test does not
// depend on how expensive smallest_message()/largest_message() are for a 1 GiB max_message.
struct Sizes {
    uint64_t lo = 0, hi = 0;
};
Sizes sizes_of(const Description& d) {
    std::mt19937_64 probe(0);
    Sizes s;
    const uint64_t cap = std::min<uint64_t>(d.max_message, 65536);
    for (uint64_t t = 1; t <= cap && !s.lo; t++)
        if (build_message(d, t, probe)) s.lo = t;
    for (uint64_t t = cap; t >= s.lo && !s.hi; t--)
        if (build_message(d, t, probe)) s.hi = t;
    REQUIRE_MESSAGE(s.lo != 0, "no legal size up to " << cap << " for " << d.name);
    return s;
}

// A random legal size: mostly small, sometimes a few KiB, rarely up to 64 KiB.
uint64_t random_size(const Description& d, const Sizes& z, std::mt19937_64& rng) {
    uint64_t cap;
    switch (std::uniform_int_distribution<int>(0, 19)(rng)) {
    case 0: cap = z.hi; break;
    case 1: case 2: case 3: case 4: cap = std::min<uint64_t>(z.hi, z.lo + 3000); break;
    default: cap = std::min<uint64_t>(z.hi, z.lo + 64); break;
    }
    std::mt19937_64 probe(0);
    for (uint64_t t = std::uniform_int_distribution<uint64_t>(z.lo, cap)(rng); t <= z.hi; t++)
        if (build_message(d, t, probe)) return t;  // (scale > 1: not every size is legal)
    return z.hi;
}

Bytes build(const Description& d, uint64_t total, std::mt19937_64& rng) {
    auto m = build_message(d, total, rng);
    REQUIRE_MESSAGE(m.has_value(), "builder cannot make a " << total << "-byte message for " << d.name);
    REQUIRE(m->size() == total);
    return *m;
}

Stream random_stream(const Description& d, std::mt19937_64& rng, int count) {
    const Sizes z = sizes_of(d);
    Stream s;
    s.add(build(d, z.lo, rng));
    s.add(build(d, z.hi, rng));
    for (int i = 0; i < count; i++) s.add(build(d, random_size(d, z, rng), rng));
    s.add(build(d, z.lo, rng));
    return s;
}

struct Got {
    Bytes bytes;
    uint64_t offset;
};

// Takes every whole message the framer has; returns the status that stopped it.
UserspaceFramer::Result drain(UserspaceFramer& f, std::vector<Got>& got) {
    for (;;) {
        auto r = f.next();
        if (r.status != Status::message) return r;
        got.push_back({Bytes(r.message.bytes.begin(), r.message.bytes.end()), r.message.offset});
    }
}

enum class Feeding { copy, zero_copy };

// Feeds `s` in chunks of the given sizes; after each chunk, exactly the messages
// that ended within the bytes fed so far must have come out.
void frame_in_chunks(const Description& d, const Stream& s, const std::vector<size_t>& chunks, Feeding how,
                     std::mt19937_64* rng = nullptr) {
    UserspaceFramer f(d);
    std::vector<Got> got;
    size_t fed = 0, due = 0;
    for (size_t n : chunks) {
        if (how == Feeding::copy) {
            f.feed({s.bytes.data() + fed, n});
        } else {
            size_t extra = rng ? std::uniform_int_distribution<size_t>(0, 100)(*rng) : 0;
            auto space = f.write_space(n + extra);
            REQUIRE(space.size() == n + extra);
            std::memcpy(space.data(), s.bytes.data() + fed, n);
            f.commit(n);
        }
        fed += n;
        auto r = drain(f, got);
        while (due < s.messages.size() && s.messages[due].end() <= fed) due++;
        // (plain comparisons per chunk: there are hundreds of thousands of chunks)
        const uint64_t at = due ? s.messages[due - 1].end() : 0;
        if (r.status != Status::need_more || got.size() != due || f.stream_offset() != at ||
            f.buffered() != fed - at) {
            FAIL("after " << fed << " bytes: status " << static_cast<int>(r.status) << " ("
                          << (r.error ? r.error->message : "") << "), " << got.size() << " messages (want " << due
                          << "), stream_offset " << f.stream_offset() << " (want " << at << "), buffered "
                          << f.buffered());
        }
    }
    REQUIRE(fed == s.bytes.size());
    REQUIRE(got.size() == s.messages.size());
    for (size_t i = 0; i < got.size(); i++) {
        CAPTURE(i);
        REQUIRE(got[i].offset == s.messages[i].offset);
        REQUIRE(got[i].bytes == s.messages[i].bytes);
    }
    CHECK(f.buffered() == 0);
    CHECK(f.stream_offset() == s.bytes.size());
    CHECK_FALSE(f.finish().has_value());
}

std::vector<size_t> random_chunks(size_t total, std::mt19937_64& rng) {
    std::vector<size_t> c;
    for (size_t left = total; left > 0;) {
        size_t max;
        switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
        case 0: max = 70000; break;
        case 1: case 2: max = 4096; break;
        default: max = 16; break;
        }
        size_t n = std::min(left, std::uniform_int_distribution<size_t>(1, max)(rng));
        c.push_back(n);
        left -= n;
    }
    return c;
}

// Writes `value` into the length field of message `m`, as the description reads it.
void put_field(const Description& d, Bytes& m, uint64_t value) {
    const LengthField& lf = d.length();
    const UintLength& f = std::get<UintLength>(lf.encoding);
    REQUIRE(m.size() >= lf.field_end());
    uint64_t field = (value << f.shift) & f.mask;
    REQUIRE(((field & f.mask) >> f.shift) == value);
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t byte = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;  // i = significance
        m[lf.offset + byte] = static_cast<uint8_t>(field >> (8 * i));
    }
}

// Feeds `bytes` one at a time; returns the messages and, when it came, the error and
// how many bytes had been fed when it did.
struct ByteByByte {
    std::vector<Got> got;
    const FramingError* error = nullptr;
    size_t error_after = 0;
};
ByteByByte feed_bytewise(UserspaceFramer& f, const Bytes& bytes) {
    ByteByByte out;
    for (size_t i = 0; i < bytes.size() && !out.error; i++) {
        f.feed({&bytes[i], 1});
        auto r = drain(f, out.got);
        if (r.status == Status::error) {
            out.error = r.error;
            out.error_after = i + 1;
        }
    }
    return out;
}

Description custom(const std::string& toml) { return parse_description(toml, "custom.toml"); }

}  // namespace

// ---- the nine shipped parsers -----------------------------------------------------------------

TEST_CASE("shipped parsers: random legal messages, coalesced / byte by byte / random chunks") {
    uint64_t seed = 1;
    for (const char* name : kParsers) {
        const Description& d = parser(name);
        CAPTURE(name);
        std::mt19937_64 rng(seed++);
        Stream s = random_stream(d, rng, 150);
        REQUIRE(s.messages.size() >= 152);
        // (a) all in one chunk
        frame_in_chunks(d, s, {s.bytes.size()}, Feeding::copy);
        frame_in_chunks(d, s, {s.bytes.size()}, Feeding::zero_copy);
        // (b) one byte at a time
        frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
        // (c) random chunkings, through both feeding interfaces
        for (int round = 0; round < 3; round++) {
            CAPTURE(round);
            frame_in_chunks(d, s, random_chunks(s.bytes.size(), rng), Feeding::copy);
            frame_in_chunks(d, s, random_chunks(s.bytes.size(), rng), Feeding::zero_copy, &rng);
        }
        // (c') chunk boundaries exactly at message boundaries, and exactly one byte off
        std::vector<size_t> at, off;
        for (const auto& m : s.messages) at.push_back(m.bytes.size());
        frame_in_chunks(d, s, at, Feeding::copy);
        size_t prev = 0;
        for (const auto& m : s.messages) {
            size_t cut = m.end() - 1;
            if (cut > prev) off.push_back(cut - prev), prev = cut;
        }
        off.push_back(s.bytes.size() - prev);
        frame_in_chunks(d, s, off, Feeding::copy);
    }
}

TEST_CASE("shipped parsers: hand-built messages (independent of the message builder)") {
    struct Case { const char* parser; std::string stream; std::vector<size_t> sizes; };
    using namespace std::string_literals;
    const Case cases[] = {
        // 2-byte BE length, not counting itself
        {"dns", "\x00\x0c"s + std::string(12, 'a') + "\x01\x00"s + std::string(256, 'b'), {14, 258}},
        // 9-byte header, 24-bit BE payload length
        {"http2-frames", "\x00\x00\x00\x04\x01\x00\x00\x00\x00"s + "\x00\x00\x02\x00\x00\x00\x00\x00\x01zz"s, {9, 11}},
        {"json-lines", "{}\n\n[1,2]\n"s, {3, 1, 6}},
        // int32 BE counting what follows
        {"kafka", "\x00\x00\x00\x08"s + "12345678" + "\x00\x00\x01\x00"s + std::string(256, 'k'), {12, 260}},
        // MBAP: length at byte 4 counts the bytes after byte 6
        {"modbus-tcp", "\x00\x01\x00\x00\x00\x02\x01\x03"s + "\x00\x02\x00\x00\x00\x06\x11\x03\x00\x6b\x00\x03"s,
         {8, 12}},
        // int32 LE counting the whole message
        {"mongodb", "\x10\x00\x00\x00"s + std::string(12, 'm') + "\x00\x01\x00\x00"s + std::string(252, 'n'),
         {16, 256}},
        // 3-byte LE payload length, sequence id, payload
        {"mysql", "\x00\x00\x00\x00"s + "\x01\x00\x00\x07x"s + "\x00\x01\x00\x01"s + std::string(256, 'y'),
         {4, 5, 260}},
        // type byte, int32 BE counting itself
        {"postgresql-typed", "Z\x00\x00\x00\x05I"s + "Q\x00\x00\x00\x04"s + "D\x00\x00\x01\x00"s + std::string(252, 'd'),
         {6, 5, 257}},
        {"smtp-commands", "HELO x\r\n\r\nDATA\rX\n\r\r\n"s, {8, 2, 10}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.parser);
        const Description& d = parser(c.parser);
        Stream s;
        size_t pos = 0;
        for (size_t n : c.sizes) {
            s.add(bytes_of(c.stream.substr(pos, n)));
            pos += n;
        }
        REQUIRE(pos == c.stream.size());
        frame_in_chunks(d, s, {s.bytes.size()}, Feeding::copy);
        frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
    }
}

TEST_CASE("custom descriptions: byte order, 3- and 8-byte fields, mask, shift, scale") {
    using namespace std::string_literals;
    SUBCASE("little-endian 2-byte field masked and shifted, scaled") {
        Description d = custom("name = \"c\"\nmax_message = 1000\n[length]\noffset = 1\nwidth = 2\n"
                               "byte_order = \"little\"\nheader = 3\nscale = 4\nmask = 0x0ff0\nshift = 4\n");
        // field bytes 50 a1 -> 0xa150; & 0x0ff0 = 0x0150; >> 4 = 0x15 = 21; total = 3 + 21 * 4 = 87
        Bytes m = bytes_of("\xee\x50\xa1"s + std::string(84, 'p'));
        Stream s;
        s.add(m);
        s.add(bytes_of("\x00\x0f\xf0"s));  // bits outside the mask only: value 0, total 3
        frame_in_chunks(d, s, {s.bytes.size()}, Feeding::copy);
        frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
    }
    SUBCASE("big-endian 3-byte field") {
        Description d = custom("name = \"c\"\nmax_message = 70000\n[length]\nwidth = 3\nheader = 0\n");
        Stream s;
        s.add(bytes_of("\x01\x00\x05"s + std::string(65536 + 5 - 3, 'q')));  // 0x010005 = 65541
        s.add(bytes_of("\x00\x00\x03"s));
        frame_in_chunks(d, s, {s.bytes.size()}, Feeding::copy);
        frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
    }
    SUBCASE("8-byte fields, both byte orders") {
        Description be = custom("name = \"c\"\nmax_message = 300\n[length]\nwidth = 8\n");
        Description le = custom("name = \"c\"\nmax_message = 300\n[length]\nwidth = 8\nbyte_order = \"little\"\n");
        Stream sb, sl;
        sb.add(bytes_of("\x00\x00\x00\x00\x00\x00\x01\x02"s + std::string(258, 'b')));
        sl.add(bytes_of("\x02\x01\x00\x00\x00\x00\x00\x00"s + std::string(258, 'l')));
        frame_in_chunks(be, sb, std::vector<size_t>(sb.bytes.size(), 1), Feeding::copy);
        frame_in_chunks(le, sl, std::vector<size_t>(sl.bytes.size(), 1), Feeding::copy);
    }
    SUBCASE("builder round trip on the custom descriptions") {
        const char* tomls[] = {
            "name = \"c\"\nmax_message = 1000\n[length]\noffset = 1\nwidth = 2\nbyte_order = \"little\"\nheader = 3\n"
            "scale = 4\nmask = 0x0ff0\nshift = 4\n",
            "name = \"c\"\nmax_message = 5000\n[length]\noffset = 2\nwidth = 8\nbyte_order = \"little\"\nmin_message = 40\n",
            "name = \"c\"\nmax_message = 5000\n[delimiter]\nhex = \"00ff00ff00ff00ff00ff00ff00ff00ff\"\n",
        };
        std::mt19937_64 rng(99);
        for (const char* t : tomls) {
            CAPTURE(t);
            Description d = custom(t);
            Stream s = random_stream(d, rng, 100);
            frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
            frame_in_chunks(d, s, random_chunks(s.bytes.size(), rng), Feeding::zero_copy, &rng);
        }
    }
}

TEST_CASE("delimiter: false starts and a delimiter split across writes") {
    using namespace std::string_literals;
    Description d = custom("name = \"c\"\nmax_message = 64\n[delimiter]\ntext = \"abcab\"\n");
    Stream s;
    s.add(bytes_of("xxabcaabcab"s));  // "abca" false start; ends at the first full "abcab"
    s.add(bytes_of("abcab"s));
    s.add(bytes_of("ababcab"s));  // overlapping partial match
    REQUIRE(s.bytes.size() == 23);
    frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
    frame_in_chunks(d, s, {3, 3, 3, 3, 3, 3, 3, 2}, Feeding::copy);
    frame_in_chunks(d, s, {s.bytes.size()}, Feeding::copy);
}

TEST_CASE("message builder: the smallest and largest sizes, and sizes between") {
    struct Case { const char* parser; uint64_t smallest, largest; };
    const Case cases[] = {{"dns", 14, 65537}, {"modbus-tcp", 8, 260}, {"smtp-commands", 2, 1000},
                          {"json-lines", 1, 1048576}};
    for (const Case& c : cases) {
        CAPTURE(c.parser);
        const Description& d = parser(c.parser);
        CHECK(smallest_message(d) == c.smallest);
        CHECK(largest_message(d) == c.largest);
        CHECK(legal_size_near(d, 0) == c.smallest);
        CHECK(legal_size_near(d, ~0ULL) == c.largest);
        CHECK(legal_size_near(d, 200) == 200);
        std::mt19937_64 rng(5);
        CHECK_FALSE(build_message(d, c.smallest - 1, rng).has_value());
        CHECK_FALSE(build_message(d, c.largest + 1, rng).has_value());
    }
    // scale 4, header 3, a 12-bit value under the mask: sizes 3 + 4k up to 3 + 4 * 255 (max_message 1000 caps it)
    Description d = custom("name = \"c\"\nmax_message = 1000\n[length]\noffset = 1\nwidth = 2\nbyte_order = \"little\"\n"
                           "header = 3\nscale = 4\nmask = 0x0ff0\nshift = 4\n");
    CHECK(smallest_message(d) == 3);
    CHECK(largest_message(d) == 999);
    CHECK((legal_size_near(d, 500) - 3) % 4 == 0);
    std::mt19937_64 rng(6);
    CHECK(build_message(d, 7, rng).has_value());
    CHECK_FALSE(build_message(d, 8, rng).has_value());
    CHECK_FALSE(build_message(d, 1003, rng).has_value());
}

// ---- framing errors --------------------------------------------------------------------------

TEST_CASE("too long: after good messages, reported as soon as the field is complete") {
    // The shipped parsers whose field can state more than max_message.
    const char* names[] = {"kafka", "modbus-tcp", "mongodb", "postgresql-typed"};
    uint64_t seed = 7;
    for (const char* name : names) {
        CAPTURE(name);
        const Description& d = parser(name);
        const LengthField& lf = d.length();
        const uint64_t header = std::get<UintLength>(lf.encoding).header;
        std::mt19937_64 rng(seed++);
        Stream good;
        const Sizes z = sizes_of(d);
        for (int i = 0; i < 5; i++) good.add(build(d, random_size(d, z, rng), rng));
        uint64_t value = (d.max_message - header) / lf.scale + 1;
        uint64_t total = header + value * lf.scale;
        REQUIRE(total > d.max_message);
        Bytes bad = build(d, z.lo, rng);
        put_field(d, bad, value);
        bad.resize(lf.field_end());  // the rest never arrives
        Bytes stream = good.bytes;
        stream.insert(stream.end(), bad.begin(), bad.end());
        const std::string want = "length field gives a " + std::to_string(total) + "-byte message, above max_message " +
                                 std::to_string(d.max_message) + " at stream offset " + std::to_string(good.bytes.size());

        // All at once: the good messages first, then the error.
        UserspaceFramer f(d);
        f.feed(stream);
        std::vector<Got> got;
        auto r = drain(f, got);
        REQUIRE(r.status == Status::error);
        REQUIRE(got.size() == good.messages.size());
        for (size_t i = 0; i < got.size(); i++) {
            CHECK(got[i].bytes == good.messages[i].bytes);
            CHECK(got[i].offset == good.messages[i].offset);
        }
        REQUIRE(r.error != nullptr);
        CHECK(r.error->kind == FramingErrorKind::too_long);
        CHECK(r.error->value == total);
        CHECK(r.error->offset == good.bytes.size());
        CHECK(r.error->message == want);

        // Byte by byte: the error comes with the last byte of the field, not before.
        UserspaceFramer g(d);
        ByteByByte b = feed_bytewise(g, stream);
        REQUIRE(b.error != nullptr);
        CHECK(b.got.size() == good.messages.size());
        CHECK(b.error_after == stream.size());
        CHECK(b.error->message == want);
    }
    // The exact words, spelled out once.
    const Description& modbus = parser("modbus-tcp");
    UserspaceFramer f(modbus);
    using namespace std::string_literals;
    f.feed(bytes_of("\x00\x01\x00\x00\x00\x02\x01\x03"s + "\x00\x02\x00\x00\x00\xff"s));
    std::vector<Got> got;
    auto r = drain(f, got);
    REQUIRE(got.size() == 1);
    REQUIRE(r.status == Status::error);
    CHECK(r.error->message == "length field gives a 261-byte message, above max_message 260 at stream offset 8");
    CHECK(std::string(kind_name(r.error->kind)) == "too_long");
}

TEST_CASE("too long: a 64-bit field that overflows the size saturates") {
    Description d = custom("name = \"c\"\nmax_message = 100\n[length]\nwidth = 8\nheader = 10\n");
    UserspaceFramer f(d);
    f.feed(Bytes(8, 0xff));
    auto r = f.next();
    REQUIRE(r.status == Status::error);
    CHECK(r.error->kind == FramingErrorKind::too_long);
    CHECK(r.error->value == ~0ULL);
    CHECK(r.error->message ==
          "length field gives a 18446744073709551615-byte message, above max_message 100 at stream offset 0");
}

TEST_CASE("too short: below the minimum, after good messages") {
    using namespace std::string_literals;
    struct Case { const char* parser; std::string header; uint64_t total; uint64_t min; };
    const Case cases[] = {
        {"dns", "\x00\x0b"s, 13, 14},
        {"kafka", "\x00\x00\x00\x07"s, 11, 12},
        {"modbus-tcp", "\x00\x00\x00\x00\x00\x01"s, 7, 8},
        {"mongodb", "\x0f\x00\x00\x00"s, 15, 16},
        {"mongodb", "\x03\x00\x00\x00"s, 3, 16},
        {"postgresql-typed", "Q\x00\x00\x00\x03"s, 4, 5},
    };
    uint64_t seed = 20;
    for (const Case& c : cases) {
        CAPTURE(c.parser);
        CAPTURE(c.total);
        const Description& d = parser(c.parser);
        std::mt19937_64 rng(seed++);
        Stream good;
        const Sizes z = sizes_of(d);
        for (int i = 0; i < 3; i++) good.add(build(d, random_size(d, z, rng), rng));
        Bytes stream = good.bytes;
        stream.insert(stream.end(), c.header.begin(), c.header.end());
        const std::string want = "length field gives a " + std::to_string(c.total) + "-byte message, below the minimum " +
                                 std::to_string(c.min) + " at stream offset " + std::to_string(good.bytes.size());
        UserspaceFramer f(d);
        ByteByByte b = feed_bytewise(f, stream);
        REQUIRE(b.error != nullptr);
        CHECK(b.got.size() == 3);
        CHECK(b.error_after == stream.size());
        CHECK(b.error->kind == FramingErrorKind::too_short);
        CHECK(b.error->value == c.total);
        CHECK(b.error->offset == good.bytes.size());
        CHECK(b.error->message == want);
    }
}

// Regression: a length field giving a total of 0 (header = 0, e.g. mongodb's
// messageLength = 0) is too short; the framer once took the 0 for "not known yet"
// and waited forever. The kernel runtime reports too_short with value 0 too.
TEST_CASE("a length field giving a 0-byte total is too short") {
    using namespace std::string_literals;
    const Description& d = parser("mongodb");
    UserspaceFramer f(d);
    f.feed(bytes_of("\x10\x00\x00\x00"s + std::string(12, 'm') + "\x00\x00\x00\x00"s));
    std::vector<Got> got;
    auto r = drain(f, got);
    CHECK(got.size() == 1);
    REQUIRE(r.status == Status::error);
    CHECK(r.error->kind == FramingErrorKind::too_short);
    CHECK(r.error->value == 0);
    CHECK(r.error->message == "length field gives a 0-byte message, below the minimum 16 at stream offset 16");

    Description one = custom("name = \"c\"\nmax_message = 10\n[length]\nwidth = 1\nheader = 0\n");
    UserspaceFramer g(one);
    g.feed(Bytes{0x00});
    auto s = g.next();
    REQUIRE(s.status == Status::error);
    CHECK(s.error->message == "length field gives a 0-byte message, below the minimum 1 at stream offset 0");
}

TEST_CASE("no delimiter within max_message") {
    using namespace std::string_literals;
    const Description& d = parser("smtp-commands");  // "\r\n", max_message 1000
    SUBCASE("999 bytes wait, the 1000th is the error") {
        UserspaceFramer f(d);
        Bytes stream = bytes_of("EHLO a\r\nNOOP\r\n"s + std::string(1000, 'x') + "\r\n"s);
        ByteByByte b = feed_bytewise(f, stream);
        REQUIRE(b.error != nullptr);
        REQUIRE(b.got.size() == 2);
        CHECK(b.got[0].bytes == bytes_of("EHLO a\r\n"s));
        CHECK(b.got[1].bytes == bytes_of("NOOP\r\n"s));
        CHECK(b.got[1].offset == 8);
        CHECK(b.error_after == 14 + 1000);
        CHECK(b.error->kind == FramingErrorKind::no_delimiter);
        CHECK(b.error->value == 1000);
        CHECK(b.error->offset == 14);
        CHECK(b.error->message == "no delimiter \"\\r\\n\" within max_message 1000 bytes at stream offset 14");
    }
    SUBCASE("a delimiter that ends at byte 1001 is too late, even with a CR at byte 1000") {
        UserspaceFramer f(d);
        f.feed(bytes_of(std::string(999, 'x') + "\r\n"s));
        auto r = f.next();
        REQUIRE(r.status == Status::error);
        CHECK(r.error->message == "no delimiter \"\\r\\n\" within max_message 1000 bytes at stream offset 0");
    }
    SUBCASE("a delimiter that ends exactly at byte 1000 is in time") {
        UserspaceFramer f(d);
        Bytes m = bytes_of(std::string(998, 'x') + "\r\n"s);
        f.feed(m);
        auto r = f.next();
        REQUIRE(r.status == Status::message);
        CHECK(Bytes(r.message.bytes.begin(), r.message.bytes.end()) == m);
        CHECK(f.next().status == Status::need_more);
    }
    SUBCASE("json-lines: 1 MiB without a newline") {
        const Description& j = parser("json-lines");
        UserspaceFramer f(j);
        f.feed(bytes_of("{}\n"s));
        Bytes big(1048575, 'a');
        f.feed(big);
        std::vector<Got> got;
        CHECK(drain(f, got).status == Status::need_more);
        f.feed(bytes_of("b"s));
        auto r = drain(f, got);
        REQUIRE(r.status == Status::error);
        CHECK(got.size() == 1);
        CHECK(r.error->message == "no delimiter \"\\n\" within max_message 1048576 bytes at stream offset 3");
    }
}

TEST_CASE("truncated at end of stream: finish()") {
    using namespace std::string_literals;
    SUBCASE("length known: N of M bytes") {
        const Description& d = parser("dns");
        UserspaceFramer f(d);
        f.feed(bytes_of("\x00\x0c"s + std::string(12, 'a') + "\x00\x12"s + "abc"s));  // 14 + 5 of 20
        std::vector<Got> got;
        REQUIRE(drain(f, got).status == Status::need_more);
        REQUIRE(got.size() == 1);
        auto e = f.finish();
        REQUIRE(e.has_value());
        CHECK(e->kind == FramingErrorKind::truncated);
        CHECK(e->value == 5);
        CHECK(e->needed == 20);
        CHECK(e->offset == 14);
        CHECK(e->message == "truncated message (5 of 20 bytes) at stream offset 14");
        // finish() changes nothing: asking again gives the same answer.
        CHECK(f.finish()->message == e->message);
        CHECK(std::string(kind_name(e->kind)) == "truncated");
    }
    SUBCASE("length field itself incomplete: end not seen") {
        const Description& d = parser("modbus-tcp");
        UserspaceFramer f(d);
        f.feed(bytes_of("\x00\x01\x00\x00\x00\x02\x01\x03"s + "\x00\x02\x00\x00\x00"s));
        std::vector<Got> got;
        REQUIRE(drain(f, got).status == Status::need_more);
        REQUIRE(got.size() == 1);
        auto e = f.finish();
        REQUIRE(e.has_value());
        CHECK(e->value == 5);
        CHECK(e->needed == 0);
        CHECK(e->message == "truncated message (5 bytes, end not seen) at stream offset 8");
    }
    SUBCASE("delimiter: end not seen") {
        const Description& d = parser("smtp-commands");
        UserspaceFramer f(d);
        f.feed(bytes_of("HELO x\r\nQUIT\r"s));
        std::vector<Got> got;
        REQUIRE(drain(f, got).status == Status::need_more);
        REQUIRE(got.size() == 1);
        auto e = f.finish();
        REQUIRE(e.has_value());
        CHECK(e->kind == FramingErrorKind::truncated);
        CHECK(e->message == "truncated message (5 bytes, end not seen) at stream offset 8");
    }
    SUBCASE("nothing held: no error") {
        const Description& d = parser("dns");
        UserspaceFramer f(d);
        CHECK_FALSE(f.finish().has_value());
        f.feed(bytes_of("\x00\x0c"s + std::string(12, 'a')));
        CHECK(f.next().status == Status::message);
        CHECK_FALSE(f.finish().has_value());
    }
}

TEST_CASE("errors are sticky") {
    using namespace std::string_literals;
    const Description& d = parser("dns");
    UserspaceFramer f(d);
    Bytes good = bytes_of("\x00\x0c"s + std::string(12, 'a'));
    f.feed(good);
    f.feed(bytes_of("\x00\x01"s));  // total 3 < 14
    std::vector<Got> got;
    auto r = drain(f, got);
    REQUIRE(got.size() == 1);
    REQUIRE(r.status == Status::error);
    const FramingError* first = r.error;
    const std::string want = "length field gives a 3-byte message, below the minimum 14 at stream offset 14";
    CHECK(first->message == want);
    for (int i = 0; i < 3; i++) {
        f.feed(good);  // good bytes after the error change nothing
        auto again = f.next();
        CHECK(again.status == Status::error);
        CHECK(again.error == first);
        CHECK(again.error->message == want);
        CHECK(again.error->offset == 14);
    }
    CHECK(f.stream_offset() == 14);
    CHECK_FALSE(f.finish().has_value());  // the error was already reported: no truncation on top
}

// ---- linear time -----------------------------------------------------------------------------

// A quadratic rescan of the held bytes would do ~5 * 10^11 byte comparisons here
// and run into the test timeout; a linear framer does this in well under a second.
TEST_CASE("linear time: a 1 MiB message fed one byte at a time") {
    using namespace std::string_literals;
    SUBCASE("json-lines, 1-byte delimiter") {
        const Description& d = parser("json-lines");
        Bytes big(1048576, 'z');
        big.back() = '\n';
        UserspaceFramer f(d);
        f.feed(bytes_of("[]\n{"s));  // a message, then a partial one held at a non-zero position
        auto r = f.next();
        REQUIRE(r.status == Status::message);
        CHECK(r.message.offset == 0);
        CHECK(f.next().status == Status::need_more);
        Bytes rest(big.begin() + 1, big.end());  // '{' already fed is the big message's first byte
        big[0] = '{';
        size_t messages = 0;
        for (size_t i = 0; i < rest.size(); i++) {
            f.feed({&rest[i], 1});
            auto n = f.next();
            if (n.status == Status::message) {
                REQUIRE(i + 1 == rest.size());
                CHECK(n.message.offset == 3);
                CHECK(n.message.bytes.size() == big.size());
                CHECK(std::equal(n.message.bytes.begin(), n.message.bytes.end(), big.begin()));
                messages++;
            } else {
                REQUIRE(n.status == Status::need_more);
            }
        }
        CHECK(messages == 1);
        CHECK(f.buffered() == 0);
        CHECK(f.stream_offset() == 3 + big.size());
    }
    SUBCASE("16-byte delimiter with a false start at every position") {
        Description d = custom("name = \"c\"\nmax_message = 2097152\n[delimiter]\ntext = \"0123456789abcdef\"\n");
        Bytes big;
        const std::string near = "0123456789abcdeX";  // matches 15 bytes, then fails
        while (big.size() + near.size() < 1048576) big.insert(big.end(), near.begin(), near.end());
        const std::string delim = "0123456789abcdef";
        big.insert(big.end(), delim.begin(), delim.end());
        UserspaceFramer f(d);
        size_t messages = 0;
        for (size_t i = 0; i < big.size(); i++) {
            f.feed({&big[i], 1});
            auto n = f.next();
            if (n.status == Status::message) {
                REQUIRE(i + 1 == big.size());
                CHECK(n.message.offset == 0);
                CHECK(std::equal(n.message.bytes.begin(), n.message.bytes.end(), big.begin(), big.end()));
                messages++;
            } else {
                REQUIRE(n.status == Status::need_more);
            }
        }
        CHECK(messages == 1);
    }
}

// ---- zero copy -------------------------------------------------------------------------------

TEST_CASE("zero copy: message spans point into the framer's buffer until the next write") {
    using namespace std::string_literals;
    const Description& d = parser("dns");
    const Bytes m1 = bytes_of("\x00\x0c"s + std::string(12, 'a'));
    const Bytes m2 = bytes_of("\x00\x0d"s + std::string(13, 'b'));
    const Bytes m3 = bytes_of("\x00\x0e"s + std::string(14, 'c'));
    Bytes all = m1;
    all.insert(all.end(), m2.begin(), m2.end());
    all.insert(all.end(), m3.begin(), m3.end());
    all.insert(all.end(), {0x00, 0x20, 'd'});  // a partial fourth message

    UserspaceFramer f(d);
    auto space = f.write_space(4096);
    REQUIRE(space.size() == 4096);
    std::memcpy(space.data(), all.data(), all.size());
    f.commit(all.size());
    CHECK(f.buffered() == all.size());

    auto r1 = f.next();
    auto r2 = f.next();
    auto r3 = f.next();
    REQUIRE(r1.status == Status::message);
    REQUIRE(r2.status == Status::message);
    REQUIRE(r3.status == Status::message);
    // Each span is the written memory itself, back to back.
    CHECK(r1.message.bytes.data() == space.data());
    CHECK(r2.message.bytes.data() == space.data() + m1.size());
    CHECK(r3.message.bytes.data() == space.data() + m1.size() + m2.size());
    CHECK(r1.message.bytes.size() == m1.size());
    CHECK(r2.message.offset == m1.size());
    // Asking for more (need_more) does not move or overwrite anything.
    CHECK(f.next().status == Status::need_more);
    CHECK(f.next().status == Status::need_more);
    CHECK(Bytes(r1.message.bytes.begin(), r1.message.bytes.end()) == m1);
    CHECK(Bytes(r2.message.bytes.begin(), r2.message.bytes.end()) == m2);
    CHECK(Bytes(r3.message.bytes.begin(), r3.message.bytes.end()) == m3);
    CHECK(f.buffered() == 3);
    (void)f.finish();
    CHECK(Bytes(r1.message.bytes.begin(), r1.message.bytes.end()) == m1);

    // When everything is consumed the spans still hold until the next write.
    UserspaceFramer g(d);
    g.feed(m1);
    auto s1 = g.next();
    REQUIRE(s1.status == Status::message);
    CHECK(g.buffered() == 0);
    CHECK(g.next().status == Status::need_more);
    CHECK(Bytes(s1.message.bytes.begin(), s1.message.bytes.end()) == m1);

    // The write space is where the next bytes land: committing part of it is fine.
    auto w = g.write_space(100);
    std::memcpy(w.data(), m2.data(), 10);
    g.commit(10);
    CHECK(g.next().status == Status::need_more);
    CHECK(g.buffered() == 10);
    auto w2 = g.write_space(5);
    REQUIRE(w2.size() == 5);
    std::memcpy(w2.data(), m2.data() + 10, 5);
    g.commit(5);
    auto s2 = g.next();
    REQUIRE(s2.status == Status::message);
    CHECK(s2.message.offset == m1.size());
    CHECK(Bytes(s2.message.bytes.begin(), s2.message.bytes.end()) == m2);
    CHECK(s2.message.bytes.data() == w.data());

    // Feeding nothing changes nothing.
    g.feed({});
    CHECK(g.next().status == Status::need_more);
    CHECK(g.buffered() == 0);
}

// The framer frames a plain fixed-width length field inline (no call per message);
// probe_length() stays the definition. Random fields and values, near and far from
// the bounds: both must give the same message, need_more or error (kind and value).
TEST_CASE("inline fixed-width length rule agrees with probe_length") {
    std::mt19937_64 rng(6);
    auto pick = [&](uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
    const uint32_t widths[] = {1, 2, 3, 4, 8};
    int descriptions = 0, checked = 0, messages = 0, errors = 0;
    for (int round = 0; round < 400; round++) {
        uint32_t width = widths[pick(0, 4)];
        uint32_t offset = static_cast<uint32_t>(pick(0, 3));
        std::string toml =
            "name = \"c\"\nmax_message = " + std::to_string(pick(1, 3) == 1 ? pick(1, 40) : pick(1, 5000)) +
            "\n[length]\noffset = " + std::to_string(offset) + "\nwidth = " + std::to_string(width) + "\n";
        if (pick(0, 1)) toml += "byte_order = \"little\"\n";
        if (pick(0, 2) == 0)
            toml += "header = " + std::to_string(pick(0, 3) == 0 ? pick(0, ~0ULL >> 1) : pick(0, 20)) + "\n";
        if (pick(0, 2) == 0)
            toml += "scale = " + std::to_string(pick(0, 3) == 0 ? pick(0, ~0ULL >> 1) : pick(0, 9)) + "\n";
        if (pick(0, 3) == 0) {
            uint64_t all = width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
            toml += "mask = " + std::to_string((rng() & all) | 1) + "\n";
        }
        if (pick(0, 3) == 0) toml += "shift = " + std::to_string(pick(0, 8 * width - 1)) + "\n";
        if (pick(0, 3) == 0) toml += "min_message = " + std::to_string(pick(0, 60)) + "\n";
        std::unique_ptr<Description> d;
        try {
            d = std::make_unique<Description>(custom(toml));
        } catch (const DescriptionError&) {
            continue;  // a combination the language refuses
        }
        descriptions++;
        CAPTURE(toml);
        const LengthField& f = d->length();
        for (int k = 0; k < 200; k++) {
            // Field values: small (mostly legal totals), or any bits.
            uint64_t raw = pick(0, 1) ? pick(0, 2 * d->max_message + 2) : rng();
            Bytes b(f.field_end() + pick(0, 80));
            for (auto& x : b) x = static_cast<uint8_t>(rng());
            for (uint32_t i = 0; i < width; i++) {
                uint32_t byte = std::get<UintLength>(f.encoding).byte_order == ByteOrder::big ? width - 1 - i : i;
                b[f.offset + byte] = static_cast<uint8_t>(raw >> (8 * i));
            }
            size_t avail = pick(0, b.size());
            UserspaceFramer fr(*d);
            fr.feed({b.data(), avail});
            auto r = fr.next();
            LengthProbe p = probe_length(f, d->max_message, d->magic, b.data(), avail);
            CAPTURE(raw);
            CAPTURE(avail);
            checked++;
            if (p.state == LengthProbe::error) {
                errors++;
                REQUIRE(r.status == Status::error);
                CHECK(r.error->kind == p.kind);
                CHECK(r.error->value == p.value);
            } else if (p.state == LengthProbe::known && p.total <= avail) {
                messages++;
                REQUIRE(r.status == Status::message);
                CHECK(r.message.bytes.size() == p.total);
                CHECK(r.message.offset == 0);
            } else {
                CHECK(r.status == Status::need_more);
            }
        }
    }
    MESSAGE(descriptions << " descriptions, " << checked << " cases: " << messages << " messages, " << errors
                         << " errors");
    CHECK(descriptions > 100);
    CHECK(messages > 1000);
    CHECK(errors > 1000);
}

// The delimiter scan (memchr for the first byte, then the rest) against a plain search
// from each message's start: delimiters of 1 to 16 bytes over a two-letter alphabet,
// so false starts and delimiters split across writes are everywhere.
TEST_CASE("delimiter scan: 1 to 16 bytes, false starts, split across writes, random chunks") {
    std::mt19937_64 rng(16);
    for (size_t len = 1; len <= 16; len++) {
        for (int variant = 0; variant < 4; variant++) {
            std::string delim(len, 'a');
            for (auto& c : delim) c = rng() % 3 == 0 ? 'b' : 'a';
            std::string hex;
            for (char c : delim) hex += c == 'a' ? "61" : "62";
            Description d = custom("name = \"c\"\nmax_message = 100000\n[delimiter]\nhex = \"" + hex + "\"\n");
            CAPTURE(delim);
            // Random text over {a, b}, cut into messages where the first delimiter ends.
            std::string text;
            for (int i = 0; i < 6000; i++) text += rng() % 2 ? 'a' : 'b';
            for (int i = 0; i < 40; i++) text.insert(std::uniform_int_distribution<size_t>(0, text.size())(rng), delim);
            Stream s;
            for (size_t at = 0;;) {
                size_t hit = text.find(delim, at);
                if (hit == std::string::npos) break;
                s.add(bytes_of(text.substr(at, hit + len - at)));
                at = hit + len;
            }
            REQUIRE(s.messages.size() >= 20);
            frame_in_chunks(d, s, random_chunks(s.bytes.size(), rng), Feeding::zero_copy, &rng);
            frame_in_chunks(d, s, std::vector<size_t>(s.bytes.size(), 1), Feeding::copy);
            std::vector<size_t> small;
            for (size_t left = s.bytes.size(); left;) {
                size_t n = std::min(left, std::uniform_int_distribution<size_t>(1, 2 * len)(rng));
                small.push_back(n);
                left -= n;
            }
            frame_in_chunks(d, s, small, Feeding::copy);
        }
    }
}
