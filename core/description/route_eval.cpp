// The userspace half of routing: the key steps and rules of route_model.hpp run
// over one message. core/codegen/route_codegen.cpp generates the same steps as
// BPF C; tests/differential holds the two to each other, byte for byte.
//
// Never throws on message bytes; every loop is bounded by the message or by the
// documented limits (kMaxTlvEntries, kMaxScanBytes, kMaxDnsLabels, max_length).
#include <sockframe/route.hpp>

#include <cstdio>

#include "sockframe_hash.h"

namespace sockframe {
namespace {

struct Msg {
    const uint8_t* p;
    uint64_t size;
};

// The integer of type t at `at`, read within [0, end): its value and width.
bool read_int(Msg m, uint64_t at, uint64_t end, IntType t, uint64_t& v, uint64_t& w) {
    v = 0;
    if (t == IntType::varint) {
        for (uint64_t i = 0; i < 4; i++) {
            if (at >= end || i >= end - at) return false;
            uint8_t b = m.p[at + i];
            v |= uint64_t{b & 0x7fu} << (7 * i);
            if (!(b & 0x80)) {
                w = i + 1;
                return true;
            }
        }
        return false;  // a fifth byte would be needed: not a varint of at most 4 bytes
    }
    w = int_width(t);
    if (at > end || end - at < w) return false;
    for (uint64_t i = 0; i < w; i++) {
        uint64_t idx = int_little_endian(t) ? w - 1 - i : i;
        v = v << 8 | m.p[at + idx];
    }
    return true;
}

// A test whose `at` is relative to pos (key steps); unreadable: nullopt.
std::optional<bool> test_relative(const ValueTest& t, Msg m, uint64_t pos, uint64_t end) {
    if (t.at < 0 && pos < static_cast<uint64_t>(-t.at)) return std::nullopt;
    uint64_t at = pos + static_cast<uint64_t>(t.at), v, w;
    if (!read_int(m, at, end, t.type, v, w)) return std::nullopt;
    return t.matches(v);
}

// Words for a failed step: "line 17 (skip_prefixed): ...".
class Why {
public:
    explicit Why(std::string* out) : out_(out) {}
    bool wanted() const { return out_ != nullptr; }
    template <class... A>
    bool fail(uint32_t line, const char* step, const char* f, A... a) {
        if (out_) {
            char buf[256];
            std::snprintf(buf, sizeof buf, f, a...);
            *out_ = "line " + std::to_string(line) + " (" + step + "): " + buf;
        }
        return false;
    }

private:
    std::string* out_;
};
using ull = unsigned long long;

const char* step_name(const KeyStep& s) {
    switch (s.op.index()) {
        case 0:
            return "skip";
        case 1:
            return "skip_prefixed";
        case 2:
            return "enter_prefixed";
        case 3:
            return "find_tlv";
        case 4:
            return "find_name";
        case 5:
            return "expect";
    }
    return "?";
}

// One step: moves pos/end, or says why the message has no key.
bool run_step(const KeyStep& s, Msg m, uint64_t& pos, uint64_t& end, Why& why) {
    const char* name = step_name(s);
    uint64_t v = 0, w = 0;
    if (const auto* sk = std::get_if<SkipStep>(&s.op)) {
        uint64_t n;
        if (const auto* bytes = std::get_if<uint64_t>(&sk->amount)) {
            n = *bytes;
        } else if (const auto* t = std::get_if<IntType>(&sk->amount)) {
            if (!read_int(m, pos, end, *t, v, w))
                return why.fail(s.line, name, "no whole %s at byte %llu (the field ends at %llu)", int_type_name(*t),
                                ull(pos), ull(end));
            n = w;
        } else {
            const FieldRef& f = std::get<FieldRef>(sk->amount);
            if (!read_int(m, f.at, m.size, f.type, v, w))
                return why.fail(s.line, name, "the %s at byte %u is not in the message (%llu bytes)",
                                int_type_name(f.type), f.at, ull(m.size));
            n = v;
        }
        if (n > end - pos)
            return why.fail(s.line, name, "%llu bytes from byte %llu run past the end (byte %llu)", ull(n), ull(pos),
                            ull(end));
        pos += n;
        return true;
    }
    if (const auto* sp = std::get_if<SkipPrefixedStep>(&s.op)) {
        if (!read_int(m, pos, end, sp->length, v, w))
            return why.fail(s.line, name, "no whole %s length at byte %llu (the field ends at %llu)",
                            int_type_name(sp->length), ull(pos), ull(end));
        if (v > end - pos - w)
            return why.fail(s.line, name, "the %llu bytes counted at byte %llu run past the end (byte %llu)", ull(v),
                            ull(pos), ull(end));
        pos += w + v;
        return true;
    }
    if (const auto* ep = std::get_if<EnterPrefixedStep>(&s.op)) {
        if (!read_int(m, pos, end, ep->length, v, w))
            return why.fail(s.line, name, "no whole %s length at byte %llu (the field ends at %llu)",
                            int_type_name(ep->length), ull(pos), ull(end));
        if (v > end - pos - w)
            return why.fail(s.line, name, "the %llu bytes counted at byte %llu run past the end (byte %llu)", ull(v),
                            ull(pos), ull(end));
        pos += w;
        end = pos + v;
        return true;
    }
    if (const auto* ft = std::get_if<FindTlvStep>(&s.op)) {
        for (uint32_t i = 0; i < kMaxTlvEntries; i++) {
            uint64_t t, wt, l, wl;
            if (pos >= end) return why.fail(s.line, name, "no entry of type %llu", ull(ft->value));
            if (!read_int(m, pos, end, ft->type, t, wt) || !read_int(m, pos + wt, end, ft->length, l, wl))
                return why.fail(s.line, name,
                                "the entry at byte %llu has no whole type and length (the list ends at %llu)", ull(pos),
                                ull(end));
            uint64_t vs = pos + wt + wl;
            if (l > end - vs)
                return why.fail(s.line, name,
                                "the entry at byte %llu (type %llu, %llu bytes) runs past the end (byte %llu)",
                                ull(pos), ull(t), ull(l), ull(end));
            if (t == ft->value) {
                pos = vs;
                end = vs + l;
                return true;
            }
            pos = vs + l;
        }
        return why.fail(s.line, name, "no entry of type %llu among the first %u", ull(ft->value), kMaxTlvEntries);
    }
    if (const auto* fn = std::get_if<FindNameStep>(&s.op)) {
        // Byte by byte, exactly as the generated BPF does it.
        const std::string& want = fn->name;
        uint64_t n = end - pos, nlen = 0;
        if (n > kMaxScanBytes) n = kMaxScanBytes;
        bool in_value = false, match = true;
        for (uint64_t i = 0; i < n; i++) {
            uint8_t b = m.p[pos++];
            if (in_value) {
                if (b == 0) in_value = false, nlen = 0, match = true;
                continue;
            }
            if (b == 0) {
                if (nlen == 0)
                    return why.fail(s.line, name, "the list ends (an empty name at byte %llu) without \"%s\"",
                                    ull(pos - 1), want.c_str());
                if (match && nlen == want.size()) return true;  // pos: the value, after the name's NUL
                in_value = true;
                continue;
            }
            if (nlen >= want.size() || b != static_cast<uint8_t>(want[nlen])) match = false;
            nlen++;
        }
        return why.fail(s.line, name, "no name \"%s\" within %llu bytes", want.c_str(), ull(n));
    }
    const ValueTest& t = std::get<ExpectStep>(s.op).test;
    auto r = test_relative(t, m, pos, end);
    if (!r)
        return why.fail(s.line, name, "no whole %s at byte %lld from %llu", int_type_name(t.type), (long long)t.at,
                        ull(pos));
    if (!*r) {
        uint64_t at = pos + static_cast<uint64_t>(t.at);
        read_int(m, at, end, t.type, v, w);
        return why.fail(s.line, name, "the %s at byte %llu is %llu, not the value expected", int_type_name(t.type),
                        ull(at), ull(v));
    }
    return true;
}

// Where the key's bytes are, or why there are none.
bool locate_key(const RouteKey& key, Msg m, uint64_t& off, uint64_t& len, std::string* reason) {
    Why why(reason);
    uint64_t pos = 0, end = m.size;
    for (const KeyStep& s : key.steps) {
        if (s.when) {
            auto r = test_relative(*s.when, m, pos, end);
            if (!r || !*r) continue;
        }
        if (!run_step(s, m, pos, end, why)) return false;
    }
    const KeyTake& t = key.take;
    const char* name = t.kind == TakeKind::prefixed ? "take_prefixed" : "take";
    uint64_t v = 0, w = 0;
    switch (t.kind) {
        case TakeKind::bytes:
            if (t.count > end - pos)
                return why.fail(t.line, name, "%llu bytes from byte %llu run past the end (byte %llu)", ull(t.count),
                                ull(pos), ull(end));
            off = pos, len = t.count;
            break;
        case TakeKind::field:
            if (!read_int(m, t.field.at, m.size, t.field.type, v, w))
                return why.fail(t.line, name, "the %s at byte %u is not in the message (%llu bytes)",
                                int_type_name(t.field.type), t.field.at, ull(m.size));
            if (v > end - pos)
                return why.fail(t.line, name, "%llu bytes from byte %llu run past the end (byte %llu)", ull(v),
                                ull(pos), ull(end));
            off = pos, len = v;
            break;
        case TakeKind::rest:
            off = pos, len = end - pos;
            break;
        case TakeKind::cstring: {
            uint64_t p = pos;
            for (uint64_t i = 0; i <= t.max_length; i++, p++) {
                if (p >= end)
                    return why.fail(t.line, name, "no NUL from byte %llu to the end (byte %llu)", ull(pos), ull(end));
                if (m.p[p] == 0) break;
            }
            if (p - pos > t.max_length)
                return why.fail(t.line, name, "no NUL within max_length = %u bytes of byte %llu", t.max_length,
                                ull(pos));
            off = pos, len = p - pos;
            break;
        }
        case TakeKind::dns_name: {
            uint64_t p = pos;
            bool done = false;
            for (uint32_t i = 0; i < kMaxDnsLabels && !done; i++) {
                if (p >= end)
                    return why.fail(t.line, name, "the name from byte %llu runs past the end (byte %llu)", ull(pos),
                                    ull(end));
                uint8_t l = m.p[p];
                if (l == 0) {
                    done = true;
                    p++;
                    break;
                }
                if (l > 63)
                    return why.fail(
                        t.line, name,
                        "byte %llu is 0x%02x, not a label length (1-63; compression pointers are not followed)", ull(p),
                        l);
                p += 1 + uint64_t{l};
                if (p - pos > 254)
                    return why.fail(t.line, name, "the name from byte %llu is longer than 255 bytes", ull(pos));
            }
            if (!done) return why.fail(t.line, name, "more than %u labels", kMaxDnsLabels);
            off = pos, len = p - pos;
            break;
        }
        case TakeKind::prefixed:
            if (!read_int(m, pos, end, t.length, v, w))
                return why.fail(t.line, name, "no whole %s length at byte %llu (the field ends at %llu)",
                                int_type_name(t.length), ull(pos), ull(end));
            if (v > end - pos - w)
                return why.fail(t.line, name, "the %llu bytes counted at byte %llu run past the end (byte %llu)",
                                ull(v), ull(pos), ull(end));
            off = pos + w, len = v;
            break;
    }
    if (len == 0) return why.fail(t.line, name, "the key at byte %llu is empty", ull(off));
    if (len > t.max_length)
        return why.fail(t.line, name, "the key at byte %llu is %llu bytes, above max_length = %u", ull(off), ull(len),
                        t.max_length);
    return true;
}

uint64_t hash_span(const uint8_t* p, uint64_t n, bool fold) {
    uint64_t h = SF_FNV_OFFSET;
    for (uint64_t i = 0; i < n; i++) h = sf_fnv1a_byte(h, fold ? sf_fold_ascii(p[i]) : p[i]);
    return h;
}

bool rule_matches(const RouteRule& r, Msg m, bool has_key) {
    if (r.field) {
        uint64_t v, w;
        if (!read_int(m, static_cast<uint64_t>(r.field->at), m.size, r.field->type, v, w)) return false;
        if (!r.field->matches(v)) return false;
    }
    if (r.size && !r.size->matches(m.size)) return false;
    if (r.has_key && *r.has_key != has_key) return false;
    return true;
}

}  // namespace

uint64_t key_hash(std::string_view bytes) {
    return hash_span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), false);
}

KeyLookup find_key(const RouteKey& key, std::span<const uint8_t> message) {
    KeyLookup k;
    Msg m{message.data(), message.size()};
    if (!locate_key(key, m, k.offset, k.length, &k.why)) return k;
    k.found = true;
    k.bytes.assign(reinterpret_cast<const char*>(message.data() + k.offset), k.length);
    if (key.take.ignore_case)
        for (char& c : k.bytes) c = static_cast<char>(sf_fold_ascii(static_cast<uint8_t>(c)));
    k.hash = key_hash(k.bytes);
    return k;
}

RouteDecision decide_route(const Description& d, std::span<const uint8_t> message) {
    RouteDecision r;
    if (!d.route) return r;
    Msg m{message.data(), message.size()};
    if (d.route->key) {
        uint64_t off = 0, len = 0;
        if (locate_key(*d.route->key, m, off, len, nullptr)) {
            r.has_key = true;
            r.key_hash = hash_span(m.p + off, len, d.route->key->take.ignore_case);
        }
    }
    const auto& rules = d.route->rules;
    for (size_t i = 0; i < rules.size(); i++) {
        if (!rule_matches(rules[i], m, r.has_key)) continue;
        r.action = rules[i].action;
        r.rule = static_cast<uint32_t>(i);
        r.group = rules[i].action == RouteAction::group ? rules[i].group : 0;
        break;
    }
    return r;
}

std::optional<std::string> first_message_key(const Description& d, std::span<const uint8_t> first_message) {
    if (!d.has_first_message_key()) return std::nullopt;
    KeyLookup k = find_key(*d.route->first_key, first_message);
    if (!k.found) return std::nullopt;
    return std::move(k.bytes);
}

}  // namespace sockframe
