// Where an installed sockframe keeps its data, and where the same data lies for a
// program run from the build directory (the tools and tests): the source tree's
// parsers/ and the build's precompiled objects.
#pragma once

#include <string>
#include <vector>

namespace sockframe {

// True when the running executable lies inside the build directory this library was
// built in (the CLI and tests run from build/, not installed).
bool running_from_build_tree();

// The directories named by environment variable `var` (':'-separated), if it is set
// and not empty; else `fallback`.
std::vector<std::string> directories_from_env(const char* var, std::vector<std::string> fallback);

}  // namespace sockframe
