// Text that goes into generated C: comments that a description cannot close,
// numbers in the generator's spelling. Shared by the framing and route generators.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sockframe {

// Comment-safe text: printable ASCII kept, "*/" and "/*" broken, everything else escaped.
std::string comment_safe(std::string_view text);

// "0x1f"
std::string hex_u64(uint64_t v);

}  // namespace sockframe
