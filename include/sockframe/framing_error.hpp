// Framing errors and their wording, shared by the kernel path and the userspace
// framer so both report the same rule, value and stream offset in the same words.
#pragma once

#include <cstdint>
#include <string>

#include <sockframe/description.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class FramingErrorKind {
    too_long = 1,      // SF_ERR_TOO_LONG
    too_short = 2,     // SF_ERR_TOO_SHORT
    no_delimiter = 3,  // SF_ERR_NO_DELIMITER
    bad_magic = 4,     // SF_ERR_BAD_MAGIC: value = offset of the magic in the message
    bad_trailer = 5,   // SF_ERR_BAD_TRAILER: value = the message's length
    bad_length_field = 6,  // SF_ERR_BAD_LENGTH_FIELD: value = offset of the bad byte in the message
    bad_preface = 7,   // SF_ERR_BAD_PREFACE: value = offset of the first differing byte
    truncated = 10,    // peer closed inside a message
    connection = 11,   // reset, I/O error
    kernel = 12,       // the kernel path failed in a way the parser did not report
    stalled = 13,      // no byte from the peer for the message timeout, inside a message
};

struct FramingError {
    FramingErrorKind kind = FramingErrorKind::kernel;
    uint64_t value = 0;   // offending total, or bytes held for `truncated`
    uint64_t needed = 0;  // truncated: full length if known, else 0
    uint64_t offset = 0;  // stream offset of the message the error is about
    std::string message;  // human text, see describe()
};

// Builds the error with its standard text.
FramingError make_error(const Description& d, FramingErrorKind kind, uint64_t value,
                        uint64_t offset, uint64_t needed = 0);
FramingError make_connection_error(uint64_t offset, std::string what);
// value = bytes of the incomplete message received, needed = the timeout in ms.
FramingError make_stalled_error(uint64_t offset, uint64_t held, uint64_t timeout_ms);

// Name of the rule, as printed and as in JSON ("too_long", ...).
const char* kind_name(FramingErrorKind kind);

}  // namespace sockframe

#pragma GCC visibility pop
