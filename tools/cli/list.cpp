// `sockframe list`: the shipped protocol descriptions, one line each.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "command.hpp"

namespace fs = std::filesystem;

namespace sockframe::cli {
namespace {

std::string default_parsers_dir() {
    if (const char* e = std::getenv("SOCKFRAME_PARSERS_DIR"); e && *e) return e;
    return SOCKFRAME_PARSERS_DIR;
}

int run(const Args& a) {
    std::string dir = a.positional().empty() ? default_parsers_dir() : a.positional()[0];
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    int bad = 0;
    for (const auto& p : files) {
        try {
            Description d = load_description_file(p.string());
            // Every encoding shown as if uint (issue 12 item 2 makes this one word per encoding).
            const UintLength* u = d.is_length() ? d.length().as_uint() : nullptr;
            std::string rule = d.is_length() ? std::to_string(u ? u->width : d.length().as_variable()->max_size) +
                                                   "-byte " + (!u || u->byte_order == ByteOrder::big ? "BE" : "LE") +
                                                   " length @" + std::to_string(d.length().offset)
                                             : "delimiter \"" + escape_bytes(d.delimiter().bytes) + "\"";
            std::printf("%-22s %-26s %-28s %s\n", p.filename().c_str(), d.name.c_str(), rule.c_str(),
                        d.summary.c_str());
        } catch (const std::exception& e) {
            std::printf("%-22s INVALID: %s\n", p.filename().c_str(), e.what());
            bad++;
        }
    }
    return bad ? 1 : 0;
}

}  // namespace

const Command list_command{"list", "[DIR]", "the shipped protocol descriptions", {}, run};

}  // namespace sockframe::cli
