// Shipped descriptions by name: `sockframe check dns`, load_description_file("dns").
#include <sockframe/description.hpp>

#include <filesystem>

#include "build_config.hpp"
#include "support/install_paths.hpp"

namespace fs = std::filesystem;

namespace sockframe {
namespace {

bool looks_like_path(const std::string& s) {
    return s.find('/') != std::string::npos || (s.size() > 5 && s.ends_with(".toml"));
}

std::string looked_in(const std::vector<std::string>& places) {
    std::string out;
    for (size_t i = 0; i < places.size(); i++) out += (i ? ", " : "") + places[i];
    return out.empty() ? "nowhere (no directory configured)" : out;
}

}  // namespace

DescriptionNotFound::DescriptionNotFound(const std::string& name, std::vector<std::string> searched)
    : std::runtime_error("no description named \"" + name + "\": looked for " + looked_in(searched) +
                         " (give a path to a .toml file, set SOCKFRAME_PARSERS_DIR, or see `sockframe list`)"),
      searched_(std::move(searched)) {}

std::vector<std::string> description_directories() {
    return directories_from_env("SOCKFRAME_PARSERS_DIR", {running_from_build_tree() ? SOCKFRAME_SOURCE_PARSERS_DIR
                                                                                    : SOCKFRAME_INSTALLED_PARSERS_DIR});
}

std::string find_description(const std::string& name_or_path) {
    std::error_code ec;
    if (looks_like_path(name_or_path) || fs::is_regular_file(name_or_path, ec)) return name_or_path;
    std::vector<std::string> searched;
    for (const std::string& dir : description_directories()) {
        std::string candidate = (fs::path(dir) / (name_or_path + ".toml")).string();
        if (fs::is_regular_file(candidate, ec)) return candidate;
        searched.push_back(candidate);
    }
    throw DescriptionNotFound(name_or_path, std::move(searched));
}

}  // namespace sockframe
