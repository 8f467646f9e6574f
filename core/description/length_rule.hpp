// Reading a length rule at the start of a message, byte by byte in wire order.
// The userspace framer's half of the framing semantics; the generated BPF C
// (core/codegen/bpf_codegen.cpp) implements the same steps and the differential tests
// hold the two to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/framing_error.hpp>

namespace sockframe {

struct LengthProbe {
    enum State { need_more, known, error } state = need_more;
    uint64_t total = 0;           // known: the message's full length
    FramingErrorKind kind{};      // error
    uint64_t value = 0;           // error: offending number (see make_error)
};

// Steps, in order: the field byte by byte (need_more at the first missing byte,
// error at the first malformed one), the magic bytes, then the total's bounds.
LengthProbe probe_length(const LengthField& f, uint64_t max_message, const std::vector<Magic>& magic,
                         const uint8_t* p, size_t avail);

// Index of the first byte of `p` that differs from `preface`, or -1 (all of p matches).
long preface_mismatch(const std::string& preface, const uint8_t* p, size_t avail);

}  // namespace sockframe
