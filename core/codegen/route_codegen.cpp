// [route] -> BPF C. Each key step becomes a few lines of C under the TOML line it
// came from; loops (find_tlv, find_name) become bpf_loop callbacks generated per
// step with their constants inline. The semantics are route_eval.cpp's, step for
// step; the shared pieces live in bpf/sockframe_route.bpf.h.
#include "codegen/route_codegen.hpp"

#include <cstdio>
#include <sstream>
#include <vector>

#include "codegen/c_text.hpp"

namespace sockframe {
namespace {

// Tabs and spaces that put a continuation line under the first parameter.
std::string align_to(size_t column) {
    return std::string(column / 8, '\t') + std::string(column % 8, ' ');
}

std::string num(uint64_t v) {
    char buf[32];
    if (v < 1000000)
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    else
        std::snprintf(buf, sizeof buf, "0x%llx%s", static_cast<unsigned long long>(v), v > 0x7fffffffULL ? "ULL" : "");
    return buf;
}

// A test of `var` as a C condition.
std::string test_expr(const ValueTest& t, const std::string& var) {
    std::string x = t.mask ? "(" + var + " & " + hex_u64(*t.mask) + ")" : var;
    std::vector<std::string> parts;
    if (!t.in.empty()) {
        std::string s;
        for (size_t i = 0; i < t.in.size(); i++) s += (i ? " || " : "") + x + " == " + num(t.in[i]);
        parts.push_back(t.in.size() > 1 ? "(" + s + ")" : s);
    }
    if (t.min) parts.push_back(x + " >= " + num(*t.min));
    if (t.max) parts.push_back(x + " <= " + num(*t.max));
    std::string out;
    for (size_t i = 0; i < parts.size(); i++) out += (i ? " && " : "") + parts[i];
    return out;
}

class KeyEmitter {
public:
    KeyEmitter(const Description& d, const std::string& prefix) : prefix_(prefix) {
        std::istringstream in(d.source_text);
        for (std::string line; std::getline(in, line);) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines_.push_back(line);
        }
    }

    // The TOML line, trimmed, for a comment.
    std::string quote(uint32_t line) const {
        if (line == 0 || line > lines_.size()) return "";
        std::string s = lines_[line - 1];
        size_t a = s.find_first_not_of(" \t");
        if (a == std::string::npos) return "";
        size_t b = s.find_last_not_of(" \t");
        return comment_safe(s.substr(a, b - a + 1));
    }

    // The function NAME(cur, msg, total, w, &off, &len) that finds the key; callbacks go to `pre`.
    void emit(std::ostringstream& out, const RouteKey& k, const std::string& what) {
        std::ostringstream body;
        for (size_t i = 0; i < k.steps.size(); i++) emit_step(body, k.steps[i], i, "\t");
        emit_take(body, k.take);
        out << pre_.str();
        out << "/*\n * " << what << " (line " << k.line << "): where its bytes are, in *off and *len.\n"
            << " * 0, or -1 when the message has no key (a step cannot be carried out,\n"
            << " * or the key is empty or longer than " << k.take.max_length << " bytes).\n */\n"
            << "static __always_inline __sf_unused int " << prefix_
            << "(struct sf_cursor *cur, __u64 msg, __u64 total,\n"
            << align_to(std::string("static __always_inline __sf_unused int (").size() + prefix_.size())
            << "struct sf_route_walk *w, __u64 *off, __u64 *len)\n{\n"
            << "\t__u64 pos = 0, end = total";
        if (uses_v_) out << ", v = 0";
        if (uses_n_) out << ", n = 0";
        out << ";\n\n";
        if (!uses_w_) out << "\t(void)w;\n";
        out << body.str() << "}\n";
    }

private:
    std::string prefix_;
    std::vector<std::string> lines_;
    std::ostringstream pre_;
    bool uses_v_ = false, uses_n_ = false, uses_w_ = false;

    // sf_route_uint / sf_route_varint reading `type` at `at` within [0, end) into v (and n).
    std::string read_call(IntType t, const std::string& cur, const std::string& msg, const std::string& at,
                          const std::string& end, const std::string& v, const std::string& n) {
        if (t == IntType::varint)
            return "sf_route_varint(" + cur + ", " + msg + ", " + at + ", " + end + ", &" + v + ", &" + n + ")";
        return "sf_route_uint(" + cur + ", " + msg + ", " + at + ", " + end + ", " + std::to_string(int_width(t)) +
               ", " + (int_little_endian(t) ? "1" : "0") + ", &" + v + ")";
    }
    // The width of what read_call read: a constant, or n for a varint.
    std::string width_of(IntType t, const std::string& n) const {
        return t == IntType::varint ? n : std::to_string(int_width(t));
    }
    std::string read_local(IntType t, const std::string& at, const std::string& end) {
        uses_v_ = true;
        if (t == IntType::varint) uses_n_ = true;
        return read_call(t, "cur", "msg", at, end, "v", "n");
    }

    // A test relative to pos: "guard && read == 0 && test" (true when it holds).
    std::string relative_holds(const ValueTest& t) {
        std::string at = t.at == 0  ? "pos"
                         : t.at > 0 ? "pos + " + std::to_string(t.at)
                                    : "pos - " + std::to_string(-t.at);
        std::string s = t.at < 0 ? "pos >= " + std::to_string(-t.at) + " && " : "";
        return s + read_local(t.type, at, "end") + " == 0 && " + test_expr(t, "v");
    }

    void fail_if(std::ostringstream& o, const std::string& ind, const std::string& cond) {
        o << ind << "if (" << cond << ")\n" << ind << "\treturn -1;\n";
    }

    void emit_step(std::ostringstream& o, const KeyStep& s, size_t idx, std::string ind) {
        o << ind << "/* line " << s.line << ": " << quote(s.line) << " */\n";
        if (s.when) {
            o << ind << "if (" << relative_holds(*s.when) << ") {\n";
            ind += "\t";
        }
        if (const auto* sk = std::get_if<SkipStep>(&s.op)) {
            if (const auto* bytes = std::get_if<uint64_t>(&sk->amount)) {
                fail_if(o, ind, num(*bytes) + " > end - pos");
                o << ind << "pos += " << num(*bytes) << ";\n";
            } else if (const auto* t = std::get_if<IntType>(&sk->amount)) {
                if (*t == IntType::varint) {
                    fail_if(o, ind, read_local(*t, "pos", "end") + " < 0");
                    o << ind << "pos += n;\n";
                } else {
                    fail_if(o, ind, std::to_string(int_width(*t)) + " > end - pos");
                    o << ind << "pos += " << int_width(*t) << ";\n";
                }
            } else {
                const FieldRef& f = std::get<FieldRef>(sk->amount);
                fail_if(o, ind, read_local(f.type, std::to_string(f.at), "total") + " < 0 || v > end - pos");
                o << ind << "pos += v;\n";
            }
        } else if (const auto* sp = std::get_if<SkipPrefixedStep>(&s.op)) {
            std::string w = width_of(sp->length, "n");
            fail_if(o, ind, read_local(sp->length, "pos", "end") + " < 0 || v > end - pos - " + w);
            o << ind << "pos += " << w << " + v;\n";
        } else if (const auto* ep = std::get_if<EnterPrefixedStep>(&s.op)) {
            std::string w = width_of(ep->length, "n");
            fail_if(o, ind, read_local(ep->length, "pos", "end") + " < 0 || v > end - pos - " + w);
            o << ind << "pos += " << w << ";\n" << ind << "end = pos + v;\n";
        } else if (const auto* ft = std::get_if<FindTlvStep>(&s.op)) {
            std::string cb = emit_tlv_callback(*ft, s.line, idx);
            uses_w_ = true;
            o << ind << "w->pos = pos;\n"
              << ind << "w->end = end;\n"
              << ind << "w->found = 0;\n"
              << ind << "bpf_loop(SF_ROUTE_TLV_ENTRIES, " << cb << ", w, 0);\n";
            fail_if(o, ind, "!w->found");
            o << ind << "pos = w->pos;\n" << ind << "end = w->end;\n";
        } else if (const auto* fn = std::get_if<FindNameStep>(&s.op)) {
            std::string cb = emit_name_callback(*fn, s.line, idx);
            uses_w_ = uses_n_ = true;
            o << ind << "n = end - pos;\n"
              << ind << "if (n > SF_ROUTE_SCAN_BYTES)\n"
              << ind << "\tn = SF_ROUTE_SCAN_BYTES;\n"
              << ind << "w->pos = pos;\n"
              << ind << "w->end = end;\n"
              << ind << "w->found = 0;\n"
              << ind << "w->phase = 0;\n"
              << ind << "w->nlen = 0;\n"
              << ind << "w->match = 1;\n"
              << ind << "bpf_loop((__u32)n, " << cb << ", w, 0);\n";
            fail_if(o, ind, "!w->found");
            o << ind << "pos = w->pos;\n";
        } else {
            const ValueTest& t = std::get<ExpectStep>(s.op).test;
            fail_if(o, ind, "!(" + relative_holds(t) + ")");
        }
        if (s.when) {
            // Both ways on from here as one verifier state, not one per way.
            o << ind.substr(1) << "}\n" << ind.substr(1) << "pos = sf_opaque(cur, pos);\n" << ind.substr(1)
              << "end = sf_opaque(cur, end);\n";
        }
    }

    // find_tlv: one entry per call; narrows w->pos/end to the value of the entry found.
    std::string emit_tlv_callback(const FindTlvStep& f, uint32_t line, size_t idx) {
        std::string name = prefix_ + "_step" + std::to_string(idx);
        std::string wt = width_of(f.type, "nt"), wl = width_of(f.length, "nl");
        pre_ << "/* line " << line << ": " << quote(line) << "\n"
             << " * One (" << int_type_name(f.type) << " type, " << int_type_name(f.length)
             << " length, value) entry per call; stops at type " << f.value << ". */\n"
             << "static long " << name << "(__u32 i, void *data)\n{\n"
             << "\tstruct sf_route_walk *w = data;\n"
             << "\t__u64 pos = sf_opaque(w->cur, w->pos), end = w->end, t, l, vs";
        if (f.type == IntType::varint) pre_ << ", nt";
        if (f.length == IntType::varint) pre_ << ", nl";
        pre_ << ";\n\n\t(void)i;\n"
             << "\tif (pos >= end)\n\t\treturn 1; /* no entry of type " << f.value << " */\n"
             << "\tif (" << read_call(f.type, "w->cur", "w->msg", "pos", "end", "t", "nt") << " < 0 ||\n"
             << "\t    " << read_call(f.length, "w->cur", "w->msg", "pos + " + wt, "end", "l", "nl") << " < 0)\n"
             << "\t\treturn 1;\n"
             << "\tvs = pos + " << wt << " + " << wl << ";\n"
             << "\tif (l > end - vs)\n\t\treturn 1;\n"
             << "\tif (t == " << num(f.value) << ") {\n"
             << "\t\tw->pos = vs;\n\t\tw->end = vs + l;\n\t\tw->found = 1;\n\t\treturn 1;\n\t}\n"
             << "\tw->pos = vs + l;\n\treturn 0;\n}\n\n";
        return name;
    }

    // find_name: one byte per call, a small state machine (the same as route_eval.cpp's).
    std::string emit_name_callback(const FindNameStep& f, uint32_t line, size_t idx) {
        std::string name = prefix_ + "_step" + std::to_string(idx), byte_fn = prefix_ + "_name" + std::to_string(idx);
        pre_ << "/* \"" << comment_safe(escape_bytes(f.name)) << "\" byte by byte: a switch, not a const array\n"
             << " * (clang 14 puts small arrays in .rodata.cst*, which libbpf 1.1 rejects) */\n"
             << "static __always_inline __sf_unused int " << byte_fn << "(__u64 i)\n{\n\tswitch (i) {\n";
        for (size_t i = 0; i < f.name.size(); i++) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "\tcase %zu: return 0x%02x;\n", i, static_cast<unsigned char>(f.name[i]));
            pre_ << buf;
        }
        pre_ << "\t}\n\treturn -1;\n}\n\n"
             << "/* line " << line << ": " << quote(line) << "\n"
             << " * One byte per call of NUL-terminated name/value pairs; stops after the NUL\n"
             << " * of the name \"" << comment_safe(escape_bytes(f.name))
             << "\" (w->pos: its value) or at an empty name. */\n"
             << "static long " << name << "(__u32 i, void *data)\n{\n"
             << "\tstruct sf_route_walk *w = data;\n"
             << "\t__u64 pos = sf_opaque(w->cur, w->pos), nlen;\n\t__u8 b;\n\n\t(void)i;\n"
             << "\tif (pos >= w->end || sf_load(w->cur, w->msg + pos, &b, 1) < 0)\n\t\treturn 1;\n"
             << "\tw->pos = pos + 1;\n"
             << "\tif (sf_opaque(w->cur, w->phase)) { /* in a value: up to its NUL */\n"
             << "\t\tif (b == 0) {\n\t\t\tw->phase = 0;\n\t\t\tw->nlen = 0;\n\t\t\tw->match = 1;\n\t\t}\n\t\treturn "
                "0;\n\t}\n"
             << "\tnlen = sf_opaque(w->cur, w->nlen);\n"
             << "\tif (b == 0) {\n"
             << "\t\tif (nlen == 0)\n\t\t\treturn 1; /* an empty name ends the list */\n"
             << "\t\tif (sf_opaque(w->cur, w->match) && nlen == " << f.name.size() << ") {\n"
             << "\t\t\tw->found = 1;\n\t\t\treturn 1;\n\t\t}\n"
             << "\t\tw->phase = 1;\n\t\treturn 0;\n\t}\n"
             << "\tif (nlen >= " << f.name.size() << " || b != " << byte_fn << "(nlen))\n\t\tw->match = 0;\n"
             << "\tw->nlen = nlen + 1;\n\treturn 0;\n}\n\n";
        return name;
    }

    void emit_take(std::ostringstream& o, const KeyTake& t) {
        const std::string ind = "\t";
        o << ind << "/* line " << t.line << ": " << quote(t.line) << " */\n";
        switch (t.kind) {
            case TakeKind::bytes:
                fail_if(o, ind, num(t.count) + " > end - pos");
                o << ind << "*off = pos;\n" << ind << "*len = " << num(t.count) << ";\n";
                break;
            case TakeKind::field:
                fail_if(o, ind,
                        read_local(t.field.type, std::to_string(t.field.at), "total") + " < 0 || v > end - pos");
                o << ind << "*off = pos;\n" << ind << "*len = v;\n";
                break;
            case TakeKind::rest:
                o << ind << "*off = pos;\n" << ind << "*len = end - pos;\n";
                break;
            case TakeKind::cstring:
                uses_w_ = uses_n_ = true;
                fail_if(o, ind, "sf_route_cstring(w, pos, end, " + std::to_string(t.max_length) + ", &n) < 0");
                o << ind << "*off = pos;\n" << ind << "*len = n;\n";
                break;
            case TakeKind::dns_name:
                uses_w_ = uses_n_ = true;
                fail_if(o, ind, "sf_route_dns_name(w, pos, end, &n) < 0");
                o << ind << "*off = pos;\n" << ind << "*len = n;\n";
                break;
            case TakeKind::prefixed: {
                std::string w = width_of(t.length, "n");
                fail_if(o, ind, read_local(t.length, "pos", "end") + " < 0 || v > end - pos - " + w);
                o << ind << "*off = pos + " << w << ";\n" << ind << "*len = v;\n";
                break;
            }
        }
        if (t.kind != TakeKind::bytes)  // a count is 1..max_length by the reader
            fail_if(o, ind, "*len == 0 || *len > " + std::to_string(t.max_length));
        o << ind << "return 0;\n";
    }
};

const char* action_macro(RouteAction a) {
    switch (a) {
        case RouteAction::pass:
            return "SF_ROUTE_PASS";
        case RouteAction::drop:
            return "SF_ROUTE_DROP";
        case RouteAction::group:
            return "SF_ROUTE_GROUP";
    }
    return "SF_ROUTE_PASS";
}

void emit_route_message(std::ostringstream& o, const Description& d, const KeyEmitter& quotes) {
    const Route& r = *d.route;
    bool fields = false, varint_fields = false;
    for (const RouteRule& rule : r.rules)
        if (rule.field) {
            fields = true;
            varint_fields |= rule.field->type == IntType::varint;
        }
    o << "/*\n * Decides one whole message of `total` bytes starting at `pos` (the same\n"
      << " * cursor/pos convention as sf_frame_length): its key's hash, and the first\n"
      << " * rule that matches (none: pass). Reads with sf_load only.\n";
    for (size_t i = 0; i < r.rules.size(); i++) {
        const RouteRule& rule = r.rules[i];
        o << " *   rule " << i;
        if (!rule.name.empty()) o << " \"" << rule.name << "\"";
        o << " (line " << rule.line << "): ";
        switch (rule.action) {
            case RouteAction::drop:
                o << "drop";
                break;
            case RouteAction::pass:
                o << "pass";
                break;
            case RouteAction::group:
                o << "group " << rule.group << " \"" << comment_safe(r.groups[rule.group]) << "\"";
                break;
        }
        o << "\n";
    }
    o << " */\n"
      << "static __always_inline __sf_unused void sf_route_message(struct sf_cursor *cur, __u64 pos, __u64 total,\n"
      << align_to(std::string("static __always_inline __sf_unused void sf_route_message(").size())
      << "struct sf_route *out)\n{\n";
    if (r.key) o << "\tstruct sf_route_walk w = {.cur = cur, .msg = pos};\n\t__u64 off = 0, len = 0;\n";
    if (fields) o << "\t__u64 v = 0" << (varint_fields ? ", n = 0" : "") << ";\n";
    if (r.key || fields) o << "\n";
    o << "\tout->key_hash = 0;\n\tout->action = SF_ROUTE_PASS;\n\tout->group = 0;\n\tout->rule = SF_NO_RULE;\n"
      << "\tout->has_key = 0;\n";
    bool sizes = false;
    for (const RouteRule& rule : r.rules) sizes |= rule.size.has_value();
    if (!r.key && !fields) o << "\t(void)cur;\n\t(void)pos;\n";
    if (!r.key && !fields && !sizes) o << "\t(void)total;\n";
    if (r.key)
        o << "\tif (sf_route_key(cur, pos, total, &w, &off, &len) == 0 &&\n"
          << "\t    sf_route_hash(&w, off, len, " << (r.key->take.ignore_case ? 1 : 0) << ", &out->key_hash) == 0)\n"
          << "\t\tout->has_key = 1;\n"
          << "\telse\n\t\tout->key_hash = 0;\n";
    for (size_t i = 0; i < r.rules.size(); i++) {
        const RouteRule& rule = r.rules[i];
        std::vector<std::string> conds;
        if (rule.field) {
            const ValueTest& t = *rule.field;
            std::string call = t.type == IntType::varint
                                   ? "sf_route_varint(cur, pos, " + std::to_string(t.at) + ", total, &v, &n)"
                                   : "sf_route_uint(cur, pos, " + std::to_string(t.at) + ", total, " +
                                         std::to_string(int_width(t.type)) + ", " +
                                         (int_little_endian(t.type) ? "1" : "0") + ", &v)";
            conds.push_back(call + " == 0 && " + test_expr(t, "v"));
        }
        if (rule.size) conds.push_back(test_expr(*rule.size, "total"));
        if (rule.has_key) conds.push_back(*rule.has_key ? "out->has_key" : "!out->has_key");
        o << "\t/* rule " << i << ", line " << rule.line << ":";
        for (uint32_t l = rule.line + 1; l <= rule.last_line; l++)
            if (std::string q = quotes.quote(l); !q.empty() && q[0] != '#') o << "\n\t *   " << q;
        o << "\n\t */\n";
        std::string ind = "\t";
        if (!conds.empty()) {
            o << "\tif (";
            for (size_t c = 0; c < conds.size(); c++)
                o << (c ? " &&\n\t    " : "") << (conds.size() > 1 ? "(" + conds[c] + ")" : conds[c]);
            o << ") {\n";
            ind = "\t\t";
        }
        o << ind << "out->action = " << action_macro(rule.action) << ";\n";
        if (rule.action == RouteAction::group) o << ind << "out->group = " << rule.group << ";\n";
        o << ind << "out->rule = " << i << ";\n" << ind << "return;\n";
        if (!conds.empty()) o << "\t}\n";
    }
    o << "}\n";
}

void emit_first_message_key(std::ostringstream& o, const RouteKey& k) {
    int fold = k.take.ignore_case ? 1 : 0;
    o << "\n#define SF_HAS_FIRST_KEY 1\n\n"
      << "/*\n * The key of the stream's first message (`total` bytes at `pos`): its hash, where\n"
      << " * it is, and its bytes" << (fold ? " (ASCII-folded)" : "")
      << ", zero-padded to SF_KEY_MAX. out must be map\n"
      << " * memory. out->has_key = 0 when there is none.\n */\n"
      << "static __always_inline __sf_unused void sf_first_message_key(struct sf_cursor *cur, __u64 pos, __u64 total,\n"
      << align_to(std::string("static __always_inline __sf_unused void sf_first_message_key(").size())
      << "struct sf_key *out)\n{\n"
      << "\tstruct sf_route_walk w = {.cur = cur, .msg = pos};\n"
      << "\t__u64 off = 0, len = 0, hash = 0;\n\n"
      << "\tout->hash = 0;\n\tout->offset = 0;\n\tout->len = 0;\n\tout->has_key = 0;\n"
      << "\t__builtin_memset(out->bytes, 0, sizeof(out->bytes));\n"
      << "\tif (sf_first_key_find(cur, pos, total, &w, &off, &len) < 0 ||\n"
      << "\t    sf_route_hash(&w, off, len, " << fold << ", &hash) < 0 ||\n"
      << "\t    sf_route_copy_key(cur, pos, off, len, " << fold << ", out) < 0) {\n"
      << "\t\tout->len = 0;\n\t\treturn;\n\t}\n"
      << "\tout->hash = hash;\n\tout->offset = off;\n\tout->has_key = 1;\n}\n";
}

}  // namespace

void emit_route(std::ostringstream& o, const Description& d) {
    const Route& r = *d.route;
    o << "\n/* ---- routing ([route], line " << r.line << ") ---- */\n"
      << "#include \"sockframe_route.bpf.h\"\n\n";
    KeyEmitter quotes(d, "");
    if (r.key) {
        KeyEmitter e(d, "sf_route_key");
        e.emit(o, *r.key, "The routing key of every message");
        o << "\n";
    }
    o << "#define SF_HAS_ROUTE 1\n\n";
    emit_route_message(o, d, quotes);
    if (r.first_key) {
        o << "\n";
        KeyEmitter e(d, "sf_first_key_find");
        e.emit(o, *r.first_key, "The routing key of the stream's first message");
        emit_first_message_key(o, *r.first_key);
    }
    o << "\n#ifdef SOCKFRAME_HOST\n"
      << "/* Host entries for the differential tests (tests/differential). */\n"
      << "void sf_host_route(const unsigned char *data, __u64 len, __u64 pos, __u64 total, struct sf_route *out);\n"
      << "void sf_host_route(const unsigned char *data, __u64 len, __u64 pos, __u64 total, struct sf_route *out)\n{\n"
      << "\tstruct sf_cursor cur = {data, len, 0};\n\n\tsf_route_message(&cur, pos, total, out);\n}\n";
    if (r.first_key)
        o << "void sf_host_first_key(const unsigned char *data, __u64 len, __u64 pos, __u64 total, struct sf_key "
             "*out);\n"
          << "void sf_host_first_key(const unsigned char *data, __u64 len, __u64 pos, __u64 total, struct sf_key "
             "*out)\n{\n"
          << "\tstruct sf_cursor cur = {data, len, 0};\n\n\tsf_first_message_key(&cur, pos, total, out);\n}\n";
    o << "#endif\n";
}

}  // namespace sockframe
