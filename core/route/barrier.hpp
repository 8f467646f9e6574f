// Barrier messages: a request that asks "is everything I sent before answered?",
// whose reply the client reads as the end of a batch. memcached binary's NOOP is
// one: libmemcached's get_multi sends one quiet get (GETKQ) per key, which the
// server answers only on a hit, then a NOOP, and reads until the NOOP's reply.
// Routed per message, the quiet gets spread over several backends; the NOOP's
// reply from one backend says nothing about the others. So the userspace path
// sends the NOOP to every backend the client's requests reached since its last
// barrier and forwards one reply, the last (docs/proxy.md, "Barriers").
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include <sockframe/description.hpp>

namespace sockframe {

class BarrierRule {
public:
    // The rule of a description that has barrier messages (memcached-binary), else nullopt.
    static std::optional<BarrierRule> for_description(const Description& d);
    bool is_request(std::span<const uint8_t> message) const;  // a client's barrier
    bool is_reply(std::span<const uint8_t> message) const;    // a backend's answer to one
    // What the kernel verdict compares with a request's first two bytes.
    uint8_t request_magic() const { return request_magic_; }
    uint8_t opcode() const { return opcode_; }

private:
    uint8_t request_magic_ = 0, reply_magic_ = 0, opcode_ = 0;
};

}  // namespace sockframe
