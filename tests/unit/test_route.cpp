// The route language ([route]): reading, errors with their exact text and
// position, explanations, and the userspace evaluator on hand-made messages.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>
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
