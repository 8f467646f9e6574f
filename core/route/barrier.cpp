#include "route/barrier.hpp"

namespace sockframe {

std::optional<BarrierRule> BarrierRule::for_description(const Description& d) {
    // memcached binary (protocol_binary.h): magic 0x80 request / 0x81 response at
    // byte 0, opcode at byte 1, PROTOCOL_BINARY_CMD_NOOP = 0x0a.
    if (d.name != "memcached-binary") return std::nullopt;
    BarrierRule r;
    r.request_magic_ = 0x80;
    r.reply_magic_ = 0x81;
    r.opcode_ = 0x0a;
    return r;
}

bool BarrierRule::is_request(std::span<const uint8_t> m) const {
    return m.size() >= 2 && m[0] == request_magic_ && m[1] == opcode_;
}

bool BarrierRule::is_reply(std::span<const uint8_t> m) const {
    return m.size() >= 2 && m[0] == reply_magic_ && m[1] == opcode_;
}

}  // namespace sockframe
