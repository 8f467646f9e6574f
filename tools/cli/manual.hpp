// The manual page and the bash completion, printed from the command table, so a
// new subcommand or option appears in both without another edit (tools/meson.build
// runs `sockframe --man` and `sockframe --bash-completion` at build time).
#pragma once

#include <span>
#include <string>

#include "command.hpp"

namespace sockframe::cli {

// sockframe(1) in roff (man(7) macros).
std::string manual_page(std::span<const Command* const> commands);
// A bash completion script: subcommands, each one's options, option values
// (text|jsonl, files, directories) and shipped description names (`sockframe list --names`).
std::string bash_completion(std::span<const Command* const> commands);

}  // namespace sockframe::cli
