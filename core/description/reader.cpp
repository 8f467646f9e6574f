// The description reader: TOML text -> Description, or a DescriptionError naming
// file:line:col, the key and the allowed values.
#include <sockframe/description.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "description/route_reader.hpp"
#include "description/toml_reader.hpp"
#include "description/unframable.hpp"
#include "sockframe_primitives.h"

namespace sockframe {

DescriptionError::DescriptionError(std::string source, uint32_t line, uint32_t column,
                                   std::string key, std::string problem)
    : std::runtime_error(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                         key + ": " + problem),
      source_(std::move(source)), line_(line), column_(column), key_(std::move(key)),
      problem_(std::move(problem)) {}

namespace {

constexpr uint64_t kSmallLimit = 1ULL << 30;  // offsets, headers, scales


// One line of printable text, bounded: it ends up in comments and log lines.
void check_one_line(const TableReader& r, std::string_view key, const std::string& value) {
    if (value.size() > 200) r.fail(r.find(key), key, "is longer than 200 characters");
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7f)
            r.fail(r.find(key), key, "must be one line of printable text (found a control character)");
}

struct EncodingInfo {
    const char* name;
    LengthEncoding encoding;            // the alternative, with its defaults
    uint32_t default_width, max_width;  // variable encodings: most bytes/digits of the field
};
const EncodingInfo kEncodings[] = {
    {"uint", UintLength{}, 0, 8},
    {"leb128", Leb128Length{}, 10, 10},
    {"mqtt", Leb128Length{}, 4, 4},
    {"ber", BerLength{}, 9, 9},
    {"ascii-decimal", AsciiLength{}, 10, 18},
    {"ascii-hex", AsciiLength{{}, true, 0, std::nullopt}, 8, 15},
};
constexpr const char* kEncodingNames = "\"uint\", \"leb128\", \"mqtt\", \"ber\", \"ascii-decimal\" or \"ascii-hex\"";

std::string one_byte_string(const TableReader& r, std::string_view key) {
    auto v = r.string(key);
    if (v && (v->size() != 1 || static_cast<unsigned char>((*v)[0]) > 0x7f))
        r.fail(r.find(key), key, "must be one ASCII character");
    return v.value_or("");
}

// A flag condition: `byte` (inside the length field's span, so readable with it) and a non-zero 8-bit `mask`.
void read_flag(const TableReader& r, uint64_t field_end, uint32_t& at, uint8_t& mask) {
    std::string span = range_text(0, field_end - 1) + " (a byte before the end of the length field)";
    auto b = r.integer("byte", 0, field_end - 1, span);
    if (!b) r.fail(nullptr, "byte", "is required; allowed: " + span);
    auto m = r.integer("mask", 1, 255, "a non-zero 8-bit mask, 0x01 to 0xff");
    if (!m) r.fail(nullptr, "mask", "is required; allowed: a non-zero 8-bit mask, 0x01 to 0xff");
    at = static_cast<uint32_t>(*b);
    mask = static_cast<uint8_t>(*m);
}

uint32_t read_uint_width(const TableReader& r, std::string_view key) {
    auto w = r.integer(key, 1, 8, "1, 2, 3, 4 or 8");
    if (!w) r.fail(nullptr, key, "is required; allowed: 1, 2, 3, 4 or 8");
    if (*w >= 5 && *w <= 7) r.fail(r.find(key), key, std::to_string(*w) + " is not allowed; allowed: 1, 2, 3, 4 or 8");
    return static_cast<uint32_t>(*w);
}

// [[length.escape]], [length.flag_width], [[length.extra]]: uint fields only.
void read_conditional(const TableReader& r, uint32_t offset, UintLength& f) {
    const uint64_t field_end = uint64_t{offset} + f.width;
    uint64_t field_max = f.max_value();
    for (const TableReader& er : r.tables("escape", 4, "value and width")) {
        er.allow_only({"value", "width"});
        std::string allowed = range_text(0, field_max) + " (what the masked field can hold)";
        auto value = er.integer("value", 0, field_max, allowed);
        if (!value) er.fail(nullptr, "value", "is required; allowed: " + allowed);
        for (const LengthEscape& e : f.escapes)
            if (e.value == *value) er.fail(er.find("value"), "value", std::to_string(*value) + " is given twice");
        f.escapes.push_back({*value, read_uint_width(er, "width")});
    }
    if (const toml::node* fw = r.find("flag_width")) {
        if (!fw->is_table()) r.fail(fw, "flag_width", "must be a table: [" + r.prefix() + "flag_width]");
        if (!f.escapes.empty()) r.fail(fw, "flag_width", "give either [[escape]] or [flag_width], not both");
        TableReader wr(*fw->as_table(), r.prefix() + "flag_width.", r.source());
        wr.allow_only({"byte", "mask", "width", "header"});
        FlagWidth w;
        read_flag(wr, field_end, w.at, w.mask);
        w.width = read_uint_width(wr, "width");
        w.header = wr.integer("header", offset + w.width, kSmallLimit,
                              range_text(offset + w.width, kSmallLimit) + " (at least the end of the wide field)")
                       .value_or(offset + w.width);
        f.flag_width = w;
    }
    for (const TableReader& xr : r.tables("extra", 4, "byte, mask and bytes")) {
        xr.allow_only({"byte", "mask", "bytes"});
        ExtraBytes x;
        read_flag(xr, field_end, x.at, x.mask);
        auto n = xr.integer("bytes", 1, 65535, range_text(1, 65535));
        if (!n) xr.fail(nullptr, "bytes", "is required; allowed: " + range_text(1, 65535));
        x.bytes = static_cast<uint32_t>(*n);
        f.extras.push_back(x);
    }
    if (f.conditional()) {
        // The total must cover every field byte read, whichever form a message takes.
        if (f.header < field_end)
            r.fail(r.find("header"), "header",
                   std::to_string(f.header) + " is below the end of the length field (" + std::to_string(field_end) +
                       "); with escape, flag_width or extra the length cannot count the header");
        if (r.find("special_values"))
            r.fail(r.find("special_values"), "special_values", "cannot be combined with escape, flag_width or extra");
    }
}

// The keys of encoding = "uint" (the default).
void read_uint_length(const TableReader& r, uint32_t offset, UintLength& f) {
    for (const char* k : {"adjust", "digits", "terminator"})
        if (r.find(k)) r.fail(r.find(k), k, "is only for variable encodings; with encoding = \"uint\" use header");
    auto width = r.integer("width", 1, 8, "1, 2, 3, 4 or 8");
    if (!width) r.fail(nullptr, "width", "is required; allowed: 1, 2, 3, 4 or 8");
    if (*width == 5 || *width == 6 || *width == 7)
        r.fail(r.find("width"), "width", std::to_string(*width) + " is not allowed; allowed: 1, 2, 3, 4 or 8");
    f.width = static_cast<uint32_t>(*width);
    if (auto bo = r.string("byte_order")) {
        if (*bo == "big")
            f.byte_order = ByteOrder::big;
        else if (*bo == "little")
            f.byte_order = ByteOrder::little;
        else
            r.fail(r.find("byte_order"), "byte_order",
                   "\"" + escape_bytes(*bo) + "\" is not allowed; allowed: \"big\" or \"little\"");
    }
    f.header = r.integer("header", 0, kSmallLimit, range_text(0, kSmallLimit)).value_or(uint64_t{offset} + f.width);
    uint64_t field_bits = f.width * 8;
    uint64_t all_bits = field_bits == 64 ? ~0ULL : ((1ULL << field_bits) - 1);
    if (const toml::node* m = r.find("mask")) {
        auto v = m->value_exact<int64_t>();
        std::string allowed = "a non-zero integer that fits in the field's " + std::to_string(field_bits) + " bits";
        if (!v) r.fail(m, "mask", "must be an integer; allowed: " + allowed);
        uint64_t mask = static_cast<uint64_t>(*v);
        if (mask == 0 || (mask & ~all_bits) != 0)
            r.fail(
                m, "mask",
                "0x" +
                    [&] {
                        std::ostringstream o;
                        o << std::hex << mask;
                        return o.str();
                    }() +
                    " does not fit; allowed: " + allowed);
        f.mask = mask;
        f.has_mask = true;
    } else {
        f.mask = all_bits;
    }
    f.shift = static_cast<uint32_t>(r.integer("shift", 0, field_bits - 1, range_text(0, field_bits - 1)).value_or(0));
    read_conditional(r, offset, f);
}

// The keys of leb128, mqtt, ber and the ASCII encodings; `ascii` is set for the latter.
void read_variable_length(const TableReader& r, const EncodingInfo& enc, VariableLength& f, AsciiLength* ascii) {
    for (const char* k : {"byte_order", "header", "mask", "shift", "escape", "flag_width", "extra"})
        if (r.find(k))
            r.fail(r.find(k), k,
                   std::string("is only for encoding = \"uint\"; with \"") + enc.name +
                       "\" the total is offset + field bytes + value * scale + adjust");
    f.max_size = static_cast<uint32_t>(
        r.integer("width", 1, enc.max_width, range_text(1, enc.max_width)).value_or(enc.default_width));
    auto adjust = r.find("adjust");
    if (adjust) {
        auto v = adjust->value_exact<int64_t>();
        if (!v || *v < -65536 || *v > 65536) r.fail(adjust, "adjust", "allowed: an integer from -65536 to 65536");
        f.adjust = *v;
    }
    if (ascii) {
        ascii->digits =
            static_cast<uint32_t>(r.integer("digits", 1, enc.max_width, range_text(1, enc.max_width)).value_or(0));
        std::string t = one_byte_string(r, "terminator");
        if (ascii->digits && !t.empty())
            r.fail(r.find("terminator"), "terminator", "give either digits or terminator, not both");
        if (!ascii->digits && t.empty()) r.fail(nullptr, "terminator", "is required for ASCII lengths (or digits = N)");
        if (!t.empty()) ascii->terminator = static_cast<uint8_t>(t[0]);
        if (ascii->digits && r.find("width")) r.fail(r.find("width"), "width", "is implied by digits");
        if (ascii->digits) f.max_size = ascii->digits;
    } else {
        for (const char* k : {"digits", "terminator"})
            if (r.find(k)) r.fail(r.find(k), k, "is only for ascii-decimal and ascii-hex encodings");
    }
}

LengthField read_length(const TableReader& r) {
    r.allow_only({"offset", "width", "byte_order", "header", "scale", "mask", "shift", "min_message", "encoding",
                  "adjust", "digits", "terminator", "special_values", "special_total", "escape", "flag_width",
                  "extra"});
    LengthField f;
    const EncodingInfo* enc = &kEncodings[0];
    if (auto e = r.string("encoding")) {
        enc = nullptr;
        for (const auto& k : kEncodings)
            if (*e == k.name) enc = &k;
        if (!enc) r.fail(r.find("encoding"), "encoding", "\"" + escape_bytes(*e) + "\" is not allowed; allowed: " + kEncodingNames);
    }
    f.encoding = enc->encoding;
    f.offset = static_cast<uint32_t>(r.integer("offset", 0, 65535, range_text(0, 65535)).value_or(0));
    f.scale = r.integer("scale", 1, kSmallLimit, range_text(1, kSmallLimit)).value_or(1);
    f.min_message = r.integer("min_message", 0, kMaxMessageLimit, range_text(0, kMaxMessageLimit)).value_or(0);
    std::visit(
        [&](auto& e) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, UintLength>)
                read_uint_length(r, f.offset, e);
            else if constexpr (std::is_same_v<E, AsciiLength>)
                read_variable_length(r, *enc, e, &e);
            else
                read_variable_length(r, *enc, e, nullptr);
        },
        f.encoding);
    if (const toml::node* sv = r.find("special_values")) {
        const toml::array* arr = sv->as_array();
        if (!arr || arr->empty()) r.fail(sv, "special_values", "must be a non-empty array of integers");
        for (const auto& item : *arr) {
            auto v = item.value_exact<int64_t>();
            if (!v || *v < 0) r.fail(&item, "special_values", "must hold non-negative integers");
            f.special_values.push_back(static_cast<uint64_t>(*v));
        }
        auto total = r.integer("special_total", 1, kMaxMessageLimit, range_text(1, kMaxMessageLimit));
        if (!total) r.fail(sv, "special_total", "is required with special_values: the size of such a message");
        f.special_total = *total;
    } else if (r.find("special_total")) {
        r.fail(r.find("special_total"), "special_total", "needs special_values");
    }
    return f;
}

// `text = "..."` (ASCII) or `hex = "..."` (any bytes), max_len bytes at most.
std::string read_byte_string(const TableReader& r, size_t max_len) {
    auto text = r.string("text");
    auto hex = r.string("hex");
    std::string limit = "1 to " + std::to_string(max_len) + " bytes";
    std::string n = std::to_string(max_len);
    if (text && hex) r.fail(r.find("hex"), "hex", "give either text or hex, not both");
    if (!text && !hex)
        r.fail(nullptr, "text", "is required (or hex); allowed: 1-" + n + " ASCII characters, or hex = 1-" + n + " bytes as hex digits");
    std::string bytes;
    if (text) {
        for (unsigned char c : *text)
            if (c == 0 || c > 0x7f)
                r.fail(r.find("text"), "text", "must be ASCII without NUL; use hex = \"...\" for other bytes");
        bytes = *text;
    } else {
        const std::string& h = *hex;
        if (h.size() % 2 != 0) r.fail(r.find("hex"), "hex", "needs an even number of hex digits");
        for (size_t i = 0; i < h.size(); i += 2) {
            int hi = sf_digit(static_cast<uint8_t>(h[i]), 1), lo = sf_digit(static_cast<uint8_t>(h[i + 1]), 1);
            if (hi < 0 || lo < 0) r.fail(r.find("hex"), "hex", "\"" + escape_bytes(h) + "\" is not hex; allowed: digits 0-9, a-f");
            bytes += static_cast<char>(hi * 16 + lo);
        }
    }
    if (bytes.empty() || bytes.size() > max_len) {
        const char* key = text ? "text" : "hex";
        r.fail(r.find(key), key, std::to_string(bytes.size()) + " bytes is not allowed; allowed: " + limit);
    }
    return bytes;
}

Delimiter read_delimiter(const TableReader& r) {
    r.allow_only({"text", "hex"});
    return Delimiter{read_byte_string(r, 16)};
}

const toml::table& table_at(const TableReader& parent, const toml::node* n, const char* key) {
    if (!n->is_table()) parent.fail(n, key, std::string("must be a table: [") + key + "]");
    return *n->as_table();
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 48 || n[0] < 'a' || n[0] > 'z') return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

constexpr const char* kFramingKinds =
    "[length] (a length field: encoding \"uint\", \"leb128\", \"mqtt\", \"ber\", \"ascii-decimal\" or "
    "\"ascii-hex\"; with [[length.escape]], [length.flag_width], [[length.extra]]) or [delimiter] (text or hex); "
    "before them optionally [preface] or [first_length]";

}  // namespace

Description parse_description(std::string_view toml_text, std::string_view source_name) {
    std::string source(source_name);
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
        const auto& b = e.source().begin;
        throw DescriptionError(source, b.line ? b.line : 1, b.column ? b.column : 1, "syntax",
                               std::string(e.description()));
    }
    TableReader r(root, "", source);
    // A protocol no description can frame: say why, before any other complaint.
    if (auto n = root.get("name"); n && n->is_string())
        if (const char* why = unframable_reason(n->value_or(std::string_view{})))
            r.fail(n, "name",
                   std::string(why) + " (docs/protocols.md, \"Cannot be framed by a length or a delimiter\")");
    // No [length] or [delimiter] but a table sockframe does not know ([chunked], [counted], [xml]...):
    // a framing kind it lacks. List the kinds there are.
    for (const auto& [k, v] : root)
        if (!root.contains("length") && !root.contains("delimiter") && v.is_table() && k.str() != "length" &&
            k.str() != "delimiter" && k.str() != "preface" && k.str() != "first_length" && k.str() != "trailer" &&
            k.str() != "route")
            r.fail(&v, k.str(), "is not a framing kind sockframe knows; allowed: " + std::string(kFramingKinds));
    r.allow_only({"name", "summary", "reference", "max_message", "length", "delimiter", "magic", "trailer", "preface",
                  "first_length", "route"});

    Description d;
    d.source_name = source;
    d.source_text = std::string(toml_text);
    auto name = r.string("name");
    if (!name) r.fail(nullptr, "name", "is required; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    if (!valid_name(*name))
        r.fail(r.find("name"), "name", "\"" + escape_bytes(*name) + "\" is not allowed; allowed: [a-z][a-z0-9-]*, at most 48 characters");
    d.name = *name;
    d.summary = r.string("summary").value_or("");
    check_one_line(r, "summary", d.summary);
    d.reference = r.string("reference").value_or("");
    check_one_line(r, "reference", d.reference);
    auto max = r.integer("max_message", 1, kMaxMessageLimit, range_text(1, kMaxMessageLimit));
    if (!max) r.fail(nullptr, "max_message", "is required; allowed: " + range_text(1, kMaxMessageLimit));
    d.max_message = *max;

    const toml::node* length = r.find("length");
    const toml::node* delim = r.find("delimiter");
    if (length && delim) r.fail(delim, "delimiter", "give exactly one of [length] or [delimiter], not both");
    if (!length && !delim) r.fail(nullptr, "length", "is required: give exactly one of [length] or [delimiter]");
    if (length) {
        TableReader lr(table_at(r, length, "length"), "length.", source);
        LengthField f = read_length(lr);
        if (f.min_message > d.max_message)
            lr.fail(lr.find("min_message"), "min_message", std::to_string(f.min_message) + " is above max_message = " + std::to_string(d.max_message));
        if (f.field_end() > d.max_message)
            lr.fail(lr.find("offset") ? lr.find("offset") : lr.find("width"), "offset",
                    "the field ends at byte " + std::to_string(f.field_end()) + ", beyond max_message = " + std::to_string(d.max_message));
        if (const UintLength* u = f.as_uint(); u && u->header > d.max_message)
            lr.fail(lr.find("header"), "header",
                    std::to_string(u->header) + " is above max_message = " + std::to_string(d.max_message) +
                        ": no message could be legal");
        if (!f.special_values.empty() && f.special_total < f.field_end())
            lr.fail(lr.find("special_total"), "special_total", "is smaller than the length field itself");
        d.framing = f;
    } else {
        TableReader dr(table_at(r, delim, "delimiter"), "delimiter.", source);
        Delimiter del = read_delimiter(dr);
        if (del.bytes.size() > d.max_message)
            r.fail(r.find("max_message"), "max_message", "is shorter than the delimiter");
        d.framing = del;
    }

    if (const toml::node* m = r.find("magic")) {
        const toml::array* arr = m->as_array();
        if (!arr || !arr->is_array_of_tables() || arr->empty())
            r.fail(m, "magic", "must be one or more [[magic]] tables with offset and text or hex");
        if (!d.is_length()) r.fail(m, "magic", "is only supported with [length] framing");
        for (const auto& item : *arr) {
            TableReader mr(*item.as_table(), "magic.", source);
            mr.allow_only({"offset", "text", "hex"});
            Magic mg;
            mg.offset = static_cast<uint32_t>(mr.integer("offset", 0, 65535, range_text(0, 65535)).value_or(0));
            mg.bytes = read_byte_string(mr, 32);
            // Checked together with the length: it must be readable by then.
            if (mg.offset + mg.bytes.size() > d.length().field_end())
                mr.fail(mr.find("offset"), "offset", "magic bytes must end by byte " + std::to_string(d.length().field_end()) +
                                                         ", where the length field ends");
            d.magic.push_back(mg);
        }
    }
    if (const toml::node* t = r.find("trailer")) {
        TableReader tr(table_at(r, t, "trailer"), "trailer.", source);
        tr.allow_only({"text", "hex"});
        if (!d.is_length()) r.fail(t, "trailer", "is only supported with [length] framing");
        d.trailer = read_byte_string(tr, 16);
        std::get<LengthField>(d.framing).implied_min = d.length().field_end() + d.trailer.size();
    }
    const toml::node* preface = r.find("preface");
    const toml::node* first = r.find("first_length");
    if (preface && first) r.fail(first, "first_length", "give either [preface] or [first_length], not both");
    if (preface) {
        TableReader pr(table_at(r, preface, "preface"), "preface.", source);
        pr.allow_only({"text", "hex"});
        d.first = FirstMessage{read_byte_string(pr, 64), std::nullopt, 0};
    } else if (first) {
        TableReader fr(table_at(r, first, "first_length"), "first_length.", source);
        // Same keys as [length], plus its own limit.
        toml::table copy = *first->as_table();
        uint64_t max = d.max_message;
        if (auto fm = fr.integer("max_message", 1, kMaxMessageLimit, range_text(1, kMaxMessageLimit))) max = *fm;
        copy.erase("max_message");
        copy.erase("magic");
        TableReader lr(copy, "first_length.", source);
        LengthField f = read_length(lr);
        if (f.field_end() > max)
            fr.fail(nullptr, "max_message", "is smaller than the first message's length field");
        // [[first_length.magic]]: checked on the first message only (PROXY v2 signature).
        for (const TableReader& mr : fr.tables("magic", 8, "offset and text or hex")) {
            mr.allow_only({"offset", "text", "hex"});
            Magic mg;
            mg.offset = static_cast<uint32_t>(mr.integer("offset", 0, 65535, range_text(0, 65535)).value_or(0));
            mg.bytes = read_byte_string(mr, 32);
            if (mg.offset + mg.bytes.size() > f.field_end())
                mr.fail(mr.find("offset"), "offset",
                        "magic bytes must end by byte " + std::to_string(f.field_end()) +
                            ", where the first message's length field ends");
            // A constant length field would leave one size, usually an illegal one.
            if (mg.offset + mg.bytes.size() > f.offset && mg.offset < f.field_end())
                mr.fail(mr.find("offset"), "offset",
                        "magic bytes must not overlap the length field (bytes " + std::to_string(f.offset) + " to " +
                            std::to_string(f.field_end() - 1) + ")");
            f.magic.push_back(mg);
        }
        d.first = FirstMessage{"", f, max};
    }
    if (const toml::node* route = r.find("route")) d.route = read_route(r, route, d);  // route_reader.cpp
    return d;
}

Description load_description_file(const std::string& path_or_name) {
    std::string path = find_description(path_or_name);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DescriptionError(path, 1, 1, "file", "cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    return parse_description(text.str(), path);
}

}  // namespace sockframe
