// The description model: how one protocol delimits its messages on a byte stream.
// Everything else (generated BPF C, the userspace framer, `sockframe check`) is
// derived from this one value.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace sockframe {

enum class ByteOrder { big, little };

// A fixed-width unsigned length field: total = header + ((field & mask) >> shift) * scale.
struct LengthField {
    uint32_t offset = 0;          // bytes from message start to the field
    uint32_t width = 0;           // 1, 2, 3, 4 or 8
    ByteOrder byte_order = ByteOrder::big;
    uint64_t header = 0;          // default offset + width
    uint64_t scale = 1;
    uint64_t mask = ~0ULL;        // default: all bits of the field
    uint32_t shift = 0;
    uint64_t min_message = 0;     // 0: only the implicit minimum (offset + width)
    bool has_mask = false;        // mask given explicitly (shown in explanations)

    uint64_t field_end() const { return uint64_t{offset} + width; }
    // Smallest legal total: the length field must lie inside the message.
    uint64_t effective_min() const { return min_message > field_end() ? min_message : field_end(); }
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

    std::string source_name;  // file the description came from
    std::string source_text;  // its exact text, quoted in generated code

    bool is_length() const { return std::holds_alternative<LengthField>(framing); }
    const LengthField& length() const { return std::get<LengthField>(framing); }
    const Delimiter& delimiter() const { return std::get<Delimiter>(framing); }
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
Description load_description_file(const std::string& path);

// The framing rule in words, as `sockframe check` prints it.
std::string explain(const Description& d);

// Escapes bytes for display: printable ASCII as is, the rest as \r, \n, \xNN.
std::string escape_bytes(std::string_view bytes);

}  // namespace sockframe
