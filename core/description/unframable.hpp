// The catalogue of protocols no length or delimiter can frame (docs/protocols.md).
#pragma once

#include <string_view>

namespace sockframe {

// Why a description named `name` cannot work (a protocol a user would call so), or nullptr.
// Exact names only: "ssh-banner" (one line) is framable, "ssh" is not.
const char* unframable_reason(std::string_view name);

}  // namespace sockframe
