// One subcommand of the `sockframe` CLI: its name, synopsis, options with their help
// text, and the function that runs it. The top-level usage, `sockframe COMMAND --help`
// and the man page are all printed from these tables, so an option is documented
// where it is declared.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <sockframe/description.hpp>

#include "output.hpp"

namespace sockframe::cli {

struct Option {
    std::string name;   // "--listen"
    std::string value;  // "HOST:PORT"; empty for a flag
    std::string help;   // may span lines ('\n')
    bool repeatable = false;
};

class Args;

struct Command {
    std::string name;      // "serve"
    std::string operands;  // "DESCRIPTION [options]"
    std::string summary;   // one line
    std::vector<Option> options;
    int (*run)(const Args&);
};

// Parsed command line of one subcommand.
class Args {
public:
    Args(const Command& c, int argc, char** argv, int from);

    const Command& command() const { return *command_; }
    const std::vector<std::string>& positional() const { return positional_; }
    bool flag(const std::string& name) const;
    // The last value given for `name`, or `fallback`.
    std::string value(const std::string& name, const std::string& fallback = "") const;
    // Every value given for a repeatable option, in order.
    std::vector<std::string> values(const std::string& name) const;
    unsigned long long number(const std::string& name, unsigned long long fallback) const;
    Format format() const;  // --format text|jsonl
    // The description named by the first operand: a path, or a shipped protocol's name.
    Description description() const;

private:
    const Command* command_;
    std::vector<std::string> positional_;
    std::vector<std::pair<std::string, std::string>> options_;
};

// Prints `what`, then the command's usage, to stderr and exits with status 2.
[[noreturn]] void usage_error(const Command& c, const std::string& what);
std::string usage_of(const Command& c);

// Writes `data` to `path` ("" or "-": stdout).
void write_output(const std::string& path, std::string_view data);

// The commands, in the order `sockframe --help` lists them.
extern const Command check_command, gen_command, build_command, serve_command, frame_command, list_command,
    proxy_command, replay_command;

}  // namespace sockframe::cli
