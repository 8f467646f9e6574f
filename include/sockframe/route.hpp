// Routing decisions in userspace: the key of a message, its hash, and the rule
// that decides what happens to it, from the description's [route] section
// (model: route_model.hpp, language: docs/language.md). The generated BPF
// function sf_route_message computes the same decision in the kernel.
//
// Nothing here throws on message bytes: hostile input gives "no key", and the
// work per message is bounded (see kMaxTlvEntries, kMaxScanBytes in route_model.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <sockframe/description.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

inline constexpr uint32_t kNoRule = UINT32_MAX;

struct RouteDecision {
    RouteAction action = RouteAction::pass;  // the first matching rule's action; pass if none
    uint32_t rule = kNoRule;                 // index into d.route->rules of the rule that matched
    uint32_t group = 0;                      // action == group: index into d.route->groups (names)
    bool has_key = false;                    // the message carries a well-formed key
    uint64_t key_hash = 0;                   // FNV-1a 64 of the key bytes, when has_key
};

// One whole main-rule message. Never throws; a malformed or absent key gives has_key = false.
// A description without [route] passes every message.
RouteDecision decide_route(const Description& d, std::span<const uint8_t> message);

// The key's bytes in the stream's first message (SNI host name, PostgreSQL
// database, MQTT client id), case-folded when the key says ignore_case; nullopt
// when the description has no first_key or the message has no well-formed key.
std::optional<std::string> first_message_key(const Description& d, std::span<const uint8_t> first_message);

// A key looked for in one message, with the reason when there is none.
struct KeyLookup {
    bool found = false;
    uint64_t offset = 0, length = 0;  // the key's bytes in the message
    std::string bytes;                // folded when the key says ignore_case
    uint64_t hash = 0;                // key_hash(bytes)
    std::string why;                  // !found: what was missing or malformed, in words
};
KeyLookup find_key(const RouteKey& key, std::span<const uint8_t> message);

// FNV-1a 64 of `bytes` (bpf/sockframe_hash.h): the hash consistent hashing uses.
uint64_t key_hash(std::string_view bytes);

}  // namespace sockframe

#pragma GCC visibility pop
