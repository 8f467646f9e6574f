// `sockframe check`: validate a description and say in words how it frames.
#include <cstdio>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    std::printf("%s: OK\n%s", d.source_name.c_str(), explain(d).c_str());
    return 0;
}

}  // namespace

const Command check_command{"check", "DESCRIPTION", "validate a description; say in words how it frames", {}, run};

}  // namespace sockframe::cli
