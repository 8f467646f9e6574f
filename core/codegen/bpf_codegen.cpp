#include <sockframe/bpf_codegen.hpp>

#include "codegen/c_text.hpp"
#include "codegen/route_codegen.hpp"

#include <cstdio>
#include <sstream>
#include <variant>

namespace sockframe {
namespace {

// The description's own text, each line quoted, capped so a huge file stays readable.
std::string quoted_source(const Description& d) {
    std::ostringstream o;
    std::istringstream in(d.source_text);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (++lines > 60) {
            o << " *   [... " << "further lines not quoted]\n";
            break;
        }
        o << (line.empty() ? " *" : " *   " + comment_safe(line)) << "\n";
    }
    return o.str();
}

std::string basename_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string byte_compare(const std::string& var, const std::string& bytes) {
    std::ostringstream o;
    for (size_t i = 0; i < bytes.size(); i++) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%s%s[%zu] != 0x%02x", i ? " || " : "", var.c_str(), i,
                      static_cast<unsigned char>(bytes[i]));
        o << buf;
    }
    return o.str();
}

const char* encoding_name(const LengthEncoding& e) {
    if (std::holds_alternative<Leb128Length>(e)) return "leb128";
    if (std::holds_alternative<BerLength>(e)) return "ber";
    if (const AsciiLength* a = std::get_if<AsciiLength>(&e)) return a->hex ? "ascii-hex" : "ascii-decimal";
    return "uint";
}

// "(__u64)b[0] << 8 |\n\t    (__u64)b[1]": the bytes of `var` as one integer.
std::string assemble(const std::string& var, uint32_t width, ByteOrder order, const std::string& indent) {
    std::ostringstream o;
    for (uint32_t i = 0; i < width; i++) {
        uint32_t idx = order == ByteOrder::big ? i : width - 1 - i;
        uint32_t shift = 8 * (width - 1 - i);
        if (i) o << " |\n" << indent << "    ";
        o << "(__u64)" << var << "[" << idx << "]";
        if (shift) o << " << " << shift;
    }
    return o.str();
}

// uint field with [[escape]], [flag_width] or [[extra]]: the steps of probe_length() for them.
void emit_conditional_uint(std::ostringstream& o, const LengthField& lf, const UintLength& f) {
    const std::string off = std::to_string(lf.offset);
    o << "\t__u8 f[" << f.width << "];\n\t__u64 v, base = " << f.header << ";\n\n"
      << "\tif (room < " << lf.field_end() << ")\n\t\treturn SF_NEED_MORE;\n"
      << "\tif (sf_load(cur, pos + " << off << ", f, sizeof(f)) < 0)\n\t\treturn SF_NEED_MORE;\n";
    std::string masked = "\tv = " + assemble("f", f.width, f.byte_order, "\t") + ";\n";
    if (f.has_mask || f.shift) masked += "\tv = (v & " + hex_u64(f.mask) + "ULL) >> " + std::to_string(f.shift) + ";\n";
    if (f.flag_width) {
        const FlagWidth& w = *f.flag_width;
        char mask[8];
        std::snprintf(mask, sizeof mask, "0x%02x", w.mask);
        o << "\t{ /* flag_width: when byte " << w.at << " & " << mask << ", the field is " << w.width
          << " bytes wide, total = " << w.header << " + value */\n"
          << "\t\t__u8 c, w[" << w.width << "];\n\n"
          << "\t\tif (sf_load(cur, pos + " << w.at << ", &c, 1) < 0)\n\t\t\treturn SF_NEED_MORE;\n"
          << "\t\tif (c & " << mask << ") {\n"
          << "\t\t\tif (room < " << lf.offset + w.width << " || sf_load(cur, pos + " << off << ", w, sizeof(w)) < 0)\n"
          << "\t\t\t\treturn SF_NEED_MORE;\n"
          << "\t\t\tv = " << assemble("w", w.width, f.byte_order, "\t\t\t") << ";\n"
          << "\t\t\tbase = " << w.header << ";\n\t\t} else {\n";
        // the short form, one level deeper
        std::istringstream in(masked);
        std::string line;
        while (std::getline(in, line)) o << "\t\t" << line << "\n";
        o << "\t\t}\n\t}\n";
    } else {
        o << masked;
    }
    for (size_t i = 0; i < f.escapes.size(); i++) {
        const LengthEscape& e = f.escapes[i];
        o << (i ? " else if" : "\tif") << " (v == " << e.value << ") { /* escape: the length is the next " << e.width
          << (e.width > 1 ? " bytes" : " byte") << " */\n"
          << "\t\t__u8 e[" << e.width << "];\n\n"
          << "\t\tif (room < " << lf.field_end() + e.width << " || sf_load(cur, pos + " << lf.field_end()
          << ", e, sizeof(e)) < 0)\n\t\t\treturn SF_NEED_MORE;\n"
          << "\t\tv = " << assemble("e", e.width, f.byte_order, "\t\t") << ";\n"
          << "\t\tbase += " << e.width << ";\n\t}";
        if (i + 1 == f.escapes.size()) o << "\n";
    }
    for (const ExtraBytes& x : f.extras) {
        char mask[8];
        std::snprintf(mask, sizeof mask, "0x%02x", x.mask);
        o << "\t{ /* extra: " << x.bytes << " more header bytes when byte " << x.at << " & " << mask << " */\n"
          << "\t\t__u8 c;\n\n"
          << "\t\tif (sf_load(cur, pos + " << x.at << ", &c, 1) < 0)\n\t\t\treturn SF_NEED_MORE;\n"
          << "\t\tif (c & " << mask << ")\n\t\t\tbase += " << x.bytes << ";\n\t}\n";
    }
}

// The rule in the comment above the function: what each encoding reads.
void emit_rule_comment(std::ostringstream& o, const LengthField& lf, const UintLength& f) {
    std::string order = f.width == 1 ? "" : (f.byte_order == ByteOrder::big ? " big-endian" : " little-endian");
    o << f.width << "-byte" << order << " length at offset " << lf.offset << ";\n * total = " << f.header << " + value"
      << (lf.scale != 1 ? " * " + std::to_string(lf.scale) : "");
    if (f.has_mask || f.shift) o << ", value = (field & " << hex_u64(f.mask) << ") >> " << f.shift;
    if (f.flag_width) {
        char mask[8];
        std::snprintf(mask, sizeof mask, "0x%02x", f.flag_width->mask);
        o << ";\n * when byte " << f.flag_width->at << " & " << mask << ": a " << f.flag_width->width
          << "-byte field, total = " << f.flag_width->header << " + value";
    }
    for (const LengthEscape& e : f.escapes)
        o << ";\n * value " << e.value << ": the length is the " << e.width << "-byte integer after the field, total + "
          << e.width;
    for (const ExtraBytes& x : f.extras) {
        char mask[8];
        std::snprintf(mask, sizeof mask, "0x%02x", x.mask);
        o << ";\n * total + " << x.bytes << " when byte " << x.at << " & " << mask;
    }
}

void emit_rule_comment(std::ostringstream& o, const LengthField& lf, const VariableLength& f) {
    const AsciiLength* ascii = std::get_if<AsciiLength>(&lf.encoding);
    o << encoding_name(lf.encoding) << " length at offset " << lf.offset << " (at most " << f.max_size
      << (ascii ? " digits" : " bytes");
    if (ascii && ascii->digits) o << ", exactly " << ascii->digits << " digits";
    if (ascii && ascii->terminator)
        o << ", ending at \"" << comment_safe(escape_bytes(std::string(1, static_cast<char>(*ascii->terminator))))
          << "\"";
    o << ");\n * total = " << lf.offset << " + field bytes + value"
      << (lf.scale != 1 ? " * " + std::to_string(lf.scale) : "")
      << (f.adjust ? (f.adjust > 0 ? " + " : " - ") + std::to_string(f.adjust > 0 ? f.adjust : -f.adjust) : "");
}

// Reads the field into v (variable encodings: and its size into fb), or returns.
void emit_field_read(std::ostringstream& o, const LengthField& lf, const UintLength& f) {
    if (f.conditional()) {
        emit_conditional_uint(o, lf, f);
        return;
    }
    const std::string off = std::to_string(lf.offset);
    o << "\t__u8 f[" << f.width << "];\n\t__u64 v;\n\n"
      << "\tif (room < " << lf.field_end() << ")\n\t\treturn SF_NEED_MORE;\n"
      << "\tif (sf_load(cur, pos + " << off << ", f, sizeof(f)) < 0)\n\t\treturn SF_NEED_MORE;\n\tv = ";
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? i : f.width - 1 - i;
        uint32_t shift = 8 * (f.width - 1 - i);
        if (i) o << " |\n\t    ";
        o << "(__u64)f[" << idx << "]";
        if (shift) o << " << " << shift;
    }
    o << ";\n";
    if (f.has_mask || f.shift) o << "\tv = (v & " << hex_u64(f.mask) << "ULL) >> " << f.shift << ";\n";
}

void emit_field_read(std::ostringstream& o, const LengthField& lf, const Leb128Length& f) {
    const std::string off = std::to_string(lf.offset);
    o << "\t__u64 v = 0, fb;\n\t__u8 b;\n\t__u32 n;\n\n"
      << "\tfor (n = 0; n < " << f.max_size << "; n++) {\n"
      << "\t\tif (room < " << off << " + n + 1 || sf_load(cur, pos + " << off << " + n, &b, 1) < 0)\n"
      << "\t\t\treturn SF_NEED_MORE;\n";
    if (f.max_size == 10)
        o << "\t\tif (n == 9 && b > 1) { /* beyond 64 bits */\n\t\t\t*value = " << off
          << " + n;\n\t\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t\t}\n";
    o << "\t\tv |= (__u64)(b & 0x7f) << (7 * n);\n\t\tif (!(b & 0x80))\n\t\t\tbreak;\n\t}\n"
      << "\tif (n >= " << f.max_size
      << ") { /* no last byte within the field's width */\n\t\t*value = " << lf.offset + f.max_size - 1
      << ";\n\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t}\n\tfb = n + 1;\n";
}

void emit_field_read(std::ostringstream& o, const LengthField& lf, const BerLength& f) {
    const std::string off = std::to_string(lf.offset);
    o << "\t__u64 v = 0, fb;\n\t__u8 b;\n\t__u32 n, len;\n\n"
      << "\tif (room < " << off << " + 1 || sf_load(cur, pos + " << off << ", &b, 1) < 0)\n\t\treturn SF_NEED_MORE;\n"
      << "\tif (b < 0x80) {\n\t\tv = b;\n\t\tfb = 1;\n\t} else {\n"
      << "\t\tlen = b & 0x7f; /* long form: len big-endian bytes follow */\n"
      << "\t\tif (len == 0 || len > 8 || len + 1 > " << f.max_size << ") {\n\t\t\t*value = " << off
      << ";\n\t\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t\t}\n"
      << "\t\tfor (n = 0; n < 8; n++) {\n\t\t\tif (n >= len)\n\t\t\t\tbreak;\n"
      << "\t\t\tif (room < " << off << " + 2 + n || sf_load(cur, pos + " << off << " + 1 + n, &b, 1) < 0)\n"
      << "\t\t\t\treturn SF_NEED_MORE;\n\t\t\tv = v << 8 | b;\n\t\t}\n\t\tfb = len + 1;\n\t}\n";
}

void emit_field_read(std::ostringstream& o, const LengthField& lf, const AsciiLength& f) {
    const std::string off = std::to_string(lf.offset);
    o << "\t__u64 v = 0, fb;\n\t__u8 b;\n\t__u32 n;\n\tint d;\n\n";
    if (f.digits) {
        o << "\tfor (n = 0; n < " << f.digits << "; n++) {\n"
          << "\t\tif (room < " << off << " + n + 1 || sf_load(cur, pos + " << off << " + n, &b, 1) < 0)\n"
          << "\t\t\treturn SF_NEED_MORE;\n\t\td = sf_digit(b, " << (f.hex ? 1 : 0) << ");\n"
          << "\t\tif (d < 0) {\n\t\t\t*value = " << off << " + n;\n\t\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t\t}\n"
          << "\t\tv = sf_opaque(cur, v * " << (f.hex ? 16 : 10) << " + d);\n\t}\n\tfb = " << f.digits << ";\n";
    } else {
        char term[8];
        std::snprintf(term, sizeof term, "0x%02x", *f.terminator);
        o << "\tfor (n = 0; n <= " << f.max_size << "; n++) {\n"
          << "\t\tif (room < " << off << " + n + 1 || sf_load(cur, pos + " << off << " + n, &b, 1) < 0)\n"
          << "\t\t\treturn SF_NEED_MORE;\n\t\tif (b == " << term << ")\n\t\t\tbreak;\n"
          << "\t\td = sf_digit(b, " << (f.hex ? 1 : 0) << ");\n"
          << "\t\tif (d < 0 || n == " << f.max_size << ") {\n\t\t\t*value = " << off
          << " + n;\n\t\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t\t}\n"
          << "\t\tv = sf_opaque(cur, v * " << (f.hex ? 16 : 10) << " + d);\n\t}\n"
          << "\tif (n == 0) { /* no digits */\n\t\t*value = " << off << ";\n\t\treturn -SF_ERR_BAD_LENGTH_FIELD;\n\t}\n"
          << "\tfb = n + 1; /* the terminator belongs to the field */\n";
    }
}

// The steps of probe_length() (core/description/length_rule.cpp), in the same order.
void emit_length_function(std::ostringstream& o, const char* fn, const LengthField& f, uint64_t max,
                          const std::vector<Magic>& magic, const std::string& what) {
    const std::string off = std::to_string(f.offset);
    o << "/*\n * " << what << ": ";
    std::visit([&](const auto& e) { emit_rule_comment(o, f, e); }, f.encoding);
    o << ", from " << f.effective_min() << " to " << max << " bytes.\n"
      << " * Returns SF_LENGTH_KNOWN with *total, SF_NEED_MORE, or -SF_ERR_* with *value.\n */\n";
    o << "static __always_inline int " << fn << "(const struct sf_cursor *cur, __u64 pos, __u64 room,\n"
      << "\t\t\t\t\t   __u64 *total, __u64 *value)\n{\n";
    std::visit([&](const auto& e) { emit_field_read(o, f, e); }, f.encoding);
    std::vector<Magic> checks = magic;
    checks.insert(checks.end(), f.magic.begin(), f.magic.end());
    for (const Magic& m : checks) {
        o << "\t{ /* magic \"" << comment_safe(escape_bytes(m.bytes)) << "\" at " << m.offset << " */\n"
          << "\t\t__u8 m[" << m.bytes.size() << "];\n\n"
          << "\t\tif (sf_load(cur, pos + " << m.offset << ", m, sizeof(m)) < 0)\n\t\t\treturn SF_NEED_MORE;\n"
          << "\t\tif (" << byte_compare("m", m.bytes) << ") {\n\t\t\t*value = " << m.offset
          << ";\n\t\t\treturn -SF_ERR_BAD_MAGIC;\n\t\t}\n\t}\n";
    }
    if (!f.special_values.empty()) {
        o << "\tif (";
        for (size_t i = 0; i < f.special_values.size(); i++) o << (i ? " || " : "") << "v == " << f.special_values[i] << "ULL";
        o << ") { /* special values: a fixed-size message */\n\t\t*total = " << f.special_total
          << ";\n\t\treturn SF_LENGTH_KNOWN;\n\t}\n";
    }
    if (!f.fixed_width())
        o << "\t/* one verifier state for every field size, not one per size */\n"
          << "\tfb = sf_opaque(cur, fb);\n\tv = sf_opaque(cur, v);\n";
    const UintLength* u = f.as_uint();
    if (f.conditional()) {
        o << "\t*total = sf_total(v, " << f.scale << ", base, 0);\n";
    } else if (u) {
        if (f.scale != 1 || u->width == 8)
            o << "\t*total = sf_total(v, " << f.scale << ", " << u->header << ", 0);\n";
        else
            o << "\t*total = " << u->header << " + v;\n";
    } else {
        o << "\t*total = sf_total(v, " << f.scale << ", " << off << " + fb, " << f.as_variable()->adjust << ");\n";
    }
    o << "\tif (*total > " << max << "ULL) {\n\t\t*value = *total;\n\t\treturn -SF_ERR_TOO_LONG;\n\t}\n"
      << "\tif (*total < " << f.effective_min() << "ULL) {\n\t\t*value = *total;\n\t\treturn -SF_ERR_TOO_SHORT;\n\t}\n"
      << "\treturn SF_LENGTH_KNOWN;\n}\n";
}

void emit_trailer(std::ostringstream& o, const std::string& trailer) {
    o << "\n#define SF_TRAILER_LEN " << trailer.size() << "\n\n"
      << "/* Every message ends with \"" << comment_safe(escape_bytes(trailer)) << "\". 0 if it does. */\n"
      << "static __always_inline int sf_check_trailer(const struct sf_cursor *cur, __u64 pos, __u64 total)\n{\n"
      << "\t__u8 t[" << trailer.size() << "];\n\n"
      << "\tif (sf_load(cur, pos + total - " << trailer.size() << ", t, sizeof(t)) < 0)\n\t\treturn -1;\n"
      << "\treturn (" << byte_compare("t", trailer) << ") ? -1 : 0;\n}\n";
}

void emit_first(std::ostringstream& o, const FirstMessage& first) {
    o << "\n#define SF_HAS_FIRST 1\n\n";
    if (!first.preface.empty()) {
        o << "/*\n * The stream starts with the " << first.preface.size() << "-byte preface \""
          << comment_safe(escape_bytes(first.preface)) << "\",\n"
          << " * delivered as a message of its own. Known length from the first byte on.\n */\n"
          << "static __always_inline int sf_preface_byte(__u32 i)\n{\n"
          << "\t/* a switch, not a const array: clang 14 puts small arrays in .rodata.cst*,\n"
          << "\t * which libbpf 1.1 turns into BTF the kernel rejects */\n"
          << "\tswitch (i) {\n";
        for (size_t i = 0; i < first.preface.size(); i++) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "\tcase %zu: return 0x%02x;\n", i, static_cast<unsigned char>(first.preface[i]));
            o << buf;
        }
        o << "\t}\n\treturn -1;\n}\n\n"
          << "static __always_inline int sf_frame_first(const struct sf_cursor *cur, __u64 pos, __u64 room,\n"
          << "\t\t\t\t\t  __u64 *total, __u64 *value)\n{\n"
          << "\t__u8 b;\n\t__u32 i;\n\n"
          << "\tfor (i = 0; i < " << first.preface.size() << "; i++) {\n"
          << "\t\tif (i >= room || sf_load(cur, pos + i, &b, 1) < 0)\n\t\t\tbreak;\n"
          << "\t\tif (b != sf_preface_byte(i)) {\n\t\t\t*value = i;\n\t\t\treturn -SF_ERR_BAD_PREFACE;\n\t\t}\n\t}\n"
          << "\t*total = " << first.preface.size() << ";\n\treturn SF_LENGTH_KNOWN;\n}\n";
    } else {
        emit_length_function(o, "sf_frame_first", *first.length, first.max_message, {},
                             "the first message, then the main rule");
    }
}

void emit_length_rule(std::ostringstream& o, const Description& d) {
    o << "#define SF_FRAMING_LENGTH 1\n"
      << "#define SF_MAX_MESSAGE " << d.max_message << "ULL\n\n";
    emit_length_function(o, "sf_frame_length", d.length(), d.max_message, d.magic, d.symbol());
    if (!d.trailer.empty()) emit_trailer(o, d.trailer);
}

void emit_delimiter_rule(std::ostringstream& o, const Description& d) {
    const std::string& bytes = d.delimiter().bytes;
    o << "#define SF_FRAMING_DELIMITER 1\n"
      << "#define SF_MAX_MESSAGE " << d.max_message << "ULL\n"
      << "#define SF_DELIM_LEN " << bytes.size() << "\n\n"
      << "/* " << d.symbol() << ": a message ends with \"" << comment_safe(escape_bytes(bytes))
      << "\" (included). */\n"
      << "#define sf_is_delim(b, j) (";
    for (size_t i = 0; i < bytes.size(); i++) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s(b)[(j) + %zu] == 0x%02x", i ? " && \\\n\t\t\t   " : "", i,
                      static_cast<unsigned char>(bytes[i]));
        o << buf;
    }
    char first[96];
    std::snprintf(first, sizeof first, "#define SF_DELIM_FIRST 0x%02x /* the word-at-a-time scan looks for it */\n",
                  static_cast<unsigned char>(bytes[0]));
    o << ")\n" << first;
}

}  // namespace

std::string generate_bpf_c(const Description& d) {
    std::ostringstream o;
    o << "/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */\n"
      << "/*\n * Generated by sockframe from " << comment_safe(basename_of(d.source_name))
      << ". Do not edit: change the description and run\n *   sockframe gen "
      << comment_safe(basename_of(d.source_name)) << "\n *\n * The description:\n"
      << quoted_source(d) << " */\n"
      << "#include \"sockframe_prelude.bpf.h\"\n\n";
    if (d.is_length())
        emit_length_rule(o, d);
    else
        emit_delimiter_rule(o, d);
    if (d.first) emit_first(o, *d.first);
    if (d.route) emit_route(o, d);  // route_codegen.cpp: sf_route_message, sf_first_message_key
    o << "\n/* Batch walk, sf_parser and sf_verdict: the same for every protocol. */\n"
      << "#include \"sockframe_runtime.bpf.h\"\n";
    return o.str();
}

}  // namespace sockframe

namespace sockframe {
// The main length rule (sf_frame_length and friends) for the send side's generator
// (core/codegen/send_codegen.cpp): one definition of the rule for both programs.
void emit_main_length_rule(std::ostringstream& o, const Description& d) {
    emit_length_rule(o, d);
}

void emit_main_delimiter_rule(std::ostringstream& o, const Description& d) {
    emit_delimiter_rule(o, d);
}
}  // namespace sockframe
