#include "message_builder.hpp"

#include <algorithm>

namespace sockframe {

uint64_t smallest_message(const Description& d) {
    if (!d.is_length()) return d.delimiter().bytes.size();
    const LengthField& f = d.length();
    return legal_size_near(d, std::max(f.effective_min(), f.header));
}

uint64_t largest_message(const Description& d) {
    if (!d.is_length()) return d.max_message;
    const LengthField& f = d.length();
    // Largest field value the mask/shift can carry.
    uint64_t max_value = f.mask >> f.shift;
    uint64_t cap = d.max_message;
    if (f.header < cap && max_value < (cap - f.header) / f.scale) cap = f.header + max_value * f.scale;
    uint64_t total = f.header + (cap - f.header) / f.scale * f.scale;
    return total;
}

uint64_t legal_size_near(const Description& d, uint64_t want) {
    uint64_t lo = d.is_length() ? std::max(d.length().effective_min(), d.length().header) : d.delimiter().bytes.size();
    uint64_t hi = largest_message(d);
    want = std::clamp(want, lo, hi);
    if (!d.is_length()) return want;
    const LengthField& f = d.length();
    uint64_t total = f.header + (want - f.header) / f.scale * f.scale;
    if (total < lo) total += f.scale;
    return total;
}

std::optional<std::vector<uint8_t>> build_message(const Description& d, uint64_t total, std::mt19937_64& rng) {
    if (total == 0 || total > d.max_message) return std::nullopt;
    std::vector<uint8_t> m(total);
    std::uniform_int_distribution<int> byte(0, 255);
    if (!d.is_length()) {
        const std::string& delim = d.delimiter().bytes;
        if (total < delim.size()) return std::nullopt;
        // Payload bytes never equal the delimiter's first byte: no early end.
        auto first = static_cast<uint8_t>(delim[0]);
        for (size_t i = 0; i < total - delim.size(); i++) {
            uint8_t b;
            do b = static_cast<uint8_t>(byte(rng)); while (b == first);
            m[i] = b;
        }
        std::copy(delim.begin(), delim.end(), m.end() - static_cast<long>(delim.size()));
        return m;
    }
    const LengthField& f = d.length();
    if (total < f.effective_min() || total < f.header || (total - f.header) % f.scale) return std::nullopt;
    uint64_t value = (total - f.header) / f.scale;
    if (value > (f.mask >> f.shift)) return std::nullopt;
    for (auto& b : m) b = static_cast<uint8_t>(byte(rng));
    // The field: value placed under the mask; bits outside the mask stay random.
    uint64_t field = 0;
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? i : f.width - 1 - i;
        field = (field << 8) | m[f.offset + idx];
    }
    field = (field & ~f.mask) | ((value << f.shift) & f.mask);
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;
        m[f.offset + idx] = static_cast<uint8_t>(field >> (8 * i));
    }
    return m;
}

}  // namespace sockframe
