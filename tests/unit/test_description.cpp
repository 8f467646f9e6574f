// The description language: every key, every default, every way to get it wrong.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "support.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include <sockframe/description.hpp>

using namespace sockframe;
using sockframe::testing::source_dir;

namespace {

Description parse(const std::string& text) { return parse_description(text, "t.toml"); }

const UintLength& uint_rule(const Description& d) {
    return std::get<UintLength>(d.length().encoding);
}

// The exact text of the DescriptionError `text` raises (fails the test if it parses).
std::string error_of(const std::string& text) {
    try {
        parse(text);
    } catch (const DescriptionError& e) {
        return e.what();
    }
    FAIL("description was accepted: " << text);
    return "";
}

const std::string kHead = "name = \"x\"\nmax_message = 10\n";

}  // namespace

TEST_CASE("length framing: every default") {
    Description d = parse("name = \"abc\"\nmax_message = 300\n[length]\nwidth = 2\n");
    CHECK(d.name == "abc");
    CHECK(d.summary == "");
    CHECK(d.reference == "");
    CHECK(d.max_message == 300);
    CHECK(d.source_name == "t.toml");
    CHECK(d.source_text == "name = \"abc\"\nmax_message = 300\n[length]\nwidth = 2\n");
    REQUIRE(d.is_length());
    const LengthField& f = d.length();
    const UintLength& u = std::get<UintLength>(f.encoding);
    CHECK(f.offset == 0);
    CHECK(u.width == 2);
    CHECK(u.byte_order == ByteOrder::big);
    CHECK(u.header == 2);  // offset + width
    CHECK(f.scale == 1);
    CHECK(u.mask == 0xffff);  // all bits of the field
    CHECK_FALSE(u.has_mask);
    CHECK(u.shift == 0);
    CHECK(f.min_message == 0);
    CHECK(f.field_end() == 2);
    CHECK(f.effective_min() == 2);  // implicit minimum: offset + width
}

TEST_CASE("length framing: default header and mask follow offset and width") {
    struct Case { const char* body; uint64_t header; uint64_t mask; };
    const Case cases[] = {
        {"offset = 0\nwidth = 1\n", 1, 0xff},
        {"offset = 3\nwidth = 3\n", 6, 0xffffff},
        {"offset = 5\nwidth = 4\n", 9, 0xffffffffULL},
        {"offset = 1\nwidth = 8\n", 9, ~0ULL},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        Description d = parse("name = \"x\"\nmax_message = 100\n[length]\n" + std::string(c.body));
        CHECK(uint_rule(d).header == c.header);
        CHECK(uint_rule(d).mask == c.mask);
        CHECK(d.length().effective_min() == d.length().field_end());
        CHECK(d.length().field_end() == c.header);
    }
}

TEST_CASE("length framing: every key given") {
    Description d = parse(
        "name = \"abc-1\"\nsummary = \"S\"\nreference = \"R\"\nmax_message = 100000\n"
        "[length]\noffset = 3\nwidth = 4\nbyte_order = \"little\"\nheader = 7\nscale = 4\n"
        "mask = 0x00fffff0\nshift = 4\nmin_message = 20\n");
    CHECK(d.name == "abc-1");
    CHECK(d.symbol() == "abc_1");
    CHECK(d.summary == "S");
    CHECK(d.reference == "R");
    CHECK(d.max_message == 100000);
    const LengthField& f = d.length();
    const UintLength& u = std::get<UintLength>(f.encoding);
    CHECK(f.offset == 3);
    CHECK(u.width == 4);
    CHECK(u.byte_order == ByteOrder::little);
    CHECK(u.header == 7);
    CHECK(f.scale == 4);
    CHECK(u.mask == 0x00fffff0);
    CHECK(u.has_mask);
    CHECK(u.shift == 4);
    CHECK(f.min_message == 20);
    CHECK(f.effective_min() == 20);
    CHECK(explain(d) ==
          "abc-1: S (R)\n"
          "Each message starts with a length field: 4-byte unsigned little-endian integer at byte 3.\n"
          "The field is masked with 0xfffff0 and shifted right by 4.\n"
          "Message size = 7 + 4 * value bytes.\n"
          "A size below 20 or above 100000 bytes is a framing error.\n"
          "On a framing error the connection stops there; every message before it is delivered.\n"
          "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
          "to a delivery socket and split again in userspace.\n");
}

TEST_CASE("length framing: explicit big byte order, header 0, min_message below field end") {
    Description d = parse(
        "name = \"m\"\nmax_message = 64\n[length]\noffset = 2\nwidth = 4\nbyte_order = \"big\"\n"
        "header = 0\nmin_message = 3\n");
    CHECK(uint_rule(d).byte_order == ByteOrder::big);
    CHECK(uint_rule(d).header == 0);
    CHECK(d.length().min_message == 3);
    CHECK(d.length().effective_min() == 6);  // the field itself must fit
    CHECK(explain(d) ==
          "m\n"
          "Each message starts with a length field: 4-byte unsigned big-endian integer at byte 2.\n"
          "Message size = 0 + value bytes (the length counts the whole message).\n"
          "A size below 6 or above 64 bytes is a framing error.\n"
          "On a framing error the connection stops there; every message before it is delivered.\n"
          "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
          "to a delivery socket and split again in userspace.\n");
}

TEST_CASE("length framing: explain for a 1-byte field, shift without mask, summary only") {
    Description d = parse("name = \"one\"\nsummary = \"One byte\"\nmax_message = 1000\n"
                          "[length]\nwidth = 1\nbyte_order = \"little\"\nshift = 2\n");
    CHECK(uint_rule(d).mask == 0xff);
    CHECK_FALSE(uint_rule(d).has_mask);
    CHECK(explain(d) ==
          "one: One byte\n"
          "Each message starts with a length field: 1-byte unsigned integer at byte 0.\n"
          "The field is masked with 0xff and shifted right by 2.\n"
          "Message size = 1 + value bytes.\n"
          "A size below 1 or above 1000 bytes is a framing error.\n"
          "On a framing error the connection stops there; every message before it is delivered.\n"
          "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
          "to a delivery socket and split again in userspace.\n");
}

TEST_CASE("length framing: boundary values that are allowed") {
    // Widest values of each key.
    Description d = parse("name = \"a-0123456789-abcdefghijklmnopqrstuvwxyz-01234567\"\n"  // 48 characters
                          "max_message = 1073741824\n[length]\noffset = 65535\nwidth = 8\n"
                          "header = 1073741824\nscale = 1073741824\nmask = 0x7fffffffffffffff\n"
                          "shift = 63\nmin_message = 1073741824\n");
    CHECK(d.name.size() == 48);
    CHECK(d.max_message == kMaxMessageLimit);
    CHECK(d.length().offset == 65535);
    CHECK(uint_rule(d).width == 8);
    CHECK(uint_rule(d).header == (1ULL << 30));
    CHECK(d.length().scale == (1ULL << 30));
    CHECK(uint_rule(d).mask == 0x7fffffffffffffffULL);
    CHECK(uint_rule(d).shift == 63);
    CHECK(d.length().min_message == (1ULL << 30));
    // max_message 1 with a 1-byte field at offset 0.
    CHECK(parse("name = \"b\"\nmax_message = 1\n[length]\nwidth = 1\n").max_message == 1);
    // A summary of exactly 200 characters.
    CHECK(parse("name = \"c\"\nsummary = \"" + std::string(200, 's') +
                "\"\nmax_message = 1\n[delimiter]\ntext = \"a\"\n").summary.size() == 200);
    // Widths 1, 2, 3, 4 and 8.
    for (int w : {1, 2, 3, 4, 8}) {
        CAPTURE(w);
        CHECK(uint_rule(parse(kHead + "[length]\nwidth = " + std::to_string(w) + "\n")).width == w);
    }
    // An inline table is a table too.
    CHECK(parse(kHead + "length = { width = 2, offset = 1 }\n").length().offset == 1);
}

TEST_CASE("delimiter framing: text form") {
    Description d = parse("name = \"lines\"\nsummary = \"Lines\"\nreference = \"RFC 0\"\nmax_message = 100\n"
                          "[delimiter]\ntext = \"\\r\\n\"\n");
    REQUIRE_FALSE(d.is_length());
    CHECK(d.delimiter().bytes == "\r\n");
    CHECK(explain(d) ==
          "lines: Lines (RFC 0)\n"
          "Each message ends with the 2-byte delimiter \"\\r\\n\", included in the message.\n"
          "No delimiter within 100 bytes of a message's start is a framing error.\n"
          "The kernel parser scans each byte once: it resumes where the previous call stopped.\n"
          "On a framing error the connection stops there; every message before it is delivered.\n"
          "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
          "to a delivery socket and split again in userspace.\n");
    // 16 bytes is the longest delimiter.
    CHECK(parse("name = \"x\"\nmax_message = 16\n[delimiter]\ntext = \"0123456789abcdef\"\n").delimiter().bytes ==
          "0123456789abcdef");
    // Delimiter exactly as long as max_message.
    CHECK(parse("name = \"x\"\nmax_message = 2\n[delimiter]\ntext = \"ab\"\n").delimiter().bytes == "ab");
}

TEST_CASE("delimiter framing: hex form, both letter cases") {
    Description d = parse("name = \"x\"\nmax_message = 10\n[delimiter]\nhex = \"0D0a00fF\"\n");
    CHECK(d.delimiter().bytes == std::string("\r\n\0\xff", 4));
    CHECK(explain(d).find("Each message ends with the 4-byte delimiter \"\\r\\n\\x00\\xff\", included in the message.\n") !=
          std::string::npos);
    CHECK(parse("name = \"x\"\nmax_message = 16\n[delimiter]\nhex = \"000102030405060708090a0b0c0d0e0f\"\n")
              .delimiter().bytes.size() == 16);
}

TEST_CASE("escape_bytes") {
    CHECK(escape_bytes("") == "");
    CHECK(escape_bytes("abc XYZ~") == "abc XYZ~");
    CHECK(escape_bytes(std::string("\r\n\t\\\"\0\x1f\x7f\x80\xff", 10)) == "\\r\\n\\t\\\\\\\"\\x00\\x1f\\x7f\\x80\\xff");
}

TEST_CASE("length framing: each encoding is its own alternative, with its defaults") {
    auto rule = [](const std::string& body) { return parse(kHead + "[length]\n" + body).length(); };
    LengthField leb = rule("encoding = \"leb128\"\nadjust = -1\n");
    REQUIRE(std::holds_alternative<Leb128Length>(leb.encoding));
    CHECK(std::get<Leb128Length>(leb.encoding).max_size == 10);
    CHECK(leb.as_variable()->adjust == -1);
    CHECK(leb.as_uint() == nullptr);
    CHECK(leb.max_field_bytes() == 10);
    CHECK(leb.field_end() == 1);

    LengthField mqtt = rule("encoding = \"mqtt\"\noffset = 1\n");
    REQUIRE(std::holds_alternative<Leb128Length>(mqtt.encoding));
    CHECK(mqtt.as_variable()->max_size == 4);
    CHECK(mqtt.field_end() == 2);

    LengthField ber = rule("encoding = \"ber\"\n");
    REQUIRE(std::holds_alternative<BerLength>(ber.encoding));
    CHECK(ber.max_field_bytes() == 9);

    LengthField hex = rule("encoding = \"ascii-hex\"\ndigits = 4\n");
    REQUIRE(std::holds_alternative<AsciiLength>(hex.encoding));
    const AsciiLength& h = std::get<AsciiLength>(hex.encoding);
    CHECK(h.hex);
    CHECK(h.digits == 4);
    CHECK(h.max_size == 4);  // implied by digits
    CHECK_FALSE(h.terminator);
    CHECK(hex.field_end() == 4);
    CHECK(hex.max_field_bytes() == 4);

    LengthField dec = rule("encoding = \"ascii-decimal\"\nterminator = \":\"\nwidth = 5\n");
    const AsciiLength& a = std::get<AsciiLength>(dec.encoding);
    CHECK_FALSE(a.hex);
    CHECK(a.digits == 0);
    CHECK(a.terminator == ':');
    CHECK(dec.field_end() == 2);        // one digit and the terminator
    CHECK(dec.max_field_bytes() == 6);  // five digits and the terminator
    CHECK_FALSE(dec.fixed_width());
    CHECK_FALSE(dec.conditional());

    LengthField u = rule("width = 2\n[[length.escape]]\nvalue = 255\nwidth = 4\n");
    REQUIRE(u.as_uint() != nullptr);
    CHECK(u.as_variable() == nullptr);
    CHECK(u.conditional());
    CHECK(u.max_field_bytes() == 2);
}

TEST_CASE("the shipped parsers load with the values they state") {
    const std::string dir = source_dir() + "/parsers/";
    Description dns = load_description_file(dir + "dns.toml");
    CHECK(dns.name == "dns-tcp");
    CHECK(dns.symbol() == "dns_tcp");
    CHECK(dns.summary == "DNS over TCP");
    CHECK(dns.max_message == 65537);
    CHECK(uint_rule(dns).header == 2);
    CHECK(dns.length().effective_min() == 14);
    CHECK(dns.source_name == dir + "dns.toml");

    Description mongo = load_description_file(dir + "mongodb.toml");
    CHECK(uint_rule(mongo).byte_order == ByteOrder::little);
    CHECK(uint_rule(mongo).header == 0);
    CHECK(mongo.length().effective_min() == 16);

    Description modbus = load_description_file(dir + "modbus-tcp.toml");
    CHECK(modbus.length().offset == 4);
    CHECK(uint_rule(modbus).header == 6);

    Description smtp = load_description_file(dir + "smtp-commands.toml");
    CHECK(smtp.delimiter().bytes == "\r\n");
    CHECK(smtp.max_message == 1000);

    Description jl = load_description_file(dir + "json-lines.toml");
    CHECK(jl.delimiter().bytes == "\n");
}

TEST_CASE("a file that cannot be read") {
    try {
        load_description_file("/nonexistent/dir/p.toml");
        FAIL("loaded a missing file");
    } catch (const DescriptionError& e) {
        CHECK(std::string(e.what()) == "/nonexistent/dir/p.toml:1:1: file: cannot be read");
    }
}

TEST_CASE("DescriptionError carries its parts") {
    try {
        parse(kHead + "[length]\nwidth = 5\n");
        FAIL("accepted width 5");
    } catch (const DescriptionError& e) {
        CHECK(e.source() == "t.toml");
        CHECK(e.line() == 4);
        CHECK(e.column() == 9);
        CHECK(e.key() == "length.width");
        CHECK(e.problem() == "5 is not allowed; allowed: 1, 2, 3, 4 or 8");
        CHECK(std::string(e.what()) == "t.toml:4:9: length.width: 5 is not allowed; allowed: 1, 2, 3, 4 or 8");
    }
}

// ---- invalid descriptions: exact text, line and column --------------------------------------

TEST_CASE("invalid: TOML syntax") {
    CHECK(error_of("name = \"x\"\nmax_message = \n") ==
          "t.toml:2:15: syntax: Error while parsing key-value pair: expected value, saw '\\n'");
    CHECK(error_of("name = \"x\"\nname = \"y\"\n") ==
          "t.toml:2:8: syntax: Error while parsing key-value pair: cannot redefine existing string 'name'");
}

// The language grows (other engineers are adding keys): an unknown-key error must be
// exactly "<position>: <key>: unknown key; allowed keys: " followed by the keys of this
// table as of the first release, in order, and then only further plain key names.
void check_unknown_key(const std::string& error, const std::string& head, const std::string& base_keys) {
    CAPTURE(error);
    const std::string prefix = head + "unknown key; allowed keys: " + base_keys;
    REQUIRE(error.substr(0, prefix.size()) == prefix);
    std::string rest = error.substr(prefix.size());
    while (!rest.empty()) {
        REQUIRE(rest.substr(0, 2) == ", ");
        size_t end = rest.find(", ", 2);
        std::string key = rest.substr(2, end == std::string::npos ? std::string::npos : end - 2);
        CHECK(!key.empty());
        CHECK(std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
        rest = end == std::string::npos ? "" : rest.substr(end);
    }
}

TEST_CASE("invalid: unknown keys") {
    const std::string top = "name, summary, reference, max_message, length, delimiter";
    check_unknown_key(error_of(kHead + "foo = 1\n[length]\nwidth = 1\n"), "t.toml:3:1: foo: ", top);  // the key, not its value
    check_unknown_key(error_of(kHead + "[length]\nwidth = 1\n[extra]\na = 1\n"), "t.toml:5:2: extra: ", top);
    check_unknown_key(error_of(kHead + "[length]\nwidth = 1\n  bogus = 3\n"), "t.toml:5:3: length.bogus: ",
                      "offset, width, byte_order, header, scale, mask, shift, min_message");
    CHECK(error_of(kHead + "[delimiter]\ntext = \"a\"\nbytes = 1\n") ==
          "t.toml:5:1: delimiter.bytes: unknown key; allowed keys: text, hex");
}

TEST_CASE("invalid: name") {
    CHECK(error_of("max_message = 10\n[length]\nwidth = 1\n") ==
          "t.toml:1:1: name: is required; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    CHECK(error_of("name = \"Bad_Name\"\nmax_message = 10\n[length]\nwidth = 1\n") ==
          "t.toml:1:8: name: \"Bad_Name\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    CHECK(error_of("max_message = 10\nname = \"1abc\"\n[length]\nwidth = 1\n") ==
          "t.toml:2:8: name: \"1abc\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    CHECK(error_of("name = \"\"\nmax_message = 10\n[length]\nwidth = 1\n") ==
          "t.toml:1:8: name: \"\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    const std::string n49 = "a" + std::string(48, 'b');
    CHECK(error_of("name = \"" + n49 + "\"\nmax_message = 10\n[length]\nwidth = 1\n") ==
          "t.toml:1:8: name: \"" + n49 + "\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    CHECK(error_of("name = 5\nmax_message = 10\n[length]\nwidth = 1\n") == "t.toml:1:8: name: must be a string");
}

TEST_CASE("invalid: max_message") {
    CHECK(error_of("name = \"x\"\n[length]\nwidth = 1\n") ==
          "t.toml:1:1: max_message: is required; allowed: an integer from 1 to 1073741824");
    CHECK(error_of("name = \"x\"\nmax_message = 0\n[length]\nwidth = 1\n") ==
          "t.toml:2:15: max_message: 0 is out of range; allowed: an integer from 1 to 1073741824");
    CHECK(error_of("name = \"x\"\nmax_message = 1073741825\n[length]\nwidth = 1\n") ==
          "t.toml:2:15: max_message: 1073741825 is out of range; allowed: an integer from 1 to 1073741824");
    CHECK(error_of("name = \"x\"\nmax_message = 10.0\n[length]\nwidth = 1\n") ==
          "t.toml:2:15: max_message: must be an integer; allowed: an integer from 1 to 1073741824");
    CHECK(error_of("name = \"x\"\nmax_message = 1\n[delimiter]\ntext = \"ab\"\n") ==
          "t.toml:2:15: max_message: is shorter than the delimiter");
}

TEST_CASE("invalid: framing tables") {
    CHECK(error_of(kHead + "[length]\nwidth = 1\n[delimiter]\ntext = \"a\"\n") ==
          "t.toml:5:1: delimiter: give exactly one of [length] or [delimiter], not both");
    CHECK(error_of(kHead) == "t.toml:1:1: length: is required: give exactly one of [length] or [delimiter]");
    CHECK(error_of(kHead + "length = 5\n") == "t.toml:3:10: length: must be a table: [length]");
    CHECK(error_of(kHead + "delimiter = \"x\"\n") == "t.toml:3:13: delimiter: must be a table: [delimiter]");
}

TEST_CASE("invalid: width") {
    CHECK(error_of(kHead + "\n[length]\noffset = 1\n") ==
          "t.toml:4:1: length.width: is required; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "length = { offset = 1 }\n") ==
          "t.toml:3:10: length.width: is required; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "[length]\nwidth = 5\n") ==
          "t.toml:4:9: length.width: 5 is not allowed; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "[length]\nwidth = 7\n") ==
          "t.toml:4:9: length.width: 7 is not allowed; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "[length]\nwidth = 0\n") ==
          "t.toml:4:9: length.width: 0 is out of range; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "[length]\nwidth = 9\n") ==
          "t.toml:4:9: length.width: 9 is out of range; allowed: 1, 2, 3, 4 or 8");
    CHECK(error_of(kHead + "[length]\nwidth = \"2\"\n") ==
          "t.toml:4:9: length.width: must be an integer; allowed: 1, 2, 3, 4 or 8");
}

TEST_CASE("invalid: byte_order, offset, header, scale") {
    CHECK(error_of(kHead + "[length]\nwidth = 2\nbyte_order = \"middle\"\n") ==
          "t.toml:5:14: length.byte_order: \"middle\" is not allowed; allowed: \"big\" or \"little\"");
    CHECK(error_of(kHead + "[length]\nwidth = 2\nbyte_order = 1\n") == "t.toml:5:14: length.byte_order: must be a string");
    CHECK(error_of(kHead + "[length]\noffset = -1\nwidth = 2\n") ==
          "t.toml:4:10: length.offset: -1 is out of range; allowed: an integer from 0 to 65535");
    CHECK(error_of(kHead + "[length]\noffset = 65536\nwidth = 2\n") ==
          "t.toml:4:10: length.offset: 65536 is out of range; allowed: an integer from 0 to 65535");
    CHECK(error_of(kHead + "[length]\nwidth = 1\nheader = 1073741825\n") ==
          "t.toml:5:10: length.header: 1073741825 is out of range; allowed: an integer from 0 to 1073741824");
    CHECK(error_of(kHead + "[length]\nwidth = 1\nscale = 0\n") ==
          "t.toml:5:9: length.scale: 0 is out of range; allowed: an integer from 1 to 1073741824");
}

TEST_CASE("invalid: mask and shift") {
    CHECK(error_of(kHead + "[length]\nwidth = 2\nmask = 0\n") ==
          "t.toml:5:8: length.mask: 0x0 does not fit; allowed: a non-zero integer that fits in the field's 16 bits");
    CHECK(error_of(kHead + "[length]\nwidth = 2\nmask = 0x1ffff\n") ==
          "t.toml:5:8: length.mask: 0x1ffff does not fit; allowed: a non-zero integer that fits in the field's 16 bits");
    CHECK(error_of(kHead + "[length]\nwidth = 3\nmask = -1\n") ==
          "t.toml:5:8: length.mask: 0xffffffffffffffff does not fit; allowed: a non-zero integer that fits in the "
          "field's 24 bits");
    CHECK(error_of(kHead + "[length]\nwidth = 1\nmask = \"ff\"\n") ==
          "t.toml:5:8: length.mask: must be an integer; allowed: a non-zero integer that fits in the field's 8 bits");
    CHECK(error_of(kHead + "[length]\nwidth = 2\nshift = 16\n") ==
          "t.toml:5:9: length.shift: 16 is out of range; allowed: an integer from 0 to 15");
    CHECK(error_of(kHead + "[length]\nwidth = 8\nshift = 64\n") ==
          "t.toml:5:9: length.shift: 64 is out of range; allowed: an integer from 0 to 63");
}

TEST_CASE("invalid: sizes against max_message") {
    CHECK(error_of(kHead + "[length]\nwidth = 2\nmin_message = 11\n") ==
          "t.toml:5:15: length.min_message: 11 is above max_message = 10");
    CHECK(error_of(kHead + "[length]\nwidth = 2\nmin_message = 1073741825\n") ==
          "t.toml:5:15: length.min_message: 1073741825 is out of range; allowed: an integer from 0 to 1073741824");
    CHECK(error_of(kHead + "[length]\noffset = 9\nwidth = 2\n") ==
          "t.toml:4:10: length.offset: the field ends at byte 11, beyond max_message = 10");
    // No offset given: the position is the width's (see the report: the key says offset).
    CHECK(error_of("name = \"x\"\nmax_message = 4\n[length]\nwidth = 8\n") ==
          "t.toml:4:9: length.offset: the field ends at byte 8, beyond max_message = 4");
}

TEST_CASE("invalid: delimiter") {
    const std::string h = "name = \"x\"\nmax_message = 100\n[delimiter]\n";
    {
        // The wording is being changed in core/ right now (uncommitted work when this was
        // written): either exact text is accepted until that lands; then drop the old one.
        const std::string e = error_of(h);
        CAPTURE(e);
        CHECK((e == "t.toml:3:1: delimiter.text: is required (or hex); allowed: 1-16 ASCII characters, or hex = "
                    "1-16 bytes as hex digits" ||
               e == "t.toml:3:1: delimiter.text: is required (or hex); allowed: 1 to 16 bytes as ASCII text, or hex "
                    "digits"));
    }
    CHECK(error_of(h + "text = \"\"\n") == "t.toml:4:8: delimiter.text: 0 bytes is not allowed; allowed: 1 to 16 bytes");
    CHECK(error_of(h + "text = \"abcdefghijklmnopq\"\n") ==
          "t.toml:4:8: delimiter.text: 17 bytes is not allowed; allowed: 1 to 16 bytes");
    CHECK(error_of(h + "hex = \"\"\n") == "t.toml:4:7: delimiter.hex: 0 bytes is not allowed; allowed: 1 to 16 bytes");
    CHECK(error_of(h + "hex = \"000102030405060708090a0b0c0d0e0f10\"\n") ==
          "t.toml:4:7: delimiter.hex: 17 bytes is not allowed; allowed: 1 to 16 bytes");
    CHECK(error_of(h + "text = \"a\"\nhex = \"0a\"\n") ==
          "t.toml:5:7: delimiter.hex: give either text or hex, not both");
    CHECK(error_of(h + "hex = \"0g\"\n") == "t.toml:4:7: delimiter.hex: \"0g\" is not hex; allowed: digits 0-9, a-f");
    CHECK(error_of(h + "hex = \"0a0\"\n") == "t.toml:4:7: delimiter.hex: needs an even number of hex digits");
    CHECK(error_of(h + "text = \"\xc3\xa9\"\n") ==
          "t.toml:4:8: delimiter.text: must be ASCII without NUL; use hex = \"...\" for other bytes");
    CHECK(error_of(h + "text = \"a\\u0000\"\n") ==
          "t.toml:4:8: delimiter.text: must be ASCII without NUL; use hex = \"...\" for other bytes");
    CHECK(error_of(h + "text = 10\n") == "t.toml:4:8: delimiter.text: must be a string");
}

TEST_CASE("invalid: summary and reference") {
    const std::string tail = "max_message = 100\n[delimiter]\ntext = \"a\"\n";
    CHECK(error_of("name = \"x\"\nsummary = \"a\\nb\"\n" + tail) ==
          "t.toml:2:11: summary: must be one line of printable text (found a control character)");
    CHECK(error_of("name = \"x\"\nsummary = \"a\\tb\"\n" + tail) ==
          "t.toml:2:11: summary: must be one line of printable text (found a control character)");
    CHECK(error_of("name = \"x\"\nsummary = \"" + std::string(201, 's') + "\"\n" + tail) ==
          "t.toml:2:11: summary: is longer than 200 characters");
    CHECK(error_of("name = \"x\"\nsummary = 1\n" + tail) == "t.toml:2:11: summary: must be a string");
    CHECK(error_of("name = \"x\"\nreference = \"a\\u007fb\"\n" + tail) ==
          "t.toml:2:13: reference: must be one line of printable text (found a control character)");
    CHECK(error_of("name = \"x\"\nreference = \"" + std::string(201, 'r') + "\"\n" + tail) ==
          "t.toml:2:13: reference: is longer than 200 characters");
}

TEST_CASE("find_description: a path as given, a bare name from the description directories, or where it looked") {
    using sockframe::testing::ScopedEnv;
    using sockframe::testing::TempDir;
    const std::string parsers = source_dir() + "/parsers";
    {
        ScopedEnv unset("SOCKFRAME_PARSERS_DIR", std::nullopt);
        // This test runs from the build directory: the source tree's parsers/ are the shipped ones.
        REQUIRE(description_directories() == std::vector<std::string>{parsers});
        CHECK(find_description("dns") == parsers + "/dns.toml");
        CHECK(load_description_file("git-pkt-line").name == "git-pkt-line");
        CHECK(find_description("no/such.toml") == "no/such.toml");  // a path is not searched for
        CHECK(find_description("other.toml") == "other.toml");
        try {
            find_description("dnss");
            FAIL("an unknown name was found");
        } catch (const DescriptionNotFound& e) {
            CHECK(e.searched() == std::vector<std::string>{parsers + "/dnss.toml"});
            CHECK(std::string(e.what()).find("looked for " + parsers + "/dnss.toml") != std::string::npos);
        }
    }
    TempDir tmp;
    tmp.file("dns.toml", "name = \"mine\"\nmax_message = 99\n[length]\nwidth = 2\n");
    ScopedEnv dirs("SOCKFRAME_PARSERS_DIR", (tmp.path / "empty").string() + ":" + tmp.path.string() + ":" + parsers);
    CHECK(description_directories().size() == 3);
    CHECK(load_description_file("dns").name == "mine");                   // the first directory that has it
    CHECK(find_description("kafka") == parsers + "/kafka.toml");           // later directories too
    CHECK_THROWS_AS(find_description("nothing-here"), DescriptionNotFound);
}

TEST_CASE("summarize: the rule in a few words, for each kind of rule") {
    auto rule = [](const std::string& body) { return summarize(parse("name = \"x\"\nmax_message = 1000\n" + body)); };
    CHECK(rule("[length]\nwidth = 2\n") == "u16be@0");
    CHECK(rule("[length]\noffset = 3\nwidth = 4\nbyte_order = \"little\"\n") == "u32le@3");
    CHECK(rule("[length]\nwidth = 1\nmask = 0x7f\nscale = 4\n") == "u8@0 &0x7f x4");
    CHECK(rule("[delimiter]\ntext = \"\\r\\n\"\n") == "delimiter \"\\r\\n\"");
    CHECK(summarize(sockframe::testing::shipped("git-pkt-line")) == "4 hex digits@0");
    CHECK(summarize(sockframe::testing::shipped("mqtt")) == "varint@1 (<= 4 B)");
    CHECK(summarize(sockframe::testing::shipped("netstring")) == "decimal@0 to \":\"");
    CHECK(summarize(sockframe::testing::shipped("ldap")) == "BER length@1");
    CHECK(summarize(sockframe::testing::shipped("http2")) == "24 B preface, then u24be@0");
    CHECK(summarize(sockframe::testing::shipped("postgresql")) == "first u32be@0, then u32be@1");
    CHECK(summarize(sockframe::testing::shipped("websocket")) == "u8@1 &0x7f (flag/escape widths)");
}
