// The routing part of a description ([route]): where a message's routing key is
// and which rules decide what happens to the message. A key is a short program
// of steps that move a cursor through the message (skip, enter a length-prefixed
// field, find a type-length-value entry or a NUL-terminated name) and end by
// taking bytes. The same steps serve a key in every message (`key`) and a key in
// the stream's first message (`first_key`: TLS SNI, PostgreSQL database, MQTT
// client id). The evaluator (core/description/route_eval.cpp) and the generated
// BPF C (core/codegen/route_codegen.cpp) implement exactly these semantics; the
// differential tests hold them to each other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

// An integer as written in a message. Big-endian unless "le"; `varint` is the
// variable byte integer of MQTT (LEB128: 7 bits per byte, low group first,
// 0x80 = more), at most 4 bytes.
enum class IntType : uint8_t { u8, u16, u24, u32, u64, u16le, u24le, u32le, u64le, varint };

// Bytes of a fixed-width type (varint: 4, the most it may take).
uint32_t int_width(IntType t);
bool int_little_endian(IntType t);
const char* int_type_name(IntType t);  // "u16", "varint", ...

// A test on an integer: the value at `at` (rules: bytes from the message start;
// key steps: bytes from the cursor, may be negative), masked, compared.
// For `size` tests the value is the message's size and at/type/mask are unused.
struct ValueTest {
    int64_t at = 0;
    IntType type = IntType::u8;
    std::optional<uint64_t> mask;
    std::vector<uint64_t> in;          // equals = x is in = [x]; empty: no set test
    std::optional<uint64_t> min, max;  // inclusive bounds

    bool matches(uint64_t value) const;
};

// The value of an integer field at a fixed offset of the message.
struct FieldRef {
    uint32_t at = 0;
    IntType type = IntType::u8;
};

// ---- key steps -------------------------------------------------------------------
// A cursor (pos) and the end of the region it may read (end, at first the
// message's end). A step that cannot be carried out (a read past the end, an
// entry not found, an expectation not met) means the message has no key.

// pos += bytes, an integer of `type` (its own size), or the value of `field`.
struct SkipStep {
    std::variant<uint64_t, IntType, FieldRef> amount;
};
// A length of type `length` at pos, then that many bytes: pos moves past them all.
struct SkipPrefixedStep {
    IntType length;
};
// A length of type `length` at pos: pos moves to the bytes it counts, end to their end.
struct EnterPrefixedStep {
    IntType length;
};
// Entries of (type, length, value) from pos to end: pos/end narrow to the value
// of the first entry whose type is `value`. At most kMaxTlvEntries entries.
struct FindTlvStep {
    uint64_t value = 0;
    IntType type = IntType::u16;
    IntType length = IntType::u16;
};
// NUL-terminated name, NUL-terminated value pairs from pos, ended by an empty
// name: pos moves to the value after `name`. At most kMaxScanBytes bytes scanned.
struct FindNameStep {
    std::string name;
};
// The test holds (at is relative to pos), else no key. pos does not move.
struct ExpectStep {
    ValueTest test;
};

struct KeyStep {
    std::variant<SkipStep, SkipPrefixedStep, EnterPrefixedStep, FindTlvStep, FindNameStep, ExpectStep> op;
    std::optional<ValueTest> when;  // the step runs only when this holds (at relative to pos)
    uint32_t line = 0, column = 0;  // where it is written, for explanations and generated comments
};

// The key itself, taken at pos.
enum class TakeKind : uint8_t {
    bytes,     // `count` bytes
    field,     // as many bytes as `field` says
    rest,      // up to the end of the region
    cstring,   // up to (not including) the next NUL
    dns_name,  // a DNS name in wire form (labels, length octets included, through the root label)
    prefixed,  // a length of type `length`, then the bytes it counts
};
struct KeyTake {
    TakeKind kind = TakeKind::rest;
    uint64_t count = 0;
    FieldRef field;
    IntType length = IntType::u16;
    bool ignore_case = false;   // ASCII A-Z folded to a-z (RFC 4343 for DNS names)
    uint32_t max_length = 255;  // a longer key is no key
    uint32_t line = 0, column = 0;
};

struct RouteKey {
    std::vector<KeyStep> steps;
    KeyTake take;
    uint32_t line = 0;  // of `key =` / `first_key =`
};

// Bounds that keep the work per message small, in the evaluator and in BPF alike.
inline constexpr uint32_t kMaxTlvEntries = 64;       // find_tlv looks at this many entries
inline constexpr uint32_t kMaxScanBytes = 65536;     // find_name looks at this many bytes
inline constexpr uint32_t kMaxDnsLabels = 128;       // a DNS name has at most 127 labels + the root
inline constexpr uint32_t kMaxKeyLength = 4096;      // max_length of a per-message key
inline constexpr uint32_t kMaxFirstKeyLength = 256;  // of a first-message key (SF_KEY_MAX bytes copied in BPF)

// ---- rules -----------------------------------------------------------------------
enum class RouteAction : uint8_t { pass = 0, drop = 1, group = 2 };

// Matches when every condition given holds; none given matches every message.
struct RouteRule {
    std::string name;                // optional; "" shows as "rule N"
    std::optional<ValueTest> field;  // at = bytes from the message start
    std::optional<ValueTest> size;   // the message's size
    std::optional<bool> has_key;     // whether the message carries a well-formed key
    RouteAction action = RouteAction::pass;
    uint32_t group = 0;                // action == group: index into Route::groups
    uint32_t line = 0, last_line = 0;  // of [[route.rule]] and of its last key
};

struct Route {
    std::optional<RouteKey> key;        // in every message
    std::optional<RouteKey> first_key;  // in the stream's first message
    std::vector<RouteRule> rules;       // the first that matches decides; none: pass
    std::vector<std::string> groups;    // backend group names, in order of first appearance
    uint32_t line = 0;                  // of [route]

    bool has_key() const { return key.has_value(); }
    bool has_first_key() const { return first_key.has_value(); }
};

}  // namespace sockframe

#pragma GCC visibility pop
