#include "route_diff.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace sockframe::diff {
namespace {

uint64_t rnd(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {  // inclusive
    return lo + rng() % (hi - lo + 1);
}
bool coin(std::mt19937_64& rng, unsigned percent) {
    return rng() % 100 < percent;
}

uint64_t type_max(IntType t) {
    if (t == IntType::varint) return (1ULL << 28) - 1;
    uint32_t w = int_width(t);
    return w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
}

// `v` in type t; a varint takes `width` bytes (0: the fewest), continuation bits set.
std::vector<uint8_t> encode(IntType t, uint64_t v, uint32_t width = 0) {
    std::vector<uint8_t> out;
    if (t == IntType::varint) {
        uint32_t n = 1;
        while (n < 4 && (v >> (7 * n))) n++;
        if (width > n) n = width;
        for (uint32_t i = 0; i < n; i++)
            out.push_back(static_cast<uint8_t>(((v >> (7 * i)) & 0x7f) | (i + 1 < n ? 0x80 : 0)));
        return out;
    }
    uint32_t w = int_width(t);
    for (uint32_t i = 0; i < w; i++) {
        uint32_t shift = int_little_endian(t) ? 8 * i : 8 * (w - 1 - i);
        out.push_back(static_cast<uint8_t>(shift < 64 ? v >> shift : 0));
    }
    return out;
}

// A value the test holds for (or, when !hold, most likely one it does not).
uint64_t value_for(const ValueTest& t, IntType type, std::mt19937_64& rng, bool hold) {
    uint64_t most = type_max(type);
    if (!hold) {
        for (int tries = 0; tries < 8; tries++) {
            uint64_t v = coin(rng, 50) ? rnd(rng, 0, std::min<uint64_t>(most, 300)) : (rng() & most);
            if (!t.matches(v)) return v;
        }
        return rng() & most;
    }
    uint64_t v;
    if (!t.in.empty()) {
        v = t.in[rng() % t.in.size()];
    } else {
        uint64_t lo = t.min.value_or(0), hi = t.max.value_or(std::min<uint64_t>(most, lo + 1000));
        if (hi < lo) hi = lo;
        v = coin(rng, 30) ? (coin(rng, 50) ? lo : hi) : rnd(rng, lo, hi);
    }
    if (t.mask) v = (v & *t.mask) | (rng() & ~*t.mask & most);
    return v & most;
}

uint8_t random_byte(std::mt19937_64& rng, bool letters) {
    if (!letters) return static_cast<uint8_t>(rng());
    const char* alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
    return static_cast<uint8_t>(alphabet[rng() % 65]);
}

// Lays out a message step by step; fields at absolute offsets and open
// length-prefixed regions are written when the message is complete.
class Builder {
public:
    Builder(std::mt19937_64& rng) : rng_(rng) {}

    std::vector<uint8_t> build(const RouteKey& key) {
        for (const KeyStep& s : key.steps) {
            if (s.when) {
                bool run = coin(rng_, 75);
                relative_patch(*s.when, run);
                if (!run) continue;
            }
            step(s);
        }
        take(key.take);
        // Close the regions, innermost first, each with a few bytes after what the steps used.
        bool rest = key.take.kind == TakeKind::rest;
        for (size_t r = regions_.size(); r-- > 0;) {
            if (!(rest && r + 1 == regions_.size())) pad(rnd(rng_, 0, 4));
            const Region& g = regions_[r];
            uint64_t len = out_.size() - (g.at + g.width);
            if (coin(rng_, 3)) len += rnd(rng_, 1, 3) - 2;  // sometimes off by one either way
            std::vector<uint8_t> enc = encode(g.type, len, g.width);
            if (enc.size() == g.width) std::copy(enc.begin(), enc.end(), out_.begin() + static_cast<long>(g.at));
        }
        if (!rest || !regions_.empty()) pad(rnd(rng_, 0, 6));
        for (const Patch& p : patches_) {
            std::vector<uint8_t> enc = encode(p.type, p.value);
            if (p.at + enc.size() > out_.size()) {
                if (p.at + enc.size() > 4000) continue;
                while (out_.size() < p.at + enc.size()) out_.push_back(random_byte(rng_, false));
            }
            std::copy(enc.begin(), enc.end(), out_.begin() + static_cast<long>(p.at));
        }
        return std::move(out_);
    }

private:
    struct Patch {
        uint64_t at;
        IntType type;
        uint64_t value;
    };
    struct Region {
        uint64_t at;
        IntType type;
        uint32_t width;
    };
    std::mt19937_64& rng_;
    std::vector<uint8_t> out_;
    std::vector<Patch> patches_;
    std::vector<Region> regions_;
    bool letters_ = false;

    void pad(uint64_t n) {
        for (uint64_t i = 0; i < n; i++) out_.push_back(random_byte(rng_, letters_));
    }
    void append(const std::vector<uint8_t>& b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void open_region(IntType t) {
        uint32_t w = t == IntType::varint ? static_cast<uint32_t>(rnd(rng_, 1, 3)) : int_width(t);
        regions_.push_back({out_.size(), t, w});
        out_.resize(out_.size() + w, 0);
    }
    void relative_patch(const ValueTest& t, bool hold) {
        int64_t at = static_cast<int64_t>(out_.size()) + t.at;
        if (at < 0) return;
        patches_.push_back({static_cast<uint64_t>(at), t.type, value_for(t, t.type, rng_, hold)});
    }
    uint64_t small_length() { return coin(rng_, 10) ? 0 : rnd(rng_, 1, coin(rng_, 20) ? 60 : 12); }

    void step(const KeyStep& s) {
        if (const auto* sk = std::get_if<SkipStep>(&s.op)) {
            if (const auto* n = std::get_if<uint64_t>(&sk->amount)) {
                if (*n <= 3000) pad(*n);
            } else if (const auto* t = std::get_if<IntType>(&sk->amount)) {
                append(encode(*t, rng_() & type_max(*t),
                              *t == IntType::varint ? static_cast<uint32_t>(rnd(rng_, 1, 4)) : 0));
            } else {
                const FieldRef& f = std::get<FieldRef>(sk->amount);
                uint64_t n = small_length();
                patches_.push_back({f.at, f.type, n});
                pad(n);
            }
        } else if (const auto* sp = std::get_if<SkipPrefixedStep>(&s.op)) {
            uint64_t n = small_length();
            append(encode(sp->length, n));
            pad(n);
        } else if (const auto* ep = std::get_if<EnterPrefixedStep>(&s.op)) {
            open_region(ep->length);
        } else if (const auto* ft = std::get_if<FindTlvStep>(&s.op)) {
            for (uint64_t k = rnd(rng_, 0, 4); k > 0; k--) {
                uint64_t type = coin(rng_, 90) ? (rng_() & std::min<uint64_t>(type_max(ft->type), 0x3f)) : ft->value;
                if (type == ft->value && coin(rng_, 80)) type = (type + 1) & type_max(ft->type);
                uint64_t n = rnd(rng_, 0, 8);
                append(encode(ft->type, type));
                append(encode(ft->length, n));
                pad(n);
            }
            append(encode(ft->type, ft->value));
            open_region(ft->length);
        } else if (const auto* fn = std::get_if<FindNameStep>(&s.op)) {
            const std::string& want = fn->name;
            std::vector<std::string> decoys = {"user",
                                               "options",
                                               "application_name",
                                               want + "x",
                                               want.substr(0, want.size() - 1),
                                               "X" + want.substr(1)};
            for (uint64_t k = rnd(rng_, 0, 3); k > 0; k--) {
                std::string name = decoys[rng_() % decoys.size()];
                if (name.empty()) name = "u";
                append(std::vector<uint8_t>(name.begin(), name.end()));
                out_.push_back(0);
                for (uint64_t i = rnd(rng_, 0, 10); i > 0; i--) out_.push_back(random_byte(rng_, true));
                out_.push_back(0);
            }
            if (coin(rng_, 5)) {
                out_.push_back(0);  // the list ends first
            } else {
                append(std::vector<uint8_t>(want.begin(), want.end()));
                out_.push_back(0);
            }
        } else {
            const ValueTest& t = std::get<ExpectStep>(s.op).test;
            relative_patch(t, coin(rng_, 90));
        }
    }

    void take(const KeyTake& t) {
        letters_ = t.ignore_case || t.kind == TakeKind::cstring;
        uint64_t len = coin(rng_, 5) ? 0 : rnd(rng_, 1, std::min<uint64_t>(t.max_length, coin(rng_, 10) ? 300 : 24));
        if (coin(rng_, 3)) len = t.max_length + rnd(rng_, 0, 2);
        switch (t.kind) {
            case TakeKind::bytes:
                pad(t.count);
                break;
            case TakeKind::field:
                patches_.push_back({t.field.at, t.field.type, len});
                pad(len);
                break;
            case TakeKind::rest:
                pad(len);
                break;
            case TakeKind::cstring:
                pad(len);
                if (coin(rng_, 95)) out_.push_back(0);
                break;
            case TakeKind::dns_name: {
                uint64_t labels = coin(rng_, 5) ? 0 : rnd(rng_, 1, coin(rng_, 10) ? 70 : 5);
                for (uint64_t i = 0; i < labels; i++) {
                    uint64_t n = coin(rng_, 5) ? rnd(rng_, 64, 255) : rnd(rng_, 1, coin(rng_, 10) ? 63 : 10);
                    out_.push_back(static_cast<uint8_t>(n));
                    if (n <= 63) pad(n);
                }
                out_.push_back(0);
                break;
            }
            case TakeKind::prefixed:
                append(encode(t.length, len));
                pad(len);
                break;
        }
        letters_ = false;
    }
};

void mutate(std::vector<uint8_t>& m, std::mt19937_64& rng) {
    switch (rng() % 4) {
        case 0:
            for (uint64_t k = rnd(rng, 1, 3); k > 0 && !m.empty(); k--)
                m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
        case 1:
            if (!m.empty()) m.resize(rng() % m.size());
            break;
        case 2:
            for (uint64_t k = rnd(rng, 1, 8); k > 0; k--) m.push_back(static_cast<uint8_t>(rng()));
            break;
        case 3:
            if (!m.empty()) m[rng() % m.size()] = static_cast<uint8_t>(coin(rng, 50) ? 0 : 0xff);
            break;
    }
}

}  // namespace

std::vector<uint8_t> keyed_message(const RouteKey& key, std::mt19937_64& rng, bool do_mutate) {
    Builder b(rng);
    std::vector<uint8_t> m = b.build(key);
    if (do_mutate && coin(rng, 30)) mutate(m, rng);
    return m;
}

std::vector<uint8_t> random_route_message(const Description& d, std::mt19937_64& rng, size_t max_size) {
    std::vector<uint8_t> m;
    const Route& r = *d.route;
    if (coin(rng, 5)) {
        m.resize(rnd(rng, 0, 64));
        for (auto& b : m) b = static_cast<uint8_t>(rng());
    } else if (r.key && (!r.first_key || coin(rng, 50))) {
        m = keyed_message(*r.key, rng);
    } else if (r.first_key) {
        m = keyed_message(*r.first_key, rng);
    } else {
        m.resize(rnd(rng, 0, 100));
        for (auto& b : m) b = static_cast<uint8_t>(rng());
    }
    // Fields the rules test: matching values, mostly, so every rule gets its turn.
    for (const RouteRule& rule : r.rules) {
        if (rule.field && coin(rng, 40)) {
            const ValueTest& t = *rule.field;
            std::vector<uint8_t> enc = encode(t.type, value_for(t, t.type, rng, coin(rng, 80)));
            uint64_t at = static_cast<uint64_t>(t.at);
            if (at + enc.size() > m.size() && at + enc.size() <= max_size && coin(rng, 50))
                while (m.size() < at + enc.size()) m.push_back(static_cast<uint8_t>(rng()));
            if (at + enc.size() <= m.size()) std::copy(enc.begin(), enc.end(), m.begin() + static_cast<long>(at));
        }
        if (rule.size && coin(rng, 20)) {
            uint64_t want = value_for(*rule.size, IntType::u32, rng, coin(rng, 70));
            if (want <= max_size) m.resize(want, static_cast<uint8_t>(rng()));
        }
    }
    if (m.size() > max_size) m.resize(max_size);
    return m;
}

// ---- random route descriptions --------------------------------------------------

namespace {

const char* const kTypes[] = {"u8", "u16", "u24", "u32", "u64", "u16le", "u24le", "u32le", "u64le", "varint"};
const char* const kLengthTypes[] = {"u8", "u16", "u24", "u16le", "varint"};

std::string pick(std::mt19937_64& rng, std::initializer_list<const char*> items) {
    return *(items.begin() + static_cast<long>(rng() % items.size()));
}

uint64_t max_of(const std::string& type) {
    for (size_t i = 0; i < 10; i++)
        if (type == kTypes[i]) return type_max(static_cast<IntType>(i));
    return 255;
}

// { at = .., type = .., equals/in/min/max = .. } (relative: at may be negative).
std::string random_test(std::mt19937_64& rng, bool relative, bool with_at) {
    std::string type = coin(rng, 60) ? "u8" : kTypes[rng() % 10];
    uint64_t most = std::min<uint64_t>(max_of(type), 1000);
    std::ostringstream o;
    o << "{ ";
    if (with_at)
        o << "at = " << (relative ? static_cast<int64_t>(rnd(rng, 0, 12)) - 4 : static_cast<int64_t>(rnd(rng, 0, 30)))
          << ", ";
    o << "type = \"" << type << "\", ";
    uint64_t mask = 0;
    if (coin(rng, 20) && type != "varint") {
        mask = rnd(rng, 1, std::min<uint64_t>(max_of(type), 0xff));
        o << "mask = " << mask << ", ";
    }
    auto val = [&] {
        uint64_t v = rnd(rng, 0, most);
        return mask ? (v & mask) : v;
    };
    switch (rng() % 4) {
        case 0:
            o << "equals = " << val();
            break;
        case 1: {
            std::vector<uint64_t> vs;
            for (uint64_t k = rnd(rng, 1, 4); k > 0; k--) {
                uint64_t v = val();
                if (std::find(vs.begin(), vs.end(), v) == vs.end()) vs.push_back(v);
            }
            o << "in = [";
            for (size_t i = 0; i < vs.size(); i++) o << (i ? ", " : "") << vs[i];
            o << "]";
            break;
        }
        case 2:
            o << "min = " << val();
            break;
        default: {
            uint64_t a = val(), b = val();
            o << "min = " << std::min(a, b) << ", max = " << std::max(a, b);
        }
    }
    o << " }";
    return o.str();
}

std::string random_steps(std::mt19937_64& rng, bool first) {
    std::ostringstream o;
    o << "[\n";
    for (uint64_t n = rnd(rng, 0, 6); n > 0; n--) {
        o << "  { ";
        switch (rng() % 9) {
            case 0:
                o << "skip = " << rnd(rng, 1, 20);
                break;
            case 1:
                o << "skip = \"" << kTypes[rng() % 10] << "\"";
                break;
            case 2:
                o << "skip = { at = " << rnd(rng, 0, 12) << ", type = \"" << pick(rng, {"u8", "u16", "u16le"})
                  << "\" }";
                break;
            case 3:
                o << "skip_prefixed = \"" << kLengthTypes[rng() % 5] << "\"";
                break;
            case 4:
                o << "enter_prefixed = \"" << kLengthTypes[rng() % 5] << "\"";
                break;
            case 5: {
                std::string type = pick(rng, {"u8", "u16", "varint", "u16le"});
                o << "find_tlv = " << rnd(rng, 0, 5) << ", type = \"" << type << "\", length = \""
                  << kLengthTypes[rng() % 5] << "\"";
                break;
            }
            case 6:
                o << "find_name = \"" << pick(rng, {"database", "user", "a", "client_encoding"}) << "\"";
                break;
            case 7:
                o << "expect = " << random_test(rng, true, true);
                break;
            default:
                if (coin(rng, 50))
                    o << "expect = " << rnd(rng, 0, 255) << (coin(rng, 30) ? ", at = -1" : "");
                else
                    o << "expect = [" << rnd(rng, 0, 3) << ", " << rnd(rng, 4, 9) << "], type = \"u8\"";
        }
        if (coin(rng, 15)) o << ", when = " << random_test(rng, true, true);
        o << " },\n";
    }
    uint64_t most = first ? kMaxFirstKeyLength : 300;
    uint64_t max_length = coin(rng, 50) ? rnd(rng, 1, most) : 0;
    o << "  { ";
    switch (rng() % 6) {
        case 0:
            o << "take = " << rnd(rng, 1, max_length ? max_length : std::min<uint64_t>(most, 255));
            break;
        case 1:
            o << "take = { at = " << rnd(rng, 0, 10) << ", type = \"" << pick(rng, {"u8", "u16", "u16le"}) << "\" }";
            break;
        case 2:
            o << "take = \"rest\"";
            break;
        case 3:
            o << "take = \"cstring\"";
            break;
        case 4:
            o << "take = \"dns-name\"";
            break;
        default:
            o << "take_prefixed = \"" << kLengthTypes[rng() % 5] << "\"";
    }
    if (max_length) o << ", max_length = " << max_length;
    if (coin(rng, 40)) o << ", ignore_case = true";
    o << " },\n]\n";
    return o.str();
}

}  // namespace

std::string random_route_toml(std::mt19937_64& rng, const std::string& name) {
    std::ostringstream o;
    uint64_t max_message = rnd(rng, 2000, 70000);
    o << "name = \"" << name << "\"\nmax_message = " << max_message << "\n[length]\nwidth = 4\nheader = 0\n\n[route]\n";
    bool key = coin(rng, 85), first = coin(rng, 40);
    if (key) o << "key = " << random_steps(rng, false);
    if (first || !key) o << "first_key = " << random_steps(rng, true);
    for (uint64_t n = rnd(rng, 0, 5); n > 0; n--) {
        o << "\n[[route.rule]]\n";
        bool any = false;
        if (coin(rng, 60)) o << "field = " << random_test(rng, false, true) << "\n", any = true;
        if (coin(rng, 25)) {
            uint64_t a = rnd(rng, 0, 3000), b = rnd(rng, 0, 3000);
            o << "size = { min = " << std::min(a, b) << ", max = " << std::max(a, b) << " }\n";
            any = true;
        }
        if (key && (coin(rng, 20) || !any))
            o << "has_key = " << (coin(rng, 50) ? "true" : "false") << "\n";
        else if (!any)
            o << "size = { min = " << rnd(rng, 0, 3000) << " }\n";
        switch (rng() % 3) {
            case 0:
                o << "action = \"drop\"\n";
                break;
            case 1:
                o << "action = \"pass\"\n";
                break;
            default:
                o << "group = \"" << pick(rng, {"a", "b", "c-1"}) << "\"\n";
        }
    }
    return o.str();
}

RouteVerdict check_route(const Description& d, RouteFn route, FirstKeyFn first_key, std::span<const uint8_t> message,
                         std::mt19937_64& rng) {
    RouteVerdict v;
    std::vector<uint8_t> buf;
    size_t before = rng() % 8, after = coin(rng, 30) ? 0 : rng() % 8;
    for (size_t i = 0; i < before; i++) buf.push_back(static_cast<uint8_t>(rng()));
    buf.insert(buf.end(), message.begin(), message.end());
    for (size_t i = 0; i < after; i++) buf.push_back(static_cast<uint8_t>(rng()));
    char text[512];
    auto fail = [&](const std::string& what) {
        if (v.ok) {
            v.ok = false;
            v.problem = what;
        }
    };
    if (route) {
        RouteDecision want = decide_route(d, message);
        sf_route got;
        std::memset(&got, 0x5a, sizeof got);
        route(buf.data(), buf.size(), before, message.size(), &got);
        v.has_key = want.has_key;
        if (got.has_key != (want.has_key ? 1u : 0u) || (want.has_key && got.key_hash != want.key_hash) ||
            (!want.has_key && got.key_hash != 0) || got.action != static_cast<uint32_t>(want.action) ||
            got.rule != want.rule || got.group != want.group) {
            std::snprintf(text, sizeof text,
                          "sf_route_message: has_key %u hash %016llx action %u rule %u group %u; decide_route: has_key "
                          "%d hash %016llx action %d rule %u group %u",
                          got.has_key, (unsigned long long)got.key_hash, got.action, got.rule, got.group, want.has_key,
                          (unsigned long long)want.key_hash, static_cast<int>(want.action), want.rule, want.group);
            fail(text);
        }
    }
    if (first_key && d.route && d.route->first_key) {
        KeyLookup want = find_key(*d.route->first_key, message);
        auto got = std::make_unique<sf_key>();
        std::memset(got.get(), 0x5a, sizeof *got);
        first_key(buf.data(), buf.size(), before, message.size(), got.get());
        bool same = got->has_key == (want.found ? 1u : 0u);
        if (same && want.found)
            same =
                got->len == want.length && got->offset == want.offset && got->hash == want.hash &&
                std::memcmp(got->bytes, want.bytes.data(), want.bytes.size()) == 0 &&
                std::all_of(got->bytes + want.bytes.size(), got->bytes + SF_KEY_MAX, [](uint8_t b) { return b == 0; });
        if (same && !want.found) same = got->len == 0 && got->hash == 0;
        v.has_key |= want.found;
        if (!same) {
            std::snprintf(text, sizeof text,
                          "sf_first_message_key: has_key %u offset %llu len %u hash %016llx; find_key: found %d offset "
                          "%llu len %llu hash %016llx (%s)",
                          got->has_key, (unsigned long long)got->offset, got->len, (unsigned long long)got->hash,
                          want.found, (unsigned long long)want.offset, (unsigned long long)want.length,
                          (unsigned long long)want.hash, want.found ? "" : want.why.c_str());
            fail(text);
        }
    }
    return v;
}

}  // namespace sockframe::diff
