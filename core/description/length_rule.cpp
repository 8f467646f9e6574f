#include "description/length_rule.hpp"

#include <algorithm>

namespace sockframe {

uint64_t length_total(uint64_t value, uint64_t scale, uint64_t base, int64_t adjust) {
    uint64_t t = (scale && value > (~0ULL - base) / scale) ? ~0ULL : base + value * scale;
    if (adjust >= 0) {
        uint64_t a = static_cast<uint64_t>(adjust);
        return t > ~0ULL - a ? ~0ULL : t + a;
    }
    uint64_t a = static_cast<uint64_t>(-adjust);
    return t < a ? 0 : t - a;
}

long preface_mismatch(const std::string& preface, const uint8_t* p, size_t avail) {
    size_t n = std::min(avail, preface.size());
    for (size_t i = 0; i < n; i++)
        if (p[i] != static_cast<uint8_t>(preface[i])) return static_cast<long>(i);
    return -1;
}

namespace {

int digit_value(uint8_t c, bool hex) {
    if (c >= '0' && c <= '9') return c - '0';
    if (hex && c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint64_t read_uint(const uint8_t* p, uint32_t width, ByteOrder order) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < width; i++) v = (v << 8) | p[order == ByteOrder::big ? i : width - 1 - i];
    return v;
}

LengthProbe malformed(uint64_t at) { return {LengthProbe::error, 0, FramingErrorKind::bad_length_field, at}; }

}  // namespace

LengthProbe probe_length(const LengthField& f, uint64_t max_message, const std::vector<Magic>& magic,
                         const uint8_t* p, size_t avail) {
    const uint64_t off = f.offset;
    uint64_t v = 0, field_bytes = 0, base = f.header;
    switch (f.encoding) {
    case LengthEncoding::uint:
        if (avail < off + f.width) return {};
        // Flag bytes lie inside the short field's span: readable now.
        if (f.flag_width && (p[f.flag_width->at] & f.flag_width->mask)) {
            if (avail < off + f.flag_width->width) return {};
            v = read_uint(p + off, f.flag_width->width, f.byte_order);
            base = f.flag_width->header;
        } else {
            v = (read_uint(p + off, f.width, f.byte_order) & f.mask) >> f.shift;
            for (const LengthEscape& e : f.escapes) {
                if (v != e.value) continue;
                if (avail < off + f.width + e.width) return {};
                v = read_uint(p + off + f.width, e.width, f.byte_order);
                base += e.width;
                break;
            }
        }
        for (const ExtraBytes& x : f.extras)
            if (p[x.at] & x.mask) base += x.bytes;
        field_bytes = f.width;
        break;
    case LengthEncoding::leb128:
        for (uint32_t n = 0;; n++) {
            if (n == f.width) return malformed(off + n - 1);  // no last byte within width
            if (avail < off + n + 1) return {};
            uint8_t b = p[off + n];
            if (n == 9 && b > 1) return malformed(off + n);  // beyond 64 bits
            v |= static_cast<uint64_t>(b & 0x7f) << (7 * n);
            if (!(b & 0x80)) {
                field_bytes = n + 1;
                break;
            }
        }
        break;
    case LengthEncoding::ber: {
        if (avail < off + 1) return {};
        uint8_t b0 = p[off];
        if (b0 < 0x80) {
            v = b0;
            field_bytes = 1;
            break;
        }
        uint32_t n = b0 & 0x7f;
        if (n == 0 || n > 8 || n + 1 > f.width) return malformed(off);  // indefinite or too long
        for (uint32_t i = 0; i < n; i++) {
            if (avail < off + 2 + i) return {};
            v = (v << 8) | p[off + 1 + i];
        }
        field_bytes = n + 1;
        break;
    }
    case LengthEncoding::ascii_decimal:
    case LengthEncoding::ascii_hex: {
        bool hex = f.encoding == LengthEncoding::ascii_hex;
        uint32_t base = hex ? 16 : 10;
        for (uint32_t n = 0;; n++) {
            if (f.digits && n == f.digits) {
                field_bytes = n;
                break;
            }
            if (avail < off + n + 1) return {};
            uint8_t c = p[off + n];
            if (!f.digits && c == f.terminator) {
                if (n == 0) return malformed(off);
                field_bytes = n + 1;
                break;
            }
            int d = digit_value(c, hex);
            if (d < 0 || n == f.width) return malformed(off + n);
            v = v * base + static_cast<uint64_t>(d);
        }
        break;
    }
    }
    for (const auto* list : {&magic, &f.magic})
        for (const Magic& m : *list)
            for (size_t i = 0; i < m.bytes.size(); i++)
                if (p[m.offset + i] != static_cast<uint8_t>(m.bytes[i]))
                    return {LengthProbe::error, 0, FramingErrorKind::bad_magic, m.offset};
    if (std::find(f.special_values.begin(), f.special_values.end(), v) != f.special_values.end())
        return {LengthProbe::known, f.special_total, {}, 0};
    uint64_t total =
        f.fixed_width() ? length_total(v, f.scale, base, 0) : length_total(v, f.scale, off + field_bytes, f.adjust);
    if (total > max_message) return {LengthProbe::error, 0, FramingErrorKind::too_long, total};
    if (total < f.effective_min()) return {LengthProbe::error, 0, FramingErrorKind::too_short, total};
    return {LengthProbe::known, total, {}, 0};
}

}  // namespace sockframe
