// [route] in words: what `sockframe check` prints after the framing rule.
#include <sstream>

#include "description/route_reader.hpp"

namespace sockframe {
namespace {

std::string number(uint64_t v) {
    std::string s = std::to_string(v);
    if (v > 9) {
        char buf[24];
        std::snprintf(buf, sizeof buf, " (0x%llx)", static_cast<unsigned long long>(v));
        s += buf;
    }
    return s;
}

std::string int_words(IntType t) {
    return t == IntType::varint ? "varint (1-4 bytes)" : int_type_name(t);
}

// "is one of 4, 5" / "is at least 1" ...
std::string test_words(const ValueTest& t) {
    std::string s;
    if (t.mask) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "masked with 0x%llx ", static_cast<unsigned long long>(*t.mask));
        s += buf;
    }
    if (t.in.size() == 1) {
        s += "is " + number(t.in[0]);
    } else if (!t.in.empty()) {
        s += "is one of ";
        for (size_t i = 0; i < t.in.size(); i++) s += (i ? ", " : "") + number(t.in[i]);
    } else if (t.min && t.max) {
        s += "is from " + number(*t.min) + " to " + number(*t.max);
    } else if (t.min) {
        s += "is at least " + number(*t.min);
    } else if (t.max) {
        s += "is at most " + number(*t.max);
    }
    return s;
}

std::string where_relative(const ValueTest& t) {
    if (t.at == 0) return "the " + int_words(t.type) + " here";
    if (t.at > 0) return "the " + int_words(t.type) + " " + std::to_string(t.at) + " bytes from here";
    return "the " + int_words(t.type) + " " + std::to_string(-t.at) + " bytes back";
}

std::string field_words(const FieldRef& f) {
    return "the " + int_words(f.type) + " at byte " + std::to_string(f.at);
}

std::string step_words(const KeyStep& s) {
    std::string w;
    if (s.when) w = "if " + where_relative(*s.when) + " " + test_words(*s.when) + ": ";
    if (const auto* sk = std::get_if<SkipStep>(&s.op)) {
        if (const auto* n = std::get_if<uint64_t>(&sk->amount))
            w += "skip " + std::to_string(*n) + (*n == 1 ? " byte" : " bytes");
        else if (const auto* t = std::get_if<IntType>(&sk->amount))
            w += "skip one " + int_words(*t);
        else
            w += "skip as many bytes as " + field_words(std::get<FieldRef>(sk->amount)) + " says";
    } else if (const auto* sp = std::get_if<SkipPrefixedStep>(&s.op)) {
        w += "skip a field prefixed by its " + int_words(sp->length) + " length";
    } else if (const auto* ep = std::get_if<EnterPrefixedStep>(&s.op)) {
        w += "enter the field prefixed by its " + int_words(ep->length) + " length (later steps stay inside it)";
    } else if (const auto* ft = std::get_if<FindTlvStep>(&s.op)) {
        w += "find the entry of type " + number(ft->value) + " among (" + int_words(ft->type) + " type, " +
             int_words(ft->length) +
             " length, value) entries up to the end of the field, and enter its value (at most " +
             std::to_string(kMaxTlvEntries) + " entries)";
    } else if (const auto* fn = std::get_if<FindNameStep>(&s.op)) {
        w += "find the name \"" + escape_bytes(fn->name) +
             "\" among NUL-terminated name/value pairs ended by an empty name, and move to its value (at most " +
             std::to_string(kMaxScanBytes) + " bytes looked at)";
    } else {
        const ValueTest& t = std::get<ExpectStep>(s.op).test;
        w += "require that " + where_relative(t) + " " + test_words(t);
    }
    return w;
}

std::string take_words(const KeyTake& t) {
    std::string w;
    switch (t.kind) {
        case TakeKind::bytes:
            w = "take " + std::to_string(t.count) + (t.count == 1 ? " byte" : " bytes");
            break;
        case TakeKind::field:
            w = "take as many bytes as " + field_words(t.field) + " says";
            break;
        case TakeKind::rest:
            w = "take the rest of the field (or of the message)";
            break;
        case TakeKind::cstring:
            w = "take the bytes up to the next NUL (not included)";
            break;
        case TakeKind::dns_name:
            w = "take a DNS name in wire form (labels with their length octets, through the root label; compression "
                "pointers are not followed)";
            break;
        case TakeKind::prefixed:
            w = "take the bytes counted by the " + int_words(t.length) + " length here";
            break;
    }
    w += "; at most " + std::to_string(t.max_length) + " bytes";
    if (t.ignore_case) w += ", ASCII case ignored (A-Z hashed as a-z)";
    return w;
}

void explain_key(std::ostringstream& o, const RouteKey& k, const char* what, const char* key) {
    o << "Routing key of " << what << " (route." << key << ", line " << k.line << "):\n";
    int n = 1;
    for (const KeyStep& s : k.steps) o << "  " << n++ << ". (line " << s.line << ") " << step_words(s) << ".\n";
    o << "  " << n << ". (line " << k.take.line << ") " << take_words(k.take) << ".\n";
    o << "A message where a step cannot be carried out, or whose key is empty or too long, has no key.\n";
}

std::string action_words(const Route& r, const RouteRule& rule) {
    switch (rule.action) {
        case RouteAction::drop:
            return "drop it (counted)";
        case RouteAction::pass:
            return "pass it (routed by the key as usual)";
        case RouteAction::group:
            return "route it to backend group \"" + r.groups[rule.group] + "\"";
    }
    return "?";
}

}  // namespace

std::string explain_route(const Description& d) {
    if (!d.route) return "";
    const Route& r = *d.route;
    std::ostringstream o;
    if (r.key) explain_key(o, *r.key, "every message", "key");
    if (r.first_key) explain_key(o, *r.first_key, "the stream's first message", "first_key");
    if (r.key || r.first_key)
        o << "Keys are hashed with FNV-1a 64 over their bytes (bpf/sockframe_hash.h) for consistent hashing.\n";
    if (!r.rules.empty()) {
        o << "Rules, in order; the first that matches decides, and a message no rule matches passes:\n";
        for (size_t i = 0; i < r.rules.size(); i++) {
            const RouteRule& rule = r.rules[i];
            o << "  rule " << i;
            if (!rule.name.empty()) o << " \"" << rule.name << "\"";
            o << " (line " << rule.line << "): ";
            std::vector<std::string> conds;
            if (rule.field)
                conds.push_back("the " + int_words(rule.field->type) + " at byte " + std::to_string(rule.field->at) +
                                " " + test_words(*rule.field));
            if (rule.size) conds.push_back("the message size " + test_words(*rule.size));
            if (rule.has_key) conds.push_back(*rule.has_key ? "the message has a key" : "the message has no key");
            if (conds.empty()) {
                o << "every message";
            } else {
                o << "when ";
                for (size_t c = 0; c < conds.size(); c++) o << (c ? " and " : "") << conds[c];
            }
            o << ": " << action_words(r, rule) << ".\n";
        }
        if (!r.groups.empty()) {
            o << "Backend groups:";
            for (size_t g = 0; g < r.groups.size(); g++) o << (g ? ", " : " ") << r.groups[g];
            o << ".\n";
        }
    }
    return o.str();
}

}  // namespace sockframe
