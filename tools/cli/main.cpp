// The sockframe command line: one table of subcommands (command.hpp), each in its own file.
#include <cstdio>
#include <cstring>
#include <string>

#include "build_config.hpp"
#include "command.hpp"
#include "manual.hpp"

using namespace sockframe;
using namespace sockframe::cli;

namespace {

const Command* const kCommands[] = {&check_command, &gen_command,   &build_command,
                                    &serve_command, &frame_command, &list_command,
                                    &proxy_command, &replay_command};

std::string top_usage() {
    std::string out = "usage: sockframe COMMAND [options]\n\n";
    for (const Command* c : kCommands) {
        std::string head = "  " + c->name + " " + c->operands;
        if (head.size() < 43)
            head.resize(44, ' ');
        else
            head += "\n" + std::string(44, ' ');
        out += head + c->summary + "\n";
    }
    out +=
        "\n`sockframe COMMAND --help` lists the options of a command; `man sockframe` has them all.\n"
        "--version, --man (the manual in roff), --bash-completion (the completion script)\n";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
        std::fputs(top_usage().c_str(), argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string name = argv[1];
    if (name == "--version") return std::puts("sockframe " SOCKFRAME_VERSION) < 0;
    if (name == "--man") return std::fputs(manual_page(kCommands).c_str(), stdout) < 0;
    if (name == "--bash-completion") return std::fputs(bash_completion(kCommands).c_str(), stdout) < 0;
    try {
        for (const Command* c : kCommands)
            if (c->name == name) return c->run(Args(*c, argc, argv, 2));
        std::fprintf(stderr, "sockframe: unknown command %s\n\n%s", name.c_str(), top_usage().c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sockframe: %s\n", e.what());
        return 1;
    }
}
