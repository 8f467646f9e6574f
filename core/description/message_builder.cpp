#include "description/message_builder.hpp"

#include <algorithm>

#include "description/length_rule.hpp"
#include "sockframe_primitives.h"

namespace sockframe {
namespace {

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& rng) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> m(n);
    for (auto& b : m) b = static_cast<uint8_t>(byte(rng));
    return m;
}

// Field bytes and value for a message of `total` bytes under rule `f`.
std::optional<std::vector<uint8_t>> field_for_total(const LengthField& f, uint64_t total) {
    if (const UintLength* u = f.as_uint()) {
        if (total < u->header || (total - u->header) % f.scale) return std::nullopt;
        return encode_length_field(f, (total - u->header) / f.scale);
    }
    // The field's own size depends on the value: try each size.
    const VariableLength& var = *f.as_variable();
    for (uint64_t fb = 1; fb <= var.max_size + 1; fb++) {
        int64_t rest = static_cast<int64_t>(total) - f.offset - static_cast<int64_t>(fb) - var.adjust;
        if (rest < 0 || rest % static_cast<int64_t>(f.scale)) continue;
        auto field = encode_length_field(f, static_cast<uint64_t>(rest) / f.scale);
        if (field && field->size() == fb) return field;
    }
    return std::nullopt;
}

void put_uint(std::vector<uint8_t>& m, uint64_t at, uint32_t width, ByteOrder order, uint64_t v) {
    for (uint32_t i = 0; i < width; i++)
        m[at + (order == ByteOrder::big ? width - 1 - i : i)] = static_cast<uint8_t>(v >> (8 * i));
}

bool fits(uint64_t v, uint32_t width) {
    return width >= 8 || v < (1ULL << (8 * width));
}

// Every head (the bytes up to the end of the field, flags and magic) of a
// `total`-byte message under a uint rule with escape/flag_width/extra: one per
// form (short, each escape or the wide field, times each set of extras) that
// can say `total`. The probe is the oracle: forms whose flag and field bits
// collide are left out.
std::vector<std::vector<uint8_t>> conditional_heads(const LengthField& f, uint64_t max, const std::vector<Magic>& magic,
                                                    uint64_t total) {
    std::vector<std::vector<uint8_t>> out;
    const UintLength& u = *f.as_uint();
    size_t forms = 1 + (u.flag_width ? 1 : u.escapes.size());
    for (size_t form = 0; form < forms; form++) {
        for (uint32_t set = 0; set < (1u << u.extras.size()); set++) {
            uint64_t base = u.header;
            const LengthEscape* esc = nullptr;
            bool wide = u.flag_width && form == 1;
            if (wide) base = u.flag_width->header;
            if (!u.flag_width && form > 0) {
                esc = &u.escapes[form - 1];
                base += esc->width;
            }
            for (size_t i = 0; i < u.extras.size(); i++)
                if (set & (1u << i)) base += u.extras[i].bytes;
            if (total < base || (total - base) % f.scale) continue;
            uint64_t v = (total - base) / f.scale;
            uint64_t head = f.field_end() + (esc ? esc->width : 0);
            if (wide) head = std::max<uint64_t>(head, f.offset + u.flag_width->width);
            for (const Magic& mg : magic) head = std::max<uint64_t>(head, mg.offset + mg.bytes.size());
            for (const Magic& mg : f.magic) head = std::max<uint64_t>(head, mg.offset + mg.bytes.size());
            std::vector<uint8_t> m(head, 0x5a);
            if (wide) {
                if (!fits(v, u.flag_width->width)) continue;
                put_uint(m, f.offset, u.flag_width->width, u.byte_order, v);
            } else {
                uint64_t short_value = esc ? esc->value : v;
                if (esc && !fits(v, esc->width)) continue;
                auto field = encode_length_field(f, short_value);
                if (!field) continue;
                for (uint32_t i = 0; i < u.width; i++)
                    m[f.offset + i] = static_cast<uint8_t>((m[f.offset + i] & ~(*field)[u.width + i]) | (*field)[i]);
                if (esc) put_uint(m, f.field_end(), esc->width, u.byte_order, v);
            }
            if (u.flag_width) {
                uint8_t& b = m[u.flag_width->at];
                b = wide ? (b | u.flag_width->mask) : (b & ~u.flag_width->mask);
            }
            for (size_t i = 0; i < u.extras.size(); i++) {
                uint8_t& b = m[u.extras[i].at];
                b = (set & (1u << i)) ? (b | u.extras[i].mask) : (b & ~u.extras[i].mask);
            }
            for (const Magic& mg : magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
            for (const Magic& mg : f.magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
            LengthProbe p = probe_length(f, max, magic, m.data(), m.size());
            if (p.state == LengthProbe::known && p.total == total) out.push_back(std::move(m));
        }
    }
    return out;
}

// The message's first bytes (up to the end of its length field and magic), or
// nullopt if `total` is not a legal size. Cheap: no payload is built.
std::optional<std::vector<uint8_t>> legal_head(const LengthField& f, uint64_t max, const std::vector<Magic>& magic,
                                               const std::string& trailer, uint64_t total) {
    if (total == 0 || total > max || total < f.effective_min()) return std::nullopt;
    if (f.conditional()) {
        for (auto& h : conditional_heads(f, max, magic, total))
            if (h.size() + trailer.size() <= total) return h;
        return std::nullopt;
    }
    auto field = field_for_total(f, total);
    const UintLength* u = f.as_uint();
    uint64_t field_size = u ? u->width : field ? field->size() : 0;
    if (!field || f.offset + field_size + trailer.size() > total) return std::nullopt;
    uint64_t head = f.offset + field_size;
    for (const Magic& mg : magic) head = std::max<uint64_t>(head, mg.offset + mg.bytes.size());
    std::vector<uint8_t> m(head, 0x5a);
    if (u) {
        // Bits outside the mask are set: the rule must ignore them.
        for (uint32_t i = 0; i < u->width; i++) m[f.offset + i] = ((*field)[i + u->width] ^ 0xff) | (*field)[i];
    } else {
        std::copy(field->begin(), field->end(), m.begin() + f.offset);
    }
    for (const Magic& mg : magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
    for (const Magic& mg : f.magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
    // The oracle must agree that this starts one message of `total` bytes.
    LengthProbe p = probe_length(f, max, magic, m.data(), m.size());
    if (p.state != LengthProbe::known || p.total != total) return std::nullopt;
    return m;
}

std::optional<std::vector<uint8_t>> build_with_rule(const LengthField& f, uint64_t max, const std::vector<Magic>& magic,
                                                    const std::string& trailer, uint64_t total, std::mt19937_64& rng) {
    auto head = legal_head(f, max, magic, trailer, total);
    if (!head) return std::nullopt;
    std::vector<uint8_t> m = random_bytes(total, rng);
    if (f.conditional()) {
        // Any of the forms that can say `total`, e.g. masked or not, 7-bit or escaped.
        auto heads = conditional_heads(f, max, magic, total);
        std::erase_if(heads, [&](const auto& h) { return h.size() + trailer.size() > total; });
        const auto& h = heads[rng() % heads.size()];
        std::copy(h.begin(), h.end(), m.begin());
    } else if (const UintLength* u = f.as_uint()) {
        auto field = field_for_total(f, total);
        for (uint32_t i = 0; i < u->width; i++)
            m[f.offset + i] = (m[f.offset + i] & ~(*field)[i + u->width]) | (*field)[i];
        for (size_t i = 0; i < head->size(); i++)
            if (i < f.offset || i >= f.offset + u->width) m[i] = (*head)[i] == 0x5a ? m[i] : (*head)[i];
        for (const Magic& mg : magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
        for (const Magic& mg : f.magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
    } else {
        std::copy(head->begin() + f.offset, head->end(), m.begin() + f.offset);
        for (const Magic& mg : magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
        for (const Magic& mg : f.magic) std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
    }
    if (!trailer.empty()) std::copy(trailer.begin(), trailer.end(), m.end() - static_cast<long>(trailer.size()));
    return m;
}

}  // namespace

namespace {

// Returns the field bytes followed by the mask bytes (callers merge random bits).
std::optional<std::vector<uint8_t>> encode(const UintLength& f, uint64_t value) {
    if (value > f.max_value()) return std::nullopt;
    uint64_t field = (value << f.shift) & f.mask;
    std::vector<uint8_t> out(2 * f.width);
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;
        out[idx] = static_cast<uint8_t>(field >> (8 * i));
        out[f.width + idx] = static_cast<uint8_t>(f.mask >> (8 * i));
    }
    return out;
}

std::optional<std::vector<uint8_t>> encode(const Leb128Length& f, uint64_t value) {
    std::vector<uint8_t> out;
    do {
        uint8_t b = value & 0x7f;
        value >>= 7;
        out.push_back(static_cast<uint8_t>(b | (value ? 0x80 : 0)));
    } while (value);
    if (out.size() > f.max_size) return std::nullopt;
    return out;
}

std::optional<std::vector<uint8_t>> encode(const BerLength& f, uint64_t value) {
    if (value < 0x80) return std::vector<uint8_t>{static_cast<uint8_t>(value)};
    std::vector<uint8_t> out;
    for (uint64_t v = value; v; v >>= 8) out.insert(out.begin(), static_cast<uint8_t>(v & 0xff));
    out.insert(out.begin(), static_cast<uint8_t>(0x80 | out.size()));
    if (out.size() > f.max_size) return std::nullopt;
    return out;
}

std::optional<std::vector<uint8_t>> encode(const AsciiLength& f, uint64_t value) {
    const uint64_t base = f.hex ? 16 : 10;
    std::string digits;
    for (uint64_t v = value;; v /= base) {
        digits.insert(digits.begin(), "0123456789abcdef"[v % base]);
        if (v < base) break;
    }
    if (f.digits) {
        if (digits.size() > f.digits) return std::nullopt;
        digits.insert(digits.begin(), f.digits - digits.size(), '0');
    } else {
        if (digits.size() > f.max_size) return std::nullopt;
        digits += static_cast<char>(*f.terminator);
    }
    return std::vector<uint8_t>(digits.begin(), digits.end());
}

uint64_t pow_sat(uint64_t base, uint64_t exp) {
    uint64_t r = 1;
    for (uint64_t i = 0; i < exp; i++) r = r > ~0ULL / base ? ~0ULL : r * base;
    return r;
}

uint64_t largest_value(const UintLength& f) {
    return f.max_value();
}
uint64_t largest_value(const Leb128Length& f) {
    return pow_sat(2, 7 * f.max_size) - 1;
}
uint64_t largest_value(const BerLength& f) {
    return pow_sat(2, 8 * (f.max_size - 1)) - 1;
}
uint64_t largest_value(const AsciiLength& f) {
    return pow_sat(f.hex ? 16 : 10, f.max_size) - 1;
}

}  // namespace

std::optional<std::vector<uint8_t>> encode_length_field(const LengthField& f, uint64_t value) {
    return std::visit([&](const auto& e) { return encode(e, value); }, f.encoding);
}

// Largest value the field can hold, saturating.
uint64_t largest_field_value(const LengthField& f) {
    return std::visit([](const auto& e) { return largest_value(e); }, f.encoding);
}

uint64_t largest_message(const Description& d) {
    if (!d.is_length()) return d.max_message;
    const LengthField& lf = d.length();
    const UintLength* u = lf.as_uint();
    const VariableLength* var = lf.as_variable();
    uint64_t top = lf.conditional() ? ~0ULL  // escapes and wide fields reach far beyond the short field
                   : u              ? sf_total(largest_field_value(lf), lf.scale, u->header, 0)
                       : sf_total(largest_field_value(lf), lf.scale, lf.offset + var->max_size + 1, var->adjust);
    for (uint64_t t = std::min(d.max_message, top), tries = 0; t > 0 && tries < 4096; t--, tries++)
        if (legal_head(d.length(), d.max_message, d.magic, d.trailer, t)) return t;
    // Sparse encodings (scale, small fields): search down by the field's own values.
    if (u) {
        uint64_t v =
            std::min<uint64_t>(u->max_value(), d.max_message >= u->header ? (d.max_message - u->header) / lf.scale : 0);
        return u->header + v * lf.scale;
    }
    return 0;
}

uint64_t smallest_message(const Description& d) { return legal_size_near(d, 0); }

uint64_t legal_size_near(const Description& d, uint64_t want) {
    if (!d.is_length()) return std::clamp<uint64_t>(want, d.delimiter().bytes.size(), d.max_message);
    const LengthField& f = d.length();
    uint64_t hi = largest_message(d);
    want = std::clamp<uint64_t>(want, f.effective_min(), hi);
    for (uint64_t delta = 0; delta <= hi; delta++) {
        if (want + delta <= hi && legal_head(f, d.max_message, d.magic, d.trailer, want + delta)) return want + delta;
        if (delta <= want && want - delta >= f.effective_min() &&
            legal_head(f, d.max_message, d.magic, d.trailer, want - delta))
            return want - delta;
        if (delta > 1u << 20) break;
    }
    return hi;
}

std::optional<std::vector<uint8_t>> build_message(const Description& d, uint64_t total, std::mt19937_64& rng) {
    if (total == 0 || total > d.max_message) return std::nullopt;
    if (d.is_length()) return build_with_rule(d.length(), d.max_message, d.magic, d.trailer, total, rng);
    const std::string& delim = d.delimiter().bytes;
    if (total < delim.size()) return std::nullopt;
    // Payload bytes never equal the delimiter's first byte: no early end.
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> m(total);
    auto first = static_cast<uint8_t>(delim[0]);
    for (size_t i = 0; i < total - delim.size(); i++) {
        uint8_t b;
        do b = static_cast<uint8_t>(byte(rng)); while (b == first);
        m[i] = b;
    }
    std::copy(delim.begin(), delim.end(), m.end() - static_cast<long>(delim.size()));
    return m;
}

std::vector<uint8_t> build_first_message(const Description& d, uint64_t want, std::mt19937_64& rng) {
    if (!d.first) return {};
    if (!d.first->preface.empty()) return {d.first->preface.begin(), d.first->preface.end()};
    const LengthField& f = *d.first->length;
    want = std::clamp<uint64_t>(want, f.effective_min(), d.first->max_message);
    for (uint64_t t = want; t <= d.first->max_message; t++)
        if (auto m = build_with_rule(f, d.first->max_message, {}, "", t, rng)) return *m;
    return {};
}

}  // namespace sockframe
