#include "support/install_paths.hpp"

#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "build_config.hpp"

namespace fs = std::filesystem;

namespace sockframe {

bool running_from_build_tree() {
    static const bool inside = [] {
        std::error_code ec;
        fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (ec) return false;
        fs::path root = fs::weakly_canonical(SOCKFRAME_BUILD_ROOT, ec);
        if (ec) return false;
        auto rel = exe.lexically_relative(root);
        return !rel.empty() && *rel.begin() != "..";
    }();
    return inside;
}

std::vector<std::string> directories_from_env(const char* var, std::vector<std::string> fallback) {
    const char* v = std::getenv(var);
    if (!v || !*v) return fallback;
    std::vector<std::string> out;
    std::string_view s = v;
    for (size_t pos = 0; pos <= s.size();) {
        size_t colon = s.find(':', pos);
        if (colon == std::string_view::npos) colon = s.size();
        if (colon > pos) out.emplace_back(s.substr(pos, colon - pos));
        pos = colon + 1;
    }
    return out;
}

}  // namespace sockframe
