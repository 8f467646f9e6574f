// `sockframe list`: the shipped protocol descriptions, one line each.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "command.hpp"

namespace fs = std::filesystem;

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    std::vector<std::string> dirs =
        a.positional().empty() ? description_directories() : std::vector<std::string>{a.positional()[0]};
    // By name, the first directory that has it winning, as find_description() resolves names.
    std::map<std::string, fs::path> files;
    for (const std::string& dir : dirs) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (e.path().extension() == ".toml") files.emplace(e.path().stem().string(), e.path());
        if (ec && !a.positional().empty()) throw std::runtime_error("cannot list " + dir + ": " + ec.message());
    }
    if (files.empty()) {
        std::string where;
        for (const std::string& d : dirs) where += (where.empty() ? "" : ", ") + d;
        std::fprintf(stderr, "sockframe list: no descriptions in %s\n", where.c_str());
        return 1;
    }
    bool names_only = a.flag("--names");
    int bad = 0;
    for (const auto& [name, path] : files) {
        if (names_only) {
            std::printf("%s\n", name.c_str());
            continue;
        }
        try {
            Description d = load_description_file(path.string());
            std::printf("%-22s %-26s %-30s %s\n", name.c_str(), d.name.c_str(), summarize(d).c_str(),
                        d.summary.c_str());
        } catch (const std::exception& e) {
            std::printf("%-22s INVALID: %s\n", name.c_str(), e.what());
            bad++;
        }
    }
    return bad ? 1 : 0;
}

}  // namespace

const Command list_command{"list",
                           "[DIR]",
                           "the shipped protocol descriptions (or those in DIR): name, rule, summary",
                           {{"--names", "", "print only the names (what DESCRIPTION accepts)"}},
                           run};

}  // namespace sockframe::cli
