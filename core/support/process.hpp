// Runs an external program (clang) and captures what it prints.
#pragma once

#include <string>
#include <vector>

namespace sockframe {

struct ProcessResult {
    int exit_code = -1;  // -1: could not start; 128+N: killed by signal N
    std::string output;  // stdout and stderr, interleaved
};

ProcessResult run_process(const std::vector<std::string>& argv);
// The first executable named `name` on PATH, or "" if none.
std::string find_in_path(const std::string& name);

}  // namespace sockframe
