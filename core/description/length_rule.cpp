#include "description/length_rule.hpp"

#include <algorithm>
#include <optional>
#include <variant>

#include "sockframe_primitives.h"

namespace sockframe {

long preface_mismatch(const std::string& preface, const uint8_t* p, size_t avail) {
    size_t n = std::min(avail, preface.size());
    for (size_t i = 0; i < n; i++)
        if (p[i] != static_cast<uint8_t>(preface[i])) return static_cast<long>(i);
    return -1;
}

namespace {

uint64_t read_uint(const uint8_t* p, uint32_t width, ByteOrder order) {
    return sf_uint(p, width, order == ByteOrder::big);
}

LengthProbe malformed(uint64_t at) { return {LengthProbe::error, 0, FramingErrorKind::bad_length_field, at}; }

// The field read at `off`: its value and size, and for uint the header its total starts
// from; or `stop` (need_more, or the first malformed byte).
struct FieldRead {
    std::optional<LengthProbe> stop;
    uint64_t value = 0, field_bytes = 0, base = 0;
};

FieldRead read_field(const UintLength& f, uint64_t off, const uint8_t* p, size_t avail) {
    FieldRead r{std::nullopt, 0, f.width, f.header};
    if (avail < off + f.width) return {LengthProbe{}};
    // Flag bytes lie inside the short field's span: readable now.
    if (f.flag_width && (p[f.flag_width->at] & f.flag_width->mask)) {
        if (avail < off + f.flag_width->width) return {LengthProbe{}};
        r.value = read_uint(p + off, f.flag_width->width, f.byte_order);
        r.base = f.flag_width->header;
    } else {
        r.value = (read_uint(p + off, f.width, f.byte_order) & f.mask) >> f.shift;
        for (const LengthEscape& e : f.escapes) {
            if (r.value != e.value) continue;
            if (avail < off + f.width + e.width) return {LengthProbe{}};
            r.value = read_uint(p + off + f.width, e.width, f.byte_order);
            r.base += e.width;
            break;
        }
    }
    for (const ExtraBytes& x : f.extras)
        if (p[x.at] & x.mask) r.base += x.bytes;
    return r;
}

FieldRead read_field(const Leb128Length& f, uint64_t off, const uint8_t* p, size_t avail) {
    uint64_t v = 0;
    for (uint32_t n = 0;; n++) {
        if (n == f.max_size) return {malformed(off + n - 1)};  // no last byte within width
        if (avail < off + n + 1) return {LengthProbe{}};
        uint8_t b = p[off + n];
        if (n == 9 && b > 1) return {malformed(off + n)};  // beyond 64 bits
        v |= static_cast<uint64_t>(b & 0x7f) << (7 * n);
        if (!(b & 0x80)) return {std::nullopt, v, n + 1};
    }
}

FieldRead read_field(const BerLength& f, uint64_t off, const uint8_t* p, size_t avail) {
    if (avail < off + 1) return {LengthProbe{}};
    uint8_t b0 = p[off];
    if (b0 < 0x80) return {std::nullopt, b0, 1};
    uint32_t n = b0 & 0x7f;
    if (n == 0 || n > 8 || n + 1 > f.max_size) return {malformed(off)};  // indefinite or too long
    if (avail < off + 1 + n) return {LengthProbe{}};
    return {std::nullopt, sf_uint(p + off + 1, n, 1), n + 1};
}

FieldRead read_field(const AsciiLength& f, uint64_t off, const uint8_t* p, size_t avail) {
    uint32_t base = f.hex ? 16 : 10;
    uint64_t v = 0;
    for (uint32_t n = 0;; n++) {
        if (f.digits && n == f.digits) return {std::nullopt, v, n};
        if (avail < off + n + 1) return {LengthProbe{}};
        uint8_t c = p[off + n];
        if (!f.digits && c == f.terminator) {
            if (n == 0) return {malformed(off)};
            return {std::nullopt, v, n + 1};
        }
        int d = sf_digit(c, f.hex);
        if (d < 0 || n == f.max_size) return {malformed(off + n)};
        v = v * base + static_cast<uint64_t>(d);
    }
}

}  // namespace

LengthProbe probe_length(const LengthField& f, uint64_t max_message, const std::vector<Magic>& magic, const uint8_t* p,
                         size_t avail) {
    const uint64_t off = f.offset;
    FieldRead r = std::visit([&](const auto& e) { return read_field(e, off, p, avail); }, f.encoding);
    if (r.stop) return *r.stop;
    const uint64_t v = r.value;
    for (const auto* list : {&magic, &f.magic})
        for (const Magic& m : *list)
            for (size_t i = 0; i < m.bytes.size(); i++)
                if (p[m.offset + i] != static_cast<uint8_t>(m.bytes[i]))
                    return {LengthProbe::error, 0, FramingErrorKind::bad_magic, m.offset};
    if (std::find(f.special_values.begin(), f.special_values.end(), v) != f.special_values.end())
        return {LengthProbe::known, f.special_total, {}, 0};
    const VariableLength* var = f.as_variable();
    uint64_t total = var ? sf_total(v, f.scale, off + r.field_bytes, var->adjust) : sf_total(v, f.scale, r.base, 0);
    if (total > max_message) return {LengthProbe::error, 0, FramingErrorKind::too_long, total};
    if (total < f.effective_min()) return {LengthProbe::error, 0, FramingErrorKind::too_short, total};
    return {LengthProbe::known, total, {}, 0};
}

}  // namespace sockframe
