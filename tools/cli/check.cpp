// `sockframe check`: validate a description and say in words how it frames.
#include <cstdio>

#include <sockframe/sender.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    std::printf("%s: OK\n%s", d.source_name.c_str(), explain(d).c_str());
    // What the send side (docs/send.md) enforces in the kernel, and what not.
    SendSideSupport s = send_side_support(d);
    if (!s.kernel)
        std::printf("Send side: framed in userspace only: %s.\n", s.kernel_reason.c_str());
    else
        std::printf("Send side: the kernel lets only messages that follow this rule leave a socket.\n");
    for (const std::string& n : s.not_enforced) std::printf("Send side, not enforced: %s.\n", n.c_str());
    return 0;
}

}  // namespace

const Command check_command{"check", "DESCRIPTION", "validate a description; say in words how it frames", {}, run};

}  // namespace sockframe::cli
