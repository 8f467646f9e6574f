// What the client sends and the server checks: messages of one size built by the
// library's message builder for the description, stamped with a per-connection
// sequence number near the start and a check value at the end. A message that is
// cut, shifted or merged fails the check; the check costs the same on every path.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include "description/message_builder.hpp"

namespace sockframe::bench {

class MessageFormat {
public:
    MessageFormat(const Description& d, uint64_t size) : size_(size), delimiter_(!d.is_length()) {
        std::mt19937_64 rng(size);
        auto m = build_message(d, size, rng);
        if (!m) throw std::invalid_argument("no message of " + std::to_string(size) + " bytes fits the description");
        template_ = std::move(*m);
        // Length framing: after the header. Delimiter framing: from the start, in hex, so
        // the stamp never contains the delimiter.
        seq_at_ = delimiter_ || !d.length().as_uint() ? 0 : d.length().as_uint()->header;
        tail_at_ = delimiter_ ? size - d.delimiter().bytes.size() - 8 : size - 8;
        if (size < seq_at_ + 16 + (delimiter_ ? 8 + d.delimiter().bytes.size() : 0))
            throw std::invalid_argument("message size " + std::to_string(size) + " is too small for the benchmark");
    }

    uint64_t size() const { return size_; }
    const std::vector<uint8_t>& templ() const { return template_; }

    void stamp(uint8_t* m, uint64_t seq) const {
        if (delimiter_) {
            hex(m + seq_at_, seq, 16);
            hex(m + tail_at_, tail(seq) & 0xffffffffu, 8);
        } else {
            std::memcpy(m + seq_at_, &seq, 8);
            uint64_t t = tail(seq);
            std::memcpy(m + tail_at_, &t, 8);
        }
    }

    bool check(const uint8_t* m, size_t n, uint64_t seq) const {
        if (n != size_) return false;
        if (delimiter_) {
            uint8_t a[16], b[8];
            hex(a, seq, 16);
            hex(b, tail(seq) & 0xffffffffu, 8);
            return std::memcmp(m + seq_at_, a, 16) == 0 && std::memcmp(m + tail_at_, b, 8) == 0;
        }
        uint64_t s, t;
        std::memcpy(&s, m + seq_at_, 8);
        std::memcpy(&t, m + tail_at_, 8);
        return s == seq && t == tail(seq);
    }

    // The sequence number a message claims (for resynchronising after an error).
    uint64_t claimed(const uint8_t* m, size_t n) const {
        if (n < seq_at_ + 16) return ~0ULL;
        if (!delimiter_) {
            uint64_t s;
            std::memcpy(&s, m + seq_at_, 8);
            return s;
        }
        uint64_t v = 0;
        for (int i = 0; i < 16; i++) {
            uint8_t c = m[seq_at_ + i];
            if (c >= '0' && c <= '9')
                v = v << 4 | (c - '0');
            else if (c >= 'a' && c <= 'f')
                v = v << 4 | (c - 'a' + 10);
            else
                return ~0ULL;
        }
        return v;
    }

private:
    uint64_t tail(uint64_t seq) const { return (seq + 1) * 0x9E3779B97F4A7C15ULL ^ size_; }
    static void hex(uint8_t* out, uint64_t v, int digits) {
        for (int i = digits - 1; i >= 0; i--, v >>= 4) out[i] = "0123456789abcdef"[v & 15];
    }

    uint64_t size_;
    bool delimiter_;
    size_t seq_at_ = 0, tail_at_ = 0;
    std::vector<uint8_t> template_;
};

}  // namespace sockframe::bench
