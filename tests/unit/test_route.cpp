// The route language ([route]): reading, errors with their exact text and
// position, explanations, and the userspace evaluator on hand-made messages.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <cctype>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/route.hpp>

#include "sockframe_hash.h"

using namespace sockframe;

namespace {

const std::string kHead = "name = \"x\"\nmax_message = 1000\n[length]\nwidth = 2\nheader = 2\n";

Description parse(const std::string& text) {
    return parse_description(text, "t.toml");
}

std::string error_of(const std::string& text) {
    try {
        parse(text);
    } catch (const DescriptionError& e) {
        return e.what();
    }
    FAIL("description was accepted: " << text);
    return "";
}

std::string source_dir() {
    const char* s = std::getenv("SOCKFRAME_SOURCE_DIR");
    REQUIRE_MESSAGE(s != nullptr, "SOCKFRAME_SOURCE_DIR is not set");
    return s;
}

std::vector<uint8_t> bytes(std::initializer_list<int> b) {
    std::vector<uint8_t> v;
    for (int x : b) v.push_back(static_cast<uint8_t>(x));
    return v;
}

uint64_t fnv(std::string_view s) {
    uint64_t h = SF_FNV_OFFSET;
    for (unsigned char c : s) h = (h ^ c) * SF_FNV_PRIME;
    return h;
}

// A DNS-over-TCP query for `name` ("example.com"), QDCOUNT = qd.
std::vector<uint8_t> dns_query(const std::string& name, int qd = 1) {
    std::vector<uint8_t> m = {0, 0, 0x12, 0x34, 0x01, 0x00, 0, static_cast<uint8_t>(qd), 0, 0, 0, 0, 0, 0};
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        std::string label = name.substr(start, dot - start);
        if (!label.empty()) {
            m.push_back(static_cast<uint8_t>(label.size()));
            m.insert(m.end(), label.begin(), label.end());
        }
        start = dot + 1;
    }
    m.push_back(0);
    m.insert(m.end(), {0, 1, 0, 1});  // QTYPE A, QCLASS IN
    m[0] = static_cast<uint8_t>((m.size() - 2) >> 8);
    m[1] = static_cast<uint8_t>(m.size() - 2);
    return m;
}

// A memcached binary request header + extras + key + value.
std::vector<uint8_t> memcached(uint8_t opcode, const std::string& extras, const std::string& key,
                               const std::string& value) {
    std::vector<uint8_t> m(24, 0);
    m[0] = 0x80;
    m[1] = opcode;
    m[2] = static_cast<uint8_t>(key.size() >> 8);
    m[3] = static_cast<uint8_t>(key.size());
    m[4] = static_cast<uint8_t>(extras.size());
    uint32_t body = static_cast<uint32_t>(extras.size() + key.size() + value.size());
    for (int i = 0; i < 4; i++) m[8 + i] = static_cast<uint8_t>(body >> (24 - 8 * i));
    m.insert(m.end(), extras.begin(), extras.end());
    m.insert(m.end(), key.begin(), key.end());
    m.insert(m.end(), value.begin(), value.end());
    return m;
}

}  // namespace

TEST_CASE("shipped keys: DNS question name, letter case ignored") {
    Description d = load_description_file(source_dir() + "/parsers/dns.toml");
    REQUIRE(d.route);
    REQUIRE(d.route->has_key());
    CHECK_FALSE(d.has_first_message_key());
    RouteDecision a = decide_route(d, dns_query("example.com"));
    RouteDecision b = decide_route(d, dns_query("EXAMPLE.com"));
    RouteDecision c = decide_route(d, dns_query("example.org"));
    CHECK(a.has_key);
    CHECK(a.action == RouteAction::pass);
    CHECK(a.rule == kNoRule);
    CHECK(a.key_hash == fnv(std::string("\x07") + "example\x03" + "com" + std::string(1, '\0')));
    CHECK(b.key_hash == a.key_hash);
    CHECK(c.key_hash != a.key_hash);
    CHECK_FALSE(decide_route(d, dns_query("example.com", 0)).has_key);  // no question counted
    auto trunc = dns_query("example.com");
    trunc.resize(20);
    CHECK_FALSE(decide_route(d, trunc).has_key);
    auto pointer = dns_query("example.com");
    pointer[14] = 0xc0;  // a compression pointer is not followed
    CHECK_FALSE(decide_route(d, pointer).has_key);
    KeyLookup k = find_key(*d.route->key, dns_query("WWW.Example.COM"));
    REQUIRE(k.found);
    CHECK(k.offset == 14);
    CHECK(k.bytes == std::string("\x03www\x07"
                                 "example\x03"
                                 "com",
                                 16) +
                         std::string(1, '\0'));
}

TEST_CASE("shipped keys: memcached key after the extras, length from the header") {
    Description d = load_description_file(source_dir() + "/parsers/memcached-binary.toml");
    auto set = memcached(0x01, std::string(8, '\x01'), "user:42", "hello");
    auto get = memcached(0x00, "", "user:42", "");
    auto noop = memcached(0x0a, "", "", "");
    RouteDecision a = decide_route(d, set), b = decide_route(d, get);
    CHECK(a.has_key);
    CHECK(a.key_hash == fnv("user:42"));
    CHECK(b.key_hash == a.key_hash);
    CHECK_FALSE(decide_route(d, noop).has_key);  // no key
    KeyLookup k = find_key(*d.route->key, set);
    CHECK(k.offset == 32);
    CHECK(k.bytes == "user:42");
    auto bad = set;
    bad[3] = 200;  // key length beyond the message
    k = find_key(*d.route->key, bad);
    CHECK_FALSE(k.found);
    CHECK(k.why == "line 29 (take): 200 bytes from byte 32 run past the end (byte 44)");
}

TEST_CASE("shipped keys: Modbus unit identifier") {
    Description d = load_description_file(source_dir() + "/parsers/modbus-tcp.toml");
    auto m = bytes({0, 1, 0, 0, 0, 6, 0x11, 3, 0, 0x6b, 0, 3});
    RouteDecision r = decide_route(d, m);
    CHECK(r.has_key);
    CHECK(r.key_hash == fnv("\x11"));
    CHECK_FALSE(decide_route(d, bytes({0, 1, 0, 0, 0, 6})).has_key);
}

TEST_CASE("rules: the first that matches decides; groups in order of first appearance") {
    Description d =
        parse(kHead +
              "[route]\nkey = [{ skip = 2 }, { take = 1 }]\n"
              "[[route.rule]]\nname = \"admin\"\nfield = { at = 3, type = \"u8\", in = [7, 8] }\ngroup = \"b\"\n"
              "[[route.rule]]\nsize = { min = 10 }\naction = \"drop\"\n"
              "[[route.rule]]\nfield = { at = 2, type = \"u16le\", min = 0x100, max = 0x1ff }\ngroup = \"a\"\n"
              "[[route.rule]]\nhas_key = false\naction = \"drop\"\n"
              "[[route.rule]]\nfield = { at = 2, type = \"u8\", mask = 0xf0, equals = 0x30 }\ngroup = \"b\"\n");
    REQUIRE(d.route);
    CHECK(d.route->groups == std::vector<std::string>{"b", "a"});
    auto decide = [&](std::vector<uint8_t> m) { return decide_route(d, m); };
    RouteDecision r = decide(bytes({0, 2, 9, 8}));
    CHECK(r.action == RouteAction::group);
    CHECK(r.rule == 0);
    CHECK(r.group == 0);
    r = decide(bytes({0, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0}));
    CHECK(r.action == RouteAction::drop);
    CHECK(r.rule == 1);
    r = decide(bytes({0, 2, 0x20, 0x01}));
    CHECK(r.action == RouteAction::group);
    CHECK(r.rule == 2);
    CHECK(r.group == 1);
    r = decide(bytes({0, 2}));  // no key: rule 2's field is not there either
    CHECK(r.action == RouteAction::drop);
    CHECK(r.rule == 3);
    CHECK_FALSE(r.has_key);
    r = decide(bytes({0, 2, 0x3a, 0x05}));
    CHECK(r.rule == 4);
    r = decide(bytes({0, 2, 0x4a, 0x05}));
    CHECK(r.action == RouteAction::pass);
    CHECK(r.rule == kNoRule);
    CHECK(r.has_key);
}

TEST_CASE("a description without [route] passes everything") {
    Description d = parse(kHead);
    CHECK_FALSE(d.route);
    RouteDecision r = decide_route(d, bytes({0, 1, 2}));
    CHECK(r.action == RouteAction::pass);
    CHECK(r.rule == kNoRule);
    CHECK_FALSE(r.has_key);
    CHECK_FALSE(first_message_key(d, bytes({0, 1, 2})));
}

TEST_CASE("errors name the position, the key and what is allowed") {
    CHECK(error_of(kHead + "[route]\nkey = [{ skip = 2 }, { take = \"sni\" }]\n") ==
          "t.toml:7:31: route.key[1].take: \"sni\" is not a take kind: the TLS server name is written as steps through "
          "the ClientHello: see first_key in parsers/tls-records.toml");
    CHECK(error_of(kHead + "[route]\nkey = [{ skip = \"u9\" }, { take = 1 }]\n") ==
          "t.toml:7:17: route.key[0].skip: \"u9\" is not allowed; allowed: \"u8\", \"u16\", \"u24\", \"u32\", \"u64\" "
          "(big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT variable byte integer, 1-4 "
          "bytes)");
    CHECK(error_of(kHead + "[route]\nkey = [{ take = 1 }, { skip = 2 }]\n") ==
          "t.toml:7:17: route.key[0].take: must be the last step: the key is taken where the steps end");
    CHECK(error_of(kHead + "[route]\nkey = [{ skip = 2000 }, { take = 1 }]\n") ==
          "t.toml:7:17: route.key[0].skip: the key can never be found: the steps need at least 2000 bytes, and no "
          "message is longer than 1000");
    CHECK(error_of(kHead + "[route]\nkey = [{ find_text = \"Host:\" }, { take = 1 }]\n") ==
          "t.toml:7:22: route.key[0].find_text: cannot be a key step: a key found by searching text (an HTTP Host "
          "header, a STOMP destination, an SMTP recipient) would need a scan of text of any "
          "length for a pattern in every message, more than a bounded kernel program can do per message; keys are "
          "found by offsets, lengths, type-length-value entries and NUL-terminated names");
    CHECK(error_of(kHead +
                   "[route]\n[[route.rule]]\nfield = { at = 3, type = \"u8\", equals = 300 }\naction = \"drop\"\n") ==
          "t.toml:8:41: route.rule[0].field.equals: 300 does not fit in u8; allowed: an integer from 0 to 255");
    CHECK(error_of(kHead + "[route]\n[[route.rule]]\naction = \"reject\"\n") ==
          "t.toml:8:10: route.rule[0].action: \"reject\" is not allowed; allowed: action = \"drop\" (counted) or "
          "\"pass\", or group = \"NAME\" (route to that backend group)");
    CHECK(error_of(kHead + "[route]\n[[route.rule]]\naction = \"pass\"\n[[route.rule]]\naction = \"drop\"\n") ==
          "t.toml:9:1: route.rule[1]: can never match: rule 0 (line 7) has no conditions and matches every message "
          "first");
}

TEST_CASE("explain says the key and the rules in words") {
    Description d = parse(kHead +
                          "[route]\nkey = [{ skip = 2 }, { take = { at = 0, type = \"u16\" } }]\n"
                          "[[route.rule]]\nfield = { at = 2, type = \"u8\", in = [1, 2] }\ngroup = \"small\"\n");
    std::string e = explain(d);
    CHECK(e.find("Routing key of every message (route.key, line 7):\n"
                 "  1. (line 7) skip 2 bytes.\n"
                 "  2. (line 7) take as many bytes as the u16 at byte 0 says; at most 255 bytes.\n") !=
          std::string::npos);
    CHECK(e.find("  rule 0 (line 8): when the u8 at byte 2 is one of 1, 2: route it to backend group \"small\".\n") !=
          std::string::npos);
}

// ---- docs/language.md: every example of the [route] section ------------------------
namespace {

struct Block {
    std::string lang, text;
};

std::vector<Block> route_section_blocks() {
    std::ifstream in(source_dir() + "/docs/language.md");
    std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t at = doc.find("\n## `[route]`");
    REQUIRE_MESSAGE(at != std::string::npos, "docs/language.md has no [route] section");
    std::vector<Block> out;
    while ((at = doc.find("\n```", at)) != std::string::npos) {
        size_t eol = doc.find('\n', at + 1);
        size_t close = doc.find("\n```", eol);
        REQUIRE(close != std::string::npos);
        out.push_back({doc.substr(at + 4, eol - at - 4), doc.substr(eol + 1, close - eol)});
        at = close + 4;
    }
    return out;
}

// "(line 12) " and "line 12" removed: the docs and parsers/ number lines differently.
// (Not <regex>: GCC 12 with -fsanitize warns maybe-uninitialized inside it.)
std::string without_lines(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        bool paren = s.compare(i, 6, "(line ") == 0;
        size_t digits = i + (paren ? 6 : 5);
        if ((paren || s.compare(i, 5, "line ") == 0) && digits < s.size() && std::isdigit((unsigned char)s[digits])) {
            size_t end = digits;
            while (end < s.size() && std::isdigit((unsigned char)s[end])) end++;
            if (!paren) {
                out += "line";
                i = end;
                continue;
            }
            if (s.compare(end, 2, ") ") == 0) {
                i = end + 2;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

}  // namespace

TEST_CASE("docs/language.md: every [route] example parses, and says or fails as shown") {
    std::vector<Block> blocks = route_section_blocks();
    size_t toml = 0, outputs = 0;
    for (size_t i = 0; i < blocks.size(); i++) {
        if (blocks[i].lang != "toml") continue;
        const std::string& text = blocks[i].text;
        CAPTURE(text);
        toml++;
        std::string file = "example.toml";
        if (text.rfind("# ", 0) == 0) file = text.substr(2, text.find('\n') - 2);
        const Block* shown = i + 1 < blocks.size() && blocks[i + 1].lang.empty() &&
                                     blocks[i + 1].text.rfind("$ sockframe check ", 0) == 0
                                 ? &blocks[i + 1]
                                 : nullptr;
        std::string expected;
        if (shown) {
            outputs++;
            size_t eol = shown->text.find('\n');
            std::string shown_file = shown->text.substr(18, eol - 18);
            if (file != "example.toml") CHECK(shown_file == file);
            file = shown_file;
            expected = shown->text.substr(eol + 1);
        }
        if (shown && expected.rfind("sockframe: ", 0) == 0) {
            try {
                parse_description(text, file);
                FAIL("the example parses, but the docs show an error");
            } catch (const DescriptionError& e) {
                CHECK(std::string("sockframe: ") + e.what() + "\n" == expected);
            }
            continue;
        }
        Description d = parse_description(text, file);
        CHECK(d.route);
        if (shown) CHECK_MESSAGE(explain(d).find(expected) != std::string::npos, explain(d));
        // An example that says it is a shipped description's route must be that route.
        for (const char* name : {"modbus-tcp", "memcached-binary", "dns", "tls-records", "postgresql", "mqtt"}) {
            if (d.name != name && !(d.name == "dns-tcp" && std::string(name) == "dns")) continue;
            Description shipped = load_description_file(source_dir() + "/parsers/" + name + ".toml");
            REQUIRE(shipped.route);
            CHECK(without_lines(explain(d).substr(explain(d).find("Routing key"))) ==
                  without_lines(explain(shipped).substr(explain(shipped).find("Routing key"))));
        }
    }
    CHECK(toml >= 9);
    CHECK(outputs >= 4);
}

TEST_CASE("a ClientHello fragmented over two records has no key, and the reason says so") {
    Description d = load_description_file(source_dir() + "/parsers/tls-records.toml");
    std::ifstream in(source_dir() + "/tests/differential/route_corpus/tls-records--split-clienthello-first-record.bin",
                     std::ios::binary);
    std::vector<uint8_t> m((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(m.size() == 125);
    KeyLookup k = find_key(*d.route->first_key, m);
    CHECK_FALSE(k.found);
    CHECK(k.why == "line 34 (enter_prefixed): the 312 bytes counted at byte 6 run past the end (byte 125)");
    CHECK_FALSE(first_message_key(d, m));
}

TEST_CASE("every route mistake: exact text and position") {
    struct Case {
        const char* route;  // appended to a valid framing head (lines 1-4)
        const char* error;
    };
    const Case cases[] = {
        {"[route]\n",
         "t.toml:5:1: route: is empty; allowed: key = [steps], first_key = [steps] and [[route.rule]] tables (at least "
         "one)"},
        {"[route]\nkey = 3\n",
         "t.toml:6:7: route.key: must be an array of steps, e.g. key = [ { skip = 6 }, { take = 1 } ], the last one a "
         "take"},
        {"[route]\nkey = []\n",
         "t.toml:6:7: route.key: must be an array of steps, e.g. key = [ { skip = 6 }, { take = 1 } ], the last one a "
         "take"},
        {"[route]\nkey = [1, 2]\n",
         "t.toml:6:7: route.key: must be an array of steps, e.g. key = [ { skip = 6 }, { take = 1 } ], the last one a "
         "take"},
        {"[route]\nkeys = []\n", "t.toml:6:1: route.keys: unknown key; allowed keys: key, first_key, rule"},
        {"[route]\nkey = [{ skip = 1, take = 2 }]\n",
         "t.toml:6:27: route.key[0].take: give one action per step (found skip and take); allowed: one of skip, "
         "skip_prefixed, enter_prefixed, find_tlv, find_name, expect, take, take_prefixed"},
        {"[route]\nkey = [{ }, { take = 2 }]\n",
         "t.toml:6:8: route.key[0]: a step needs one action; allowed: skip, skip_prefixed, enter_prefixed, find_tlv, "
         "find_name, expect, take, take_prefixed"},
        {"[route]\nkey = [{ skip = 1 }]\n",
         "t.toml:6:8: route.key[0]: the last step must take the key; allowed: take or take_prefixed"},
        {"[route]\nkey = [{ skip = 1, type = \"u8\" }, { take = 2 }]\n",
         "t.toml:6:20: route.key[0].type: unknown key; allowed keys: skip, when"},
        {"[route]\nkey = [{ skip = 0 }, { take = 2 }]\n",
         "t.toml:6:17: route.key[0].skip: 0 is out of range; allowed: a byte count (an integer from 1 to 1073741824), "
         "an integer type (\"u8\", \"u16\", \"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", "
         "\"u64le\" or \"varint\" (MQTT variable byte integer, 1-4 bytes)) to skip one such integer, or a field { at = "
         "OFFSET, type = \"u8\" } whose value is the count"},
        {"[route]\nkey = [{ skip = -1 }, { take = 2 }]\n",
         "t.toml:6:17: route.key[0].skip: -1 is out of range; allowed: a byte count (an integer from 1 to 1073741824), "
         "an integer type (\"u8\", \"u16\", \"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", "
         "\"u64le\" or \"varint\" (MQTT variable byte integer, 1-4 bytes)) to skip one such integer, or a field { at = "
         "OFFSET, type = \"u8\" } whose value is the count"},
        {"[route]\nkey = [{ skip = 1.5 }, { take = 2 }]\n",
         "t.toml:6:17: route.key[0].skip: allowed: a byte count (an integer from 1 to 1073741824), an integer type "
         "(\"u8\", \"u16\", \"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or "
         "\"varint\" (MQTT variable byte integer, 1-4 bytes)) to skip one such integer, or a field { at = OFFSET, type "
         "= \"u8\" } whose value is the count"},
        {"[route]\nkey = [{ skip = { at = 4 } }, { take = 2 }]\n",
         "t.toml:6:17: route.key[0].skip.type: is required; allowed: \"u8\", \"u16\", \"u24\", \"u32\", \"u64\" "
         "(big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT variable byte integer, 1-4 "
         "bytes)"},
        {"[route]\nkey = [{ skip = { type = \"u8\" } }, { take = 2 }]\n",
         "t.toml:6:17: route.key[0].skip.at: is required; allowed: an integer from 0 to 65535 (bytes from the message "
         "start)"},
        {"[route]\nkey = [{ skip = { at = 999, type = \"u16\" } }, { take = 2 }]\n",
         "t.toml:6:24: route.key[0].skip.at: the field ends beyond byte 1000, the largest message: no message holds "
         "it; allowed: an integer from 0 to 999"},
        {"[route]\nkey = [{ skip = { at = 1, type = \"u8\", x = 1 } }, { take = 2 }]\n",
         "t.toml:6:40: route.key[0].skip.x: unknown key; allowed keys: at, type"},
        {"[route]\nkey = [{ skip_prefixed = 2 }, { take = 2 }]\n",
         "t.toml:6:26: route.key[0].skip_prefixed: must be a string; allowed: \"u8\", \"u16\", \"u24\", \"u32\", "
         "\"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT variable byte integer, "
         "1-4 bytes)"},
        {"[route]\nkey = [{ find_tlv = 0, length = \"u16\" }, { take = 2 }]\n",
         "t.toml:6:8: route.key[0].type: is required: the integer type of each entry's type; allowed: \"u8\", \"u16\", "
         "\"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT "
         "variable byte integer, 1-4 bytes)"},
        {"[route]\nkey = [{ find_tlv = 0, type = \"u16\" }, { take = 2 }]\n",
         "t.toml:6:8: route.key[0].length: is required: the integer type of each entry's length; allowed: \"u8\", "
         "\"u16\", \"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" "
         "(MQTT variable byte integer, 1-4 bytes)"},
        {"[route]\nkey = [{ find_tlv = 300, type = \"u8\", length = \"u16\" }, { take = 2 }]\n",
         "t.toml:6:21: route.key[0].find_tlv: 300 is out of range; allowed: an integer from 0 to 255 (the entry type "
         "looked for, a u8)"},
        {"[route]\nkey = [{ find_name = \"\" }, { take = \"cstring\" }]\n",
         "t.toml:6:22: route.key[0].find_name: 0 characters is not allowed; allowed: 1 to 64 printable ASCII "
         "characters (the name before the NUL)"},
        {"[route]\nkey = [{ find_name = 5 }, { take = \"cstring\" }]\n",
         "t.toml:6:22: route.key[0].find_name: must be a string; allowed: 1 to 64 printable ASCII characters (the name "
         "before the NUL)"},
        {"[route]\nkey = [{ find_name = \"a\\tb\" }, { take = \"cstring\" }]\n",
         "t.toml:6:22: route.key[0].find_name: \"a\\tb\" is not allowed; allowed: 1 to 64 printable ASCII characters "
         "(the name before the NUL)"},
        {"[route]\nkey = [{ expect = 256 }, { take = 2 }]\n",
         "t.toml:6:19: route.key[0].expect: 256 does not fit in u8; allowed: an integer from 0 to 255"},
        {"[route]\nkey = [{ expect = \"x\" }, { take = 2 }]\n",
         "t.toml:6:19: route.key[0].expect: allowed: an integer (equals), an array of 1 to 64 integers (in), or a "
         "table { at, type, mask, equals | in | min | max }"},
        {"[route]\nkey = [{ expect = [] }, { take = 2 }]\n",
         "t.toml:6:19: route.key[0].expect: allowed: an integer (equals), an array of 1 to 64 integers (in), or a "
         "table { at, type, mask, equals | in | min | max }"},
        {"[route]\nkey = [{ expect = [1, 1] }, { take = 2 }]\n", "t.toml:6:23: route.key[0].expect: 1 is given twice"},
        {"[route]\nkey = [{ expect = 1, mask = 0x100 }, { take = 2 }]\n",
         "t.toml:6:29: route.key[0].mask: 0x100 does not fit; allowed: a non-zero integer that fits in u8"},
        {"[route]\nkey = [{ expect = 0x10, mask = 0x0f }, { take = 2 }]\n",
         "t.toml:6:19: route.key[0].expect: 0x10 has bits outside mask 0xf: the test can never hold; allowed: values "
         "within the mask"},
        {"[route]\nkey = [{ expect = 1, at = 70000 }, { take = 2 }]\n",
         "t.toml:6:27: route.key[0].at: 70000 is out of range; allowed: an integer from -65535 to 65535 (bytes from "
         "the cursor; negative looks back)"},
        {"[route]\nkey = [{ expect = { equals = 1 }, at = 1 }, { take = 2 }]\n",
         "t.toml:6:40: route.key[0].at: give it inside the expect table, not beside it"},
        {"[route]\nkey = [{ expect = { at = 1 } }, { take = 2 }]\n",
         "t.toml:6:19: route.key[0].expect: needs a test: give one of equals = N, in = [N, ...], or min = N and/or max "
         "= N"},
        {"[route]\nkey = [{ expect = { equals = 1, in = [2] } }, { take = 2 }]\n",
         "t.toml:6:38: route.key[0].expect.in: give one of equals = N, in = [N, ...], or min = N and/or max = N, not "
         "both equals and in"},
        {"[route]\nkey = [{ expect = { equals = 1, min = 0 } }, { take = 2 }]\n",
         "t.toml:6:39: route.key[0].expect.min: give one of equals = N, in = [N, ...], or min = N and/or max = N, not "
         "a mix"},
        {"[route]\nkey = [{ expect = { min = 5, max = 4 } }, { take = 2 }]\n",
         "t.toml:6:36: route.key[0].expect.max: 4 is below min = 5: the test can never hold"},
        {"[route]\nkey = [{ expect = { equals = [1] } }, { take = 2 }]\n",
         "t.toml:6:30: route.key[0].expect.equals: must be an integer; use in = [...] for a set"},
        {"[route]\nkey = [{ expect = { in = 1 } }, { take = 2 }]\n",
         "t.toml:6:26: route.key[0].expect.in: must be an array of 1 to 64 integers; use equals = N for one value"},
        {"[route]\nkey = [{ expect = { type = \"u9\", equals = 1 } }, { take = 2 }]\n",
         "t.toml:6:28: route.key[0].expect.type: \"u9\" is not allowed; allowed: \"u8\", \"u16\", \"u24\", \"u32\", "
         "\"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT variable byte integer, "
         "1-4 bytes)"},
        {"[route]\nkey = [{ expect = { bogus = 1, equals = 1 } }, { take = 2 }]\n",
         "t.toml:6:21: route.key[0].expect.bogus: unknown key; allowed keys: at, type, mask, equals, in, min, max"},
        {"[route]\nkey = [{ take = 0 }]\n",
         "t.toml:6:17: route.key[0].take: 0 is out of range; allowed: an integer from 1 to 255 (at most max_length = "
         "255)"},
        {"[route]\nkey = [{ take = 300 }]\n",
         "t.toml:6:17: route.key[0].take: 300 is out of range; allowed: an integer from 1 to 255 (at most max_length = "
         "255)"},
        {"[route]\nkey = [{ take = 10, max_length = 5 }]\n",
         "t.toml:6:17: route.key[0].take: 10 is out of range; allowed: an integer from 1 to 5 (at most max_length = "
         "5)"},
        {"[route]\nkey = [{ take = \"rest\", max_length = 5000 }]\n",
         "t.toml:6:38: route.key[0].max_length: 5000 is out of range; allowed: an integer from 1 to 4096"},
        {"[route]\nkey = [{ take = \"rest\", ignore_case = 1 }]\n",
         "t.toml:6:39: route.key[0].ignore_case: must be true or false"},
        {"[route]\nkey = [{ take = \"json\" }]\n",
         "t.toml:6:17: route.key[0].take: \"json\" is not allowed; allowed: a byte count, a length field { at = "
         "OFFSET, type = \"u16\" }, \"rest\" (to the end of the field or message), \"cstring\" (up to a NUL) or "
         "\"dns-name\" (DNS labels in wire form)"},
        {"[route]\nkey = [{ take = \"topic\" }]\n",
         "t.toml:6:17: route.key[0].take: \"topic\" is not a take kind: an MQTT PUBLISH topic is take_prefixed = "
         "\"u16\" after the fixed header; a Kafka topic cannot be a key: it follows the client id in a request body "
         "whose layout depends on api_key and api_version (compact strings and tagged fields in flexible versions), so "
         "no one step sequence finds it in every request"},
        {"[route]\nkey = [{ take = true }]\n",
         "t.toml:6:17: route.key[0].take: allowed: a byte count, a length field { at = OFFSET, type = \"u16\" }, "
         "\"rest\" (to the end of the field or message), \"cstring\" (up to a NUL) or \"dns-name\" (DNS labels in wire "
         "form)"},
        {"[route]\nkey = [{ take_prefixed = \"u9\" }]\n",
         "t.toml:6:26: route.key[0].take_prefixed: \"u9\" is not allowed; allowed: \"u8\", \"u16\", \"u24\", \"u32\", "
         "\"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or \"varint\" (MQTT variable byte integer, "
         "1-4 bytes)"},
        {"[route]\nkey = [{ json_path = \"$.a\" }, { take = 1 }]\n",
         "t.toml:6:22: route.key[0].json_path: cannot be a key step: a key inside a self-describing nested encoding "
         "(JSON, XML, BSON, protobuf, ASN.1 BER) means parsing structure of any depth to find a member (MongoDB's "
         "collection name sits in a BSON document, LDAP's base DN in BER)"},
        {"[route]\nkey = [{ reassemble = true }, { take = 1 }]\n",
         "t.toml:6:23: route.key[0].reassemble: cannot be a key step: a key spanning two messages (a TLS ClientHello "
         "fragmented over two records) is out of reach: a key lies within one message, and such a message has no key"},
        {"[route]\nkey = [{ nth = 2 }, { take = 1 }]\n",
         "t.toml:6:16: route.key[0].nth: cannot be a key step: counted repetition (the Nth element of a list whose "
         "count is in the message, Redis's key as the second bulk string) is not a step; find_tlv walks entries until "
         "a type matches, which covers type-length-value lists"},
        {"[route]\nfirst_key = [{ take = \"rest\", max_length = 300 }]\n",
         "t.toml:6:44: route.first_key[0].max_length: 300 is out of range; allowed: an integer from 1 to 256 (a "
         "first-message key)"},
        {"[route]\n[[route.rule]]\n\n",
         "t.toml:6:1: route.rule[0].action: is required; allowed: action = \"drop\" (counted) or \"pass\", or group = "
         "\"NAME\" (route to that backend group)"},
        {"[route]\nrule = 5\n",
         "t.toml:6:8: route.rule: must be 1 to 64 [[route.rule]] tables, each with conditions (field, size, has_key) "
         "and action = \"drop\" or \"pass\", or group = \"NAME\""},
        {"[route]\n[[route.rule]]\naction = \"drop\"\ngroup = \"a\"\n",
         "t.toml:8:9: route.rule[0].group: give either action or group, not both; allowed: action = \"drop\" (counted) "
         "or \"pass\", or group = \"NAME\" (route to that backend group)"},
        {"[route]\n[[route.rule]]\naction = \"group\"\n",
         "t.toml:7:10: route.rule[0].action: name the group instead: group = \"NAME\""},
        {"[route]\n[[route.rule]]\naction = 1\n",
         "t.toml:7:10: route.rule[0].action: must be a string; allowed: action = \"drop\" (counted) or \"pass\", or "
         "group = \"NAME\" (route to that backend group)"},
        {"[route]\n[[route.rule]]\ngroup = \"A b\"\n",
         "t.toml:7:9: route.rule[0].group: \"A b\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters"},
        {"[route]\n[[route.rule]]\nname = \"x\"\naction = \"drop\"\nsize = { min = 1 }\n[[route.rule]]\nname = "
         "\"x\"\naction = \"drop\"\n",
         "t.toml:11:8: route.rule[1].name: \"x\" names two rules; allowed: a name of its own"},
        {"[route]\n[[route.rule]]\nname = \"Bad Name\"\naction = \"drop\"\n",
         "t.toml:7:8: route.rule[0].name: \"Bad Name\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 "
         "characters"},
        {"[route]\n[[route.rule]]\nhas_key = true\naction = \"drop\"\n",
         "t.toml:7:11: route.rule[0].has_key: needs a key: give route.key = [steps]"},
        {"[route]\nkey = [{ take = 1 }]\n[[route.rule]]\nhas_key = \"yes\"\naction = \"drop\"\n",
         "t.toml:8:11: route.rule[0].has_key: must be true or false"},
        {"[route]\n[[route.rule]]\nfield = 5\naction = \"drop\"\n",
         "t.toml:7:9: route.rule[0].field: must be a table; allowed: { at = OFFSET, type = \"u8\", equals = N } (or in "
         "= [...], min = N, max = N; optional mask)"},
        {"[route]\n[[route.rule]]\nfield = { type = \"u8\", equals = 1 }\naction = \"drop\"\n",
         "t.toml:7:9: route.rule[0].field.at: is required; allowed: an integer from 0 to 65535 (bytes from the message "
         "start)"},
        {"[route]\n[[route.rule]]\nsize = 5\naction = \"drop\"\n",
         "t.toml:7:8: route.rule[0].size: must be a table; allowed: { min = N, max = N } (either or both), { equals = "
         "N } or { in = [...] }"},
        {"[route]\n[[route.rule]]\nsize = { min = 5000 }\naction = \"drop\"\n",
         "t.toml:7:16: route.rule[0].size.min: 5000 is above max_message = 1000: no message has that size; allowed: an "
         "integer from 0 to 1000"},
        {"[route]\n[[route.rule]]\nsize = { at = 1, min = 5 }\naction = \"drop\"\n",
         "t.toml:7:10: route.rule[0].size.at: unknown key; allowed keys: equals, in, min, max"},
        {"[route]\n[[route.rule]]\nfield = { at = 1, type = \"u8\", equals = 1 }\n",
         "t.toml:6:1: route.rule[0].action: is required; allowed: action = \"drop\" (counted) or \"pass\", or group = "
         "\"NAME\" (route to that backend group)"},
        {"[route]\n[[route.rule]]\nfield = { at = 1, type = \"u8\", equals = 1 }\naction = \"drop\"\nextra = 1\n",
         "t.toml:9:1: route.rule[0].extra: unknown key; allowed keys: name, field, size, has_key, action, group"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.route);
        CHECK(error_of("name = \"x\"\nmax_message = 1000\n[length]\nwidth = 2\n" + std::string(c.route)) == c.error);
    }
}
