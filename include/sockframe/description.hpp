// The description model: how one protocol delimits its messages on a byte stream.
// Everything else (generated BPF C, the userspace framer, `sockframe check`) is
// derived from this one value.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <sockframe/route_model.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class ByteOrder { big, little };

// Constant bytes every message carries at a fixed offset (BGP marker, TPKT version).
struct Magic {
    uint32_t offset = 0;
    std::string bytes;
};

// uint only: a field value that stands for a wider big/little-endian length
// right after the field (WebSocket: 126 -> 16 bits, 127 -> 64 bits follow).
struct LengthEscape {
    uint64_t value = 0;
    uint32_t width = 0;  // 1, 2, 3, 4 or 8
};

// uint only: `bytes` more header bytes when (byte `at` & mask) != 0 (WebSocket masking key).
struct ExtraBytes {
    uint32_t at = 0;
    uint8_t mask = 0;
    uint32_t bytes = 0;
};

// uint only: when (byte `at` & mask) != 0 the field at the same offset is `width`
// bytes wide, read without mask or shift, and total = header + value * scale (ZMTP LONG).
struct FlagWidth {
    uint32_t at = 0;
    uint8_t mask = 0;
    uint32_t width = 0;
    uint64_t header = 0;
};

// Fixed-width binary: total = header + ((field & mask) >> shift) * scale.
struct UintLength {
    uint32_t width = 0;  // 1, 2, 3, 4 or 8
    ByteOrder byte_order = ByteOrder::big;
    uint64_t header = 0;    // default offset + width
    uint64_t mask = ~0ULL;  // default all bits of the field
    uint32_t shift = 0;
    bool has_mask = false;        // mask given explicitly (shown in explanations)

    // All optional (F4 escape-coded and flag-selected widths, F5 conditional bytes):
    std::vector<LengthEscape> escapes;    // value -> a wider field follows; total += its width
    std::optional<FlagWidth> flag_width;  // a flag bit selects a wider field
    std::vector<ExtraBytes> extras;       // a flag bit adds header bytes; total += bytes

    bool conditional() const { return !escapes.empty() || flag_width || !extras.empty(); }
    // Largest value the masked, shifted field holds.
    uint64_t max_value() const { return mask >> shift; }
};

// What the variable-size encodings share:
// total = offset + field bytes (terminator included) + value * scale + adjust.
struct VariableLength {
    uint32_t max_size = 0;  // most bytes of the field (ASCII: most digits, the terminator not counted)
    int64_t adjust = 0;
};

// 7 bits per byte, low group first, 0x80 = more (protobuf; "mqtt" = at most 4 bytes).
struct Leb128Length : VariableLength {};

// ASN.1 BER definite length: < 0x80 short form, 0x8n + n big-endian bytes.
struct BerLength : VariableLength {};

// Decimal or hex digits, a fixed count or ending at a terminator byte.
struct AsciiLength : VariableLength {
    bool hex = false;
    uint32_t digits = 0;                // fixed digit count (then max_size == digits), or 0: ends at `terminator`
    std::optional<uint8_t> terminator;  // the byte ending the digits, counted in the field
};

// How the length field is written: one type per encoding.
using LengthEncoding = std::variant<UintLength, Leb128Length, BerLength, AsciiLength>;

struct LengthField {
    uint32_t offset = 0;  // bytes from message start to the field
    LengthEncoding encoding;
    uint64_t scale = 1;
    uint64_t min_message = 0;              // 0: only the implicit minimum (the field lies inside the message)
    std::vector<uint64_t> special_values;  // values that mean a fixed-size message (pkt-line 0000)
    uint64_t special_total = 0;
    uint64_t implied_min = 0;  // set by the description: room for a trailer after the field
    // Checked with this rule, after the field: [[first_length.magic]] (PROXY v2 signature).
    std::vector<Magic> magic;

    // The encoding's own fields: the uint one, or what every variable one has (nullptr otherwise).
    const UintLength* as_uint() const { return std::get_if<UintLength>(&encoding); }
    const VariableLength* as_variable() const {
        return std::visit(
            [](const auto& e) -> const VariableLength* {
                if constexpr (std::is_base_of_v<VariableLength, std::decay_t<decltype(e)>>)
                    return &e;
                else
                    return nullptr;
            },
            encoding);
    }

    bool fixed_width() const { return as_uint() != nullptr; }
    bool conditional() const { return fixed_width() && as_uint()->conditional(); }
    // End of the field for uint; for variable encodings the end of its shortest form.
    uint64_t field_end() const {
        if (const UintLength* u = as_uint()) return uint64_t{offset} + u->width;
        if (const AsciiLength* a = std::get_if<AsciiLength>(&encoding))
            return uint64_t{offset} + (a->digits ? a->digits : 2);
        return uint64_t{offset} + 1;
    }
    // Most bytes the field may take (uint: the field itself, without escaped or flag-selected widths).
    uint32_t max_field_bytes() const {
        if (const UintLength* u = as_uint()) return u->width;
        const AsciiLength* a = std::get_if<AsciiLength>(&encoding);
        return as_variable()->max_size + (a && a->terminator ? 1 : 0);
    }
    // Smallest legal total: the length field must lie inside the message.
    uint64_t effective_min() const {
        uint64_t m = min_message > field_end() ? min_message : field_end();
        return m > implied_min ? m : implied_min;
    }
};

// The stream's first message, framed by its own rule, then the main rule applies.
struct FirstMessage {
    std::string preface;                 // fixed bytes (HTTP/2 preface, AMQP protocol header), or
    std::optional<LengthField> length;   // a length rule of its own (PostgreSQL StartupMessage)
    uint64_t max_message = 0;            // for `length`
};

// Messages end with (and include) a fixed byte sequence of 1-16 bytes.
struct Delimiter {
    std::string bytes;
};

struct Description {
    std::string name;       // [a-z][a-z0-9-]*
    std::string summary;
    std::string reference;
    uint64_t max_message = 0;
    std::variant<LengthField, Delimiter> framing;
    std::vector<Magic> magic;            // length framing: checked on every message
    std::string trailer;                 // length framing: every message ends with these bytes
    std::optional<FirstMessage> first;   // a preface or first message framed differently
    std::optional<Route> route;          // [route]: routing key and rules (route_model.hpp)

    std::string source_name;  // file the description came from
    std::string source_text;  // its exact text, quoted in generated code

    bool is_length() const { return std::holds_alternative<LengthField>(framing); }
    const LengthField& length() const { return std::get<LengthField>(framing); }
    const Delimiter& delimiter() const { return std::get<Delimiter>(framing); }
    bool has_first_message_key() const { return route && route->has_first_key(); }
    // C identifier derived from name ("dns-tcp" -> "dns_tcp").
    std::string symbol() const;
};

// Largest max_message sockframe accepts: strparser lengths are ints and the
// kernel must hold a whole message in the socket's receive buffer.
inline constexpr uint64_t kMaxMessageLimit = 1ULL << 30;

// A description that cannot be used, with the position of the offending key.
class DescriptionError : public std::runtime_error {
public:
    DescriptionError(std::string source, uint32_t line, uint32_t column, std::string key,
                     std::string problem);
    const std::string& source() const { return source_; }
    uint32_t line() const { return line_; }
    uint32_t column() const { return column_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string source_;
    uint32_t line_, column_;
    std::string key_, problem_;
};

Description parse_description(std::string_view toml_text, std::string_view source_name);
// Reads a description from a file; a bare name ("dns") is a shipped description,
// found with find_description().
Description load_description_file(const std::string& path_or_name);

// The directories shipped descriptions are looked for in, in order: those in
// $SOCKFRAME_PARSERS_DIR (':'-separated) when it is set; else the installed
// $datadir/sockframe/parsers, or the source tree's parsers/ for a program run from
// sockframe's own build directory.
std::vector<std::string> description_directories();

// The file a DESCRIPTION argument names: the argument itself when it is a file or
// looks like a path (has a '/' or ends in ".toml"); else <dir>/<name>.toml from the
// first of description_directories() that has it.
std::string find_description(const std::string& name_or_path);

// find_description() found nothing; what() lists every place it looked.
class DescriptionNotFound : public std::runtime_error {
public:
    DescriptionNotFound(const std::string& name, std::vector<std::string> searched);
    const std::vector<std::string>& searched() const { return searched_; }

private:
    std::vector<std::string> searched_;
};

// The framing rule in words, as `sockframe check` prints it.
std::string explain(const Description& d);

// The framing rule in a few words ("u16be@0", "4 hex digits@0", "delimiter \"\\r\\n\""),
// as `sockframe list` prints it.
std::string summarize(const Description& d);

// Escapes bytes for display: printable ASCII as is, the rest as \r, \n, \xNN.
std::string escape_bytes(std::string_view bytes);

}  // namespace sockframe

#pragma GCC visibility pop
