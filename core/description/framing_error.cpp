#include <sockframe/framing_error.hpp>

#include "sockframe_abi.h"

namespace sockframe {

// The kernel parser reports the same rules by number (sf_conn.error).
static_assert(static_cast<int>(FramingErrorKind::too_long) == SF_ERR_TOO_LONG);
static_assert(static_cast<int>(FramingErrorKind::too_short) == SF_ERR_TOO_SHORT);
static_assert(static_cast<int>(FramingErrorKind::no_delimiter) == SF_ERR_NO_DELIMITER);
static_assert(static_cast<int>(FramingErrorKind::bad_magic) == SF_ERR_BAD_MAGIC);
static_assert(static_cast<int>(FramingErrorKind::bad_trailer) == SF_ERR_BAD_TRAILER);
static_assert(static_cast<int>(FramingErrorKind::bad_length_field) == SF_ERR_BAD_LENGTH_FIELD);
static_assert(static_cast<int>(FramingErrorKind::bad_preface) == SF_ERR_BAD_PREFACE);

const char* kind_name(FramingErrorKind kind) {
    switch (kind) {
        case FramingErrorKind::too_long:
            return "too_long";
        case FramingErrorKind::too_short:
            return "too_short";
        case FramingErrorKind::no_delimiter:
            return "no_delimiter";
        case FramingErrorKind::bad_magic:
            return "bad_magic";
        case FramingErrorKind::bad_trailer:
            return "bad_trailer";
        case FramingErrorKind::bad_length_field:
            return "bad_length_field";
        case FramingErrorKind::bad_preface:
            return "bad_preface";
        case FramingErrorKind::truncated:
            return "truncated";
        case FramingErrorKind::connection:
            return "connection";
        case FramingErrorKind::kernel:
            return "kernel";
        case FramingErrorKind::stalled:
            return "stalled";
    }
    return "unknown";
}

FramingError make_error(const Description& d, FramingErrorKind kind, uint64_t value, uint64_t offset, uint64_t needed) {
    FramingError e{kind, value, needed, offset, {}};
    std::string at = " at stream offset " + std::to_string(offset);
    // At offset 0 a description with a first_length rule is judging the first message by its own bounds.
    bool first = offset == 0 && d.first && d.first->length;
    switch (kind) {
        case FramingErrorKind::too_long:
            e.message = "length field gives a " + std::to_string(value) + "-byte message, above max_message " +
                        std::to_string(first ? d.first->max_message : d.max_message) + at;
            break;
        case FramingErrorKind::too_short:
            e.message = "length field gives a " + std::to_string(value) + "-byte message, below the minimum " +
                        std::to_string(first           ? d.first->length->effective_min()
                                       : d.is_length() ? d.length().effective_min()
                                                       : 0) +
                        at;
            break;
        case FramingErrorKind::no_delimiter:
            e.message = "no delimiter \"" + escape_bytes(d.is_length() ? "" : d.delimiter().bytes) +
                        "\" within max_message " + std::to_string(d.max_message) + " bytes" + at;
            break;
        case FramingErrorKind::bad_magic: {
            std::string bytes;
            for (const Magic& m : d.magic)
                if (m.offset == value) bytes = m.bytes;
            // The first message's own magic ([[first_length.magic]]), for an error at stream offset 0.
            if (offset == 0 && d.first && d.first->length)
                for (const Magic& m : d.first->length->magic)
                    if (m.offset == value) bytes = m.bytes;
            e.message = "message does not have \"" + escape_bytes(bytes) + "\" at byte " + std::to_string(value) + at;
            break;
        }
        case FramingErrorKind::bad_trailer:
            e.message = "the " + std::to_string(value) + "-byte message does not end with \"" +
                        escape_bytes(d.trailer) + "\"" + at;
            break;
        case FramingErrorKind::bad_length_field:
            e.message = "malformed length field at byte " + std::to_string(value) + " of the message" + at;
            break;
        case FramingErrorKind::bad_preface:
            e.message = "stream does not start with the preface \"" + escape_bytes(d.first ? d.first->preface : "") +
                        "\" (byte " + std::to_string(value) + " differs)" + at;
            break;
        case FramingErrorKind::truncated:
            e.message = needed ? "truncated message (" + std::to_string(value) + " of " + std::to_string(needed) +
                                     " bytes)" + at
                               : "truncated message (" + std::to_string(value) + " bytes, end not seen)" + at;
            break;
        case FramingErrorKind::connection:
        case FramingErrorKind::kernel:
        case FramingErrorKind::stalled:
            e.message = "framing stopped" + at;
            break;
    }
    return e;
}

FramingError make_stalled_error(uint64_t offset, uint64_t held, uint64_t timeout_ms) {
    FramingError e{FramingErrorKind::stalled, held, timeout_ms, offset, {}};
    e.message = "peer stalled: no byte for " + std::to_string(timeout_ms) + " ms inside a message (" +
                std::to_string(held) + " bytes of it received) at stream offset " + std::to_string(offset);
    return e;
}

FramingError make_connection_error(uint64_t offset, std::string what) {
    FramingError e{FramingErrorKind::connection, 0, 0, offset, {}};
    e.message = what + " at stream offset " + std::to_string(offset);
    return e;
}

}  // namespace sockframe
