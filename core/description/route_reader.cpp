// [route] -> Route. Every mistake names file:line:col, the key (route.key[2].skip)
// and what is allowed; a key that no message within the description's limits
// can hold, and a rule that can never match, are errors too.
#include "description/route_reader.hpp"

#include <cstdio>
#include <set>

namespace sockframe {
namespace {

struct IntTypeName {
    const char* name;
    IntType type;
};
constexpr IntTypeName kIntTypeNames[] = {
    {"u8", IntType::u8},       {"u16", IntType::u16},       {"u24", IntType::u24},     {"u32", IntType::u32},
    {"u64", IntType::u64},     {"u16le", IntType::u16le},   {"u24le", IntType::u24le}, {"u32le", IntType::u32le},
    {"u64le", IntType::u64le}, {"varint", IntType::varint},
};
constexpr const char* kIntTypes =
    "\"u8\", \"u16\", \"u24\", \"u32\", \"u64\" (big-endian), \"u16le\", \"u24le\", \"u32le\", \"u64le\" or "
    "\"varint\" (MQTT variable byte integer, 1-4 bytes)";

constexpr const char* kVerbsText =
    "skip, skip_prefixed, enter_prefixed, find_tlv, find_name, expect, take, take_prefixed";

// What a step verb may be written with.
struct Verb {
    const char* name;
    std::initializer_list<std::string_view> keys;  // the verb first
};
const Verb kVerbs[] = {
    {"skip", {"skip", "when"}},
    {"skip_prefixed", {"skip_prefixed", "when"}},
    {"enter_prefixed", {"enter_prefixed", "when"}},
    {"find_tlv", {"find_tlv", "type", "length", "when"}},
    {"find_name", {"find_name", "when"}},
    {"expect", {"expect", "at", "type", "mask", "when"}},
    {"take", {"take", "ignore_case", "max_length"}},
    {"take_prefixed", {"take_prefixed", "ignore_case", "max_length"}},
};

// Keys people reach for that no step can offer, with the reason (`sockframe check`
// explains instead of saying "unknown key").
struct Impossible {
    std::initializer_list<std::string_view> words;
    const char* why;
};
const Impossible kImpossibleSteps[] = {
    {{"find_text", "search", "find", "regex", "match", "header", "find_header", "grep", "contains"},
     "a key found by searching text (an HTTP Host header, a STOMP destination, an SMTP recipient) would need a "
     "scan of text of any length for a pattern in every message, more than a bounded kernel program can do per "
     "message; keys are found by offsets, lengths, type-length-value entries and NUL-terminated names"},
    {{"json", "json_path", "jsonpath", "xml", "xpath", "bson", "protobuf", "field_number", "asn1", "ber"},
     "a key inside a self-describing nested encoding (JSON, XML, BSON, protobuf, ASN.1 BER) means parsing "
     "structure of any depth to find a member (MongoDB's collection name sits in a BSON document, LDAP's base DN "
     "in BER)"},
    {{"repeat", "count", "nth", "index", "element"},
     "counted repetition (the Nth element of a list whose count is in the message, Redis's key as the second bulk "
     "string) is not a step; find_tlv walks entries until a type matches, which covers type-length-value lists"},
    {{"reassemble", "defragment", "across", "join", "concat"},
     "a key spanning two messages (a TLS ClientHello fragmented over two records) is out of reach: a key lies "
     "within one message, and such a message has no key"},
};

// `take = "..."` values people try, with where the real thing is.
struct TakeHint {
    std::initializer_list<std::string_view> words;
    const char* hint;
};
const TakeHint kTakeHints[] = {
    {{"sni", "server_name", "server-name", "host", "hostname"},
     "the TLS server name is written as steps through the ClientHello: see first_key in parsers/tls-records.toml"},
    {{"database", "user", "dbname"},
     "the PostgreSQL database or user is found with find_name = \"database\" then take = \"cstring\": see "
     "parsers/postgresql.toml"},
    {{"client_id", "client-id", "clientid"},
     "the MQTT client identifier is written as steps through CONNECT: see first_key in parsers/mqtt.toml"},
    {{"topic"},
     "an MQTT PUBLISH topic is take_prefixed = \"u16\" after the fixed header; a Kafka topic cannot be a key: it "
     "follows the client id in a request body whose layout depends on api_key and api_version (compact strings and "
     "tagged fields in flexible versions), so no one step sequence finds it in every request"},
    {{"key"},
     "say where the key is: take = N bytes, take = { at = OFFSET, type = \"u16\" } (a length field), \"rest\", "
     "\"cstring\" or \"dns-name\", or take_prefixed = TYPE"},
};

constexpr const char* kTakeKinds =
    "a byte count, a length field { at = OFFSET, type = \"u16\" }, \"rest\" (to the end of the field or message), "
    "\"cstring\" (up to a NUL) or \"dns-name\" (DNS labels in wire form)";

bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
    return std::find(words.begin(), words.end(), s) != words.end();
}

uint64_t type_max(IntType t) {
    if (t == IntType::varint) return (1ULL << 28) - 1;
    uint32_t w = int_width(t);
    return w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
}

// The fewest bytes an integer of type t takes.
uint64_t min_width(IntType t) {
    return t == IntType::varint ? 1 : int_width(t);
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

bool valid_group_name(const std::string& n) {
    if (n.empty() || n.size() > 48 || n[0] < 'a' || n[0] > 'z') return false;
    return std::all_of(n.begin(), n.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Where a test's `at` is measured from.
enum class TestPlace { relative, absolute, size };

class RouteReader {
public:
    RouteReader(const Description& d, const std::string& source) : d_(d), source_(source) {}

    Route read(const TableReader& rr, const toml::node* node) {
        Route route;
        route.line = node->source().begin.line;
        const toml::table& t = *node->as_table();
        TableReader r(t, "route.", source_);
        r.allow_only({"key", "first_key", "rule"});
        if (const toml::node* k = r.find("key")) route.key = read_key(r, k, "key", d_.max_message, kMaxKeyLength);
        if (const toml::node* k = r.find("first_key")) {
            uint64_t limit = d_.first && d_.first->length ? d_.first->max_message
                             : d_.first                   ? d_.first->preface.size()
                                                          : d_.max_message;
            if (d_.first && !d_.first->length)
                r.fail(
                    k, "first_key",
                    "the first message is the fixed preface \"" + escape_bytes(d_.first->preface) +
                        "\": it holds no key; allowed: first_key with [first_length] or without a first message rule");
            route.first_key = read_key(r, k, "first_key", limit, kMaxFirstKeyLength);
        }
        if (const toml::node* rules = r.find("rule")) read_rules(r, rules, route);
        if (!route.key && !route.first_key && route.rules.empty())
            rr.fail(node, "route",
                    "is empty; allowed: key = [steps], first_key = [steps] and [[route.rule]] tables (at least one)");
        return route;
    }

private:
    const Description& d_;
    const std::string& source_;

    // ---- values ---------------------------------------------------------------
    IntType read_int_type(const TableReader& r, const toml::node* n, std::string_view key) const {
        auto s = n->value_exact<std::string>();
        if (!s) r.fail(n, key, "must be a string; allowed: " + std::string(kIntTypes));
        for (const auto& t : kIntTypeNames)
            if (*s == t.name) return t.type;
        r.fail(n, key, "\"" + escape_bytes(*s) + "\" is not allowed; allowed: " + kIntTypes);
    }

    uint64_t read_uint(const TableReader& r, const toml::node* n, std::string_view key, uint64_t lo, uint64_t hi,
                       const std::string& allowed) const {
        auto v = n->value_exact<int64_t>();
        if (!v) r.fail(n, key, "must be an integer; allowed: " + allowed);
        if (*v < 0 || static_cast<uint64_t>(*v) < lo || static_cast<uint64_t>(*v) > hi)
            r.fail(n, key, std::to_string(*v) + " is out of range; allowed: " + allowed);
        return static_cast<uint64_t>(*v);
    }

    // { at = N, type = "u16" }: an integer field at a fixed offset of the message.
    FieldRef read_field_ref(const TableReader& parent, const toml::node* n, std::string_view key,
                            uint64_t limit) const {
        const toml::table* t = n->as_table();
        TableReader r(*t, parent.prefix() + std::string(key) + ".", source_);
        r.allow_only({"at", "type"});
        FieldRef f;
        const toml::node* at = r.find("at");
        std::string allowed = range_text(0, 65535) + " (bytes from the message start)";
        if (!at) r.fail(nullptr, "at", "is required; allowed: " + allowed);
        f.at = static_cast<uint32_t>(read_uint(r, at, "at", 0, 65535, allowed));
        const toml::node* type = r.find("type");
        if (!type) r.fail(nullptr, "type", "is required; allowed: " + std::string(kIntTypes));
        f.type = read_int_type(r, type, "type");
        if (f.at + min_width(f.type) > limit)
            r.fail(at, "at",
                   "the field ends beyond byte " + std::to_string(limit) +
                       ", the largest message: no message holds it; allowed: " + range_text(0, limit - 1));
        return f;
    }

    // A test: an integer (equals), an array (in), or { at, type, mask, equals | in | min/max }.
    ValueTest read_test(const TableReader& parent, const toml::node* n, std::string_view key, TestPlace place,
                        uint64_t limit) const {
        ValueTest t;
        std::string prefix = parent.prefix() + std::string(key) + ".";
        auto check_fits = [&](const TableReader& r, const toml::node* at, std::string_view k, uint64_t v) {
            uint64_t most = place == TestPlace::size ? limit : type_max(t.type);
            if (v > most)
                r.fail(at, k,
                       std::to_string(v) +
                           (place == TestPlace::size
                                ? " is above max_message = " + std::to_string(limit) + ": no message has that size"
                                : std::string(" does not fit in ") + int_type_name(t.type)) +
                           "; allowed: " + range_text(0, most));
            if (t.mask && (v & ~*t.mask))
                r.fail(at, k,
                       hex(v) + " has bits outside mask " + hex(*t.mask) +
                           ": the test can never hold; allowed: values within the mask");
        };
        auto read_values = [&](const TableReader& r, const toml::node* v, std::string_view k) {
            if (v->is_integer()) {
                uint64_t x = read_uint(r, v, k, 0, ~0ULL >> 1, "a non-negative integer");
                check_fits(r, v, k, x);
                t.in.push_back(x);
                return;
            }
            const toml::array* a = v->as_array();
            if (!a || a->empty() || a->size() > 64) r.fail(v, k, "must be an integer or an array of 1 to 64 integers");
            for (const auto& item : *a) {
                uint64_t x = read_uint(r, &item, k, 0, ~0ULL >> 1, "non-negative integers");
                check_fits(r, &item, k, x);
                if (std::find(t.in.begin(), t.in.end(), x) != t.in.end())
                    r.fail(&item, k, std::to_string(x) + " is given twice");
                t.in.push_back(x);
            }
        };
        if (!n->is_table()) {
            if (place == TestPlace::absolute)
                parent.fail(n, key,
                            "must be a table; allowed: { at = OFFSET, type = \"u8\", equals = N } (or in = [...], "
                            "min = N, max = N; optional mask)");
            TableReader r(parent.table(), parent.prefix(), source_);
            read_values(r, n, key);
            return t;
        }
        TableReader r(*n->as_table(), prefix, source_);
        if (place == TestPlace::size)
            r.allow_only({"equals", "in", "min", "max"});
        else
            r.allow_only({"at", "type", "mask", "equals", "in", "min", "max"});
        if (place != TestPlace::size) {
            const toml::node* at = r.find("at");
            if (place == TestPlace::absolute) {
                std::string allowed = range_text(0, 65535) + " (bytes from the message start)";
                if (!at) r.fail(nullptr, "at", "is required; allowed: " + allowed);
                t.at = static_cast<int64_t>(read_uint(r, at, "at", 0, 65535, allowed));
            } else if (at) {
                auto v = at->value_exact<int64_t>();
                std::string allowed = "an integer from -65535 to 65535 (bytes from the cursor; negative looks back)";
                if (!v) r.fail(at, "at", "must be an integer; allowed: " + allowed);
                if (*v < -65535 || *v > 65535)
                    r.fail(at, "at", std::to_string(*v) + " is out of range; allowed: " + allowed);
                t.at = *v;
            }
            if (const toml::node* type = r.find("type")) t.type = read_int_type(r, type, "type");
            if (place == TestPlace::absolute && static_cast<uint64_t>(t.at) + min_width(t.type) > limit)
                r.fail(at, "at",
                       "the field ends beyond byte " + std::to_string(limit) +
                           ", the largest message: no message holds it; allowed: " + range_text(0, limit - 1));
            if (const toml::node* m = r.find("mask")) {
                uint64_t most = type_max(t.type);
                std::string allowed = "a non-zero integer that fits in " + std::string(int_type_name(t.type));
                uint64_t mask = read_uint(r, m, "mask", 1, ~0ULL >> 1, allowed);
                if (mask > most) r.fail(m, "mask", hex(mask) + " does not fit; allowed: " + allowed);
                t.mask = mask;
            }
        }
        const toml::node* eq = r.find("equals");
        const toml::node* in = r.find("in");
        const toml::node* mn = r.find("min");
        const toml::node* mx = r.find("max");
        const char* groups = "give one of equals = N, in = [N, ...], or min = N and/or max = N";
        if (eq && in) r.fail(in, "in", std::string(groups) + ", not both equals and in");
        if ((eq || in) && (mn || mx)) r.fail(mn ? mn : mx, mn ? "min" : "max", std::string(groups) + ", not a mix");
        if (!eq && !in && !mn && !mx) parent.fail(n, key, std::string("needs a test: ") + groups);
        if (eq) {
            if (!eq->is_integer()) r.fail(eq, "equals", "must be an integer; use in = [...] for a set");
            read_values(r, eq, "equals");
        }
        if (in) {
            if (!in->is_array()) r.fail(in, "in", "must be an array of 1 to 64 integers; use equals = N for one value");
            read_values(r, in, "in");
        }
        std::string most = place == TestPlace::size ? std::to_string(limit) : std::to_string(type_max(t.type));
        if (mn) {
            t.min = read_uint(r, mn, "min", 0, ~0ULL >> 1, "a non-negative integer");
            check_fits(r, mn, "min", *t.min);
        }
        if (mx) {
            t.max = read_uint(r, mx, "max", 0, ~0ULL >> 1, "a non-negative integer");
            check_fits(r, mx, "max", *t.max);
        }
        if (t.min && t.max && *t.min > *t.max)
            r.fail(mx, "max",
                   std::to_string(*t.max) + " is below min = " + std::to_string(*t.min) + ": the test can never hold");
        return t;
    }

    // ---- keys -----------------------------------------------------------------
    RouteKey read_key(const TableReader& r, const toml::node* n, const char* key, uint64_t limit, uint32_t max_key) {
        RouteKey k;
        k.line = n->source().begin.line;
        const toml::array* a = n->as_array();
        std::string shape = "an array of steps, e.g. key = [ { skip = 6 }, { take = 1 } ], the last one a take";
        if (!a || a->empty() || !a->is_array_of_tables()) r.fail(n, key, "must be " + shape);
        if (a->size() > 32) r.fail(n, key, "has " + std::to_string(a->size()) + " steps; allowed: 1 to 32");
        uint64_t reach = 0;  // the least number of bytes a message needs for the steps so far
        for (size_t i = 0; i < a->size(); i++) {
            const toml::table& st = *(*a)[i].as_table();
            TableReader sr(st, std::string("route.") + key + "[" + std::to_string(i) + "].", source_);
            bool last = i + 1 == a->size();
            read_step(sr, st, last, limit, max_key, k, reach);
        }
        return k;
    }

    void read_step(const TableReader& r, const toml::table& st, bool last, uint64_t limit, uint32_t max_key,
                   RouteKey& k, uint64_t& reach) {
        const Verb* verb = nullptr;
        const toml::node* verb_node = nullptr;
        for (const Verb& v : kVerbs) {
            const toml::node* n = r.find(v.name);
            if (!n) continue;
            if (verb)
                r.fail(n, v.name,
                       std::string("give one action per step (found ") + verb->name + " and " + v.name +
                           "); allowed: one of " + kVerbsText);
            verb = &v;
            verb_node = n;
        }
        std::string at_prefix = r.prefix().substr(0, r.prefix().size() - 1);
        if (!verb) {
            for (const auto& [name, value] : st)
                for (const Impossible& imp : kImpossibleSteps)
                    if (one_of(name.str(), imp.words))
                        r.fail(&value, name.str(), std::string("cannot be a key step: ") + imp.why);
            throw DescriptionError(source_, line_of(st), column_of(st), at_prefix,
                                   std::string("a step needs one action; allowed: ") + kVerbsText);
        }
        r.allow_only(verb->keys);
        bool is_take = verb->name == std::string_view("take") || verb->name == std::string_view("take_prefixed");
        if (is_take && !last)
            r.fail(verb_node, verb->name, "must be the last step: the key is taken where the steps end");
        if (!is_take && last)
            throw DescriptionError(source_, line_of(st), column_of(st), at_prefix,
                                   "the last step must take the key; allowed: take or take_prefixed");
        std::string_view name = verb->name;
        auto bump = [&](uint64_t bytes, const toml::node* at) {
            reach += bytes;
            if (reach > limit)
                r.fail(at, name,
                       "the key can never be found: the steps need at least " + std::to_string(reach) +
                           " bytes, and no message is longer than " + std::to_string(limit));
        };
        if (is_take) {
            KeyTake& t = k.take;
            t.line = line_of(st);
            t.column = column_of(st);
            if (const toml::node* ic = r.find("ignore_case")) {
                auto b = ic->value_exact<bool>();
                if (!b) r.fail(ic, "ignore_case", "must be true or false");
                t.ignore_case = *b;
            }
            std::string ml = range_text(1, max_key) + (max_key == kMaxFirstKeyLength ? " (a first-message key)" : "");
            if (const toml::node* m = r.find("max_length"))
                t.max_length = static_cast<uint32_t>(read_uint(r, m, "max_length", 1, max_key, ml));
            uint64_t least = 1;
            if (name == "take_prefixed") {
                t.kind = TakeKind::prefixed;
                t.length = read_int_type(r, verb_node, name);
                least = min_width(t.length) + 1;
            } else if (verb_node->is_integer()) {
                t.kind = TakeKind::bytes;
                t.count = read_uint(
                    r, verb_node, name, 1, t.max_length,
                    range_text(1, t.max_length) + " (at most max_length = " + std::to_string(t.max_length) + ")");
                least = t.count;
            } else if (verb_node->is_table()) {
                t.kind = TakeKind::field;
                t.field = read_field_ref(r, verb_node, name, limit);
            } else if (auto s = verb_node->value_exact<std::string>()) {
                if (*s == "rest")
                    t.kind = TakeKind::rest;
                else if (*s == "cstring")
                    t.kind = TakeKind::cstring, least = 2;
                else if (*s == "dns-name")
                    t.kind = TakeKind::dns_name;
                else {
                    for (const TakeHint& h : kTakeHints)
                        if (one_of(*s, h.words))
                            r.fail(verb_node, name, "\"" + escape_bytes(*s) + "\" is not a take kind: " + h.hint);
                    r.fail(verb_node, name, "\"" + escape_bytes(*s) + "\" is not allowed; allowed: " + kTakeKinds);
                }
            } else {
                r.fail(verb_node, name, std::string("allowed: ") + kTakeKinds);
            }
            bump(least, verb_node);
            return;
        }

        KeyStep s;
        s.line = line_of(st);
        s.column = column_of(st);
        if (const toml::node* w = r.find("when")) s.when = read_test(r, w, "when", TestPlace::relative, limit);
        uint64_t least = 0;
        if (name == "skip") {
            SkipStep sk;
            std::string allowed =
                "a byte count (" + range_text(1, kMaxMessageLimit) + "), an integer type (" + kIntTypes +
                ") to skip one such integer, or a field { at = OFFSET, type = \"u8\" } whose value is "
                "the count";
            if (verb_node->is_integer()) {
                uint64_t n = read_uint(r, verb_node, name, 1, kMaxMessageLimit, allowed);
                sk.amount = n;
                least = n;
            } else if (verb_node->is_string()) {
                IntType t = read_int_type(r, verb_node, name);
                sk.amount = t;
                least = min_width(t);
            } else if (verb_node->is_table()) {
                sk.amount = read_field_ref(r, verb_node, name, limit);
            } else {
                r.fail(verb_node, name, "allowed: " + allowed);
            }
            s.op = sk;
        } else if (name == "skip_prefixed" || name == "enter_prefixed") {
            IntType t = read_int_type(r, verb_node, name);
            if (name == "skip_prefixed")
                s.op = SkipPrefixedStep{t};
            else
                s.op = EnterPrefixedStep{t};
            least = min_width(t);
        } else if (name == "find_tlv") {
            FindTlvStep f;
            const toml::node* type = r.find("type");
            const toml::node* length = r.find("length");
            if (!type)
                r.fail(nullptr, "type",
                       "is required: the integer type of each entry's type; allowed: " + std::string(kIntTypes));
            if (!length)
                r.fail(nullptr, "length",
                       "is required: the integer type of each entry's length; allowed: " + std::string(kIntTypes));
            f.type = read_int_type(r, type, "type");
            f.length = read_int_type(r, length, "length");
            f.value = read_uint(
                r, verb_node, name, 0, type_max(f.type),
                range_text(0, type_max(f.type)) + " (the entry type looked for, a " + int_type_name(f.type) + ")");
            s.op = f;
            least = min_width(f.type) + min_width(f.length);
        } else if (name == "find_name") {
            auto v = verb_node->value_exact<std::string>();
            std::string allowed = "1 to 64 printable ASCII characters (the name before the NUL)";
            if (!v) r.fail(verb_node, name, "must be a string; allowed: " + allowed);
            if (v->empty() || v->size() > 64)
                r.fail(verb_node, name, std::to_string(v->size()) + " characters is not allowed; allowed: " + allowed);
            for (unsigned char c : *v)
                if (c < 0x20 || c > 0x7e)
                    r.fail(verb_node, name, "\"" + escape_bytes(*v) + "\" is not allowed; allowed: " + allowed);
            s.op = FindNameStep{*v};
            least = v->size() + 1;
        } else if (name == "expect") {
            // expect = N / [N, ...] / { equals | in | min | max }, with at/type/mask beside it or inside.
            ValueTest t;
            if (verb_node->is_table()) {
                for (const char* k2 : {"at", "type", "mask"})
                    if (r.find(k2)) r.fail(r.find(k2), k2, "give it inside the expect table, not beside it");
                t = read_test(r, verb_node, name, TestPlace::relative, limit);
            } else {
                t = read_expect_flat(r, verb_node);
            }
            s.op = ExpectStep{t};
            least = 0;
        }
        if (s.when) least = 0;  // a step that may not run may consume nothing
        bump(least, verb_node);
        k.steps.push_back(std::move(s));
    }

    // expect = N or [N, ...] with optional at, type, mask beside it in the step.
    ValueTest read_expect_flat(const TableReader& r, const toml::node* v) const {
        ValueTest t;
        if (const toml::node* at = r.find("at")) {
            auto x = at->value_exact<int64_t>();
            std::string allowed = "an integer from -65535 to 65535 (bytes from the cursor; negative looks back)";
            if (!x) r.fail(at, "at", "must be an integer; allowed: " + allowed);
            if (*x < -65535 || *x > 65535)
                r.fail(at, "at", std::to_string(*x) + " is out of range; allowed: " + allowed);
            t.at = *x;
        }
        if (const toml::node* type = r.find("type")) t.type = read_int_type(r, type, "type");
        if (const toml::node* m = r.find("mask")) {
            std::string allowed = "a non-zero integer that fits in " + std::string(int_type_name(t.type));
            uint64_t mask = read_uint(r, m, "mask", 1, ~0ULL >> 1, allowed);
            if (mask > type_max(t.type)) r.fail(m, "mask", hex(mask) + " does not fit; allowed: " + allowed);
            t.mask = mask;
        }
        auto add = [&](const toml::node* n) {
            uint64_t x = read_uint(r, n, "expect", 0, ~0ULL >> 1, "a non-negative integer");
            if (x > type_max(t.type))
                r.fail(n, "expect",
                       std::to_string(x) + " does not fit in " + int_type_name(t.type) +
                           "; allowed: " + range_text(0, type_max(t.type)));
            if (t.mask && (x & ~*t.mask))
                r.fail(n, "expect",
                       hex(x) + " has bits outside mask " + hex(*t.mask) +
                           ": the test can never hold; allowed: values within the mask");
            if (std::find(t.in.begin(), t.in.end(), x) != t.in.end())
                r.fail(n, "expect", std::to_string(x) + " is given twice");
            t.in.push_back(x);
        };
        if (v->is_integer()) {
            add(v);
        } else if (const toml::array* a = v->as_array(); a && !a->empty() && a->size() <= 64) {
            for (const auto& item : *a) add(&item);
        } else {
            r.fail(v, "expect",
                   "allowed: an integer (equals), an array of 1 to 64 integers (in), or a table { at, type, mask, "
                   "equals | in | min | max }");
        }
        return t;
    }

    static uint32_t line_of(const toml::node& n) { return n.source().begin.line ? n.source().begin.line : 1; }
    static uint32_t column_of(const toml::node& n) { return n.source().begin.column ? n.source().begin.column : 1; }

    // ---- rules ----------------------------------------------------------------
    void read_rules(const TableReader& r, const toml::node* n, Route& route) {
        const toml::array* a = n->as_array();
        if (!a || a->empty() || !a->is_array_of_tables() || a->size() > 64)
            r.fail(n, "rule",
                   "must be 1 to 64 [[route.rule]] tables, each with conditions (field, size, has_key) and "
                   "action = \"drop\" or \"pass\", or group = \"NAME\"");
        std::set<std::string> names;
        int catch_all = -1;
        for (size_t i = 0; i < a->size(); i++) {
            const toml::table& t = *(*a)[i].as_table();
            TableReader rr(t, "route.rule[" + std::to_string(i) + "].", source_);
            rr.allow_only({"name", "field", "size", "has_key", "action", "group"});
            RouteRule rule;
            rule.line = rule.last_line = line_of(t);
            for (const auto& [k, v] : t) rule.last_line = std::max(rule.last_line, v.source().end.line);
            if (catch_all >= 0)
                throw DescriptionError(source_, rule.line, column_of(t), "route.rule[" + std::to_string(i) + "]",
                                       "can never match: rule " + std::to_string(catch_all) + " (line " +
                                           std::to_string(route.rules[catch_all].line) +
                                           ") has no conditions and matches every message first");
            if (const toml::node* nm = rr.find("name")) {
                auto s = nm->value_exact<std::string>();
                std::string allowed = "[a-z][a-z0-9-]*, at most 48 characters";
                if (!s || !valid_group_name(*s))
                    rr.fail(nm, "name",
                            (s ? "\"" + escape_bytes(*s) + "\" is not allowed" : std::string("must be a string")) +
                                "; allowed: " + allowed);
                if (!names.insert(*s).second)
                    rr.fail(nm, "name", "\"" + *s + "\" names two rules; allowed: a name of its own");
                rule.name = *s;
            }
            if (const toml::node* f = rr.find("field"))
                rule.field = read_test(rr, f, "field", TestPlace::absolute, d_.max_message);
            if (const toml::node* s = rr.find("size")) {
                if (!s->is_table())
                    rr.fail(s, "size",
                            "must be a table; allowed: { min = N, max = N } (either or both), { equals = N } or { in = "
                            "[...] }");
                rule.size = read_test(rr, s, "size", TestPlace::size, d_.max_message);
            }
            if (const toml::node* hk = rr.find("has_key")) {
                auto b = hk->value_exact<bool>();
                if (!b) rr.fail(hk, "has_key", "must be true or false");
                if (!route.key) rr.fail(hk, "has_key", "needs a key: give route.key = [steps]");
                rule.has_key = *b;
            }
            const toml::node* act = rr.find("action");
            const toml::node* grp = rr.find("group");
            const char* allowed =
                "action = \"drop\" (counted) or \"pass\", or group = \"NAME\" (route to that backend group)";
            if (act && grp)
                rr.fail(grp, "group", std::string("give either action or group, not both; allowed: ") + allowed);
            if (!act && !grp) rr.fail(nullptr, "action", std::string("is required; allowed: ") + allowed);
            if (act) {
                auto s = act->value_exact<std::string>();
                if (s && *s == "drop")
                    rule.action = RouteAction::drop;
                else if (s && *s == "pass")
                    rule.action = RouteAction::pass;
                else if (s && *s == "group")
                    rr.fail(act, "action", "name the group instead: group = \"NAME\"");
                else
                    rr.fail(act, "action",
                            (s ? "\"" + escape_bytes(*s) + "\" is not allowed" : std::string("must be a string")) +
                                "; allowed: " + allowed);
            } else {
                auto s = grp->value_exact<std::string>();
                std::string gallowed = "[a-z][a-z0-9-]*, at most 48 characters";
                if (!s || !valid_group_name(*s))
                    rr.fail(grp, "group",
                            (s ? "\"" + escape_bytes(*s) + "\" is not allowed" : std::string("must be a string")) +
                                "; allowed: " + gallowed);
                rule.action = RouteAction::group;
                auto it = std::find(route.groups.begin(), route.groups.end(), *s);
                rule.group = static_cast<uint32_t>(it - route.groups.begin());
                if (it == route.groups.end()) route.groups.push_back(*s);
            }
            if (!rule.field && !rule.size && !rule.has_key) catch_all = static_cast<int>(i);
            route.rules.push_back(std::move(rule));
        }
    }
};

}  // namespace

Route read_route(const TableReader& root, const toml::node* node, const Description& d) {
    if (!node->is_table())
        root.fail(node, "route", "must be a table: [route] with key = [steps], first_key = [steps], [[route.rule]]");
    return RouteReader(d, root.source()).read(root, node);
}

}  // namespace sockframe
