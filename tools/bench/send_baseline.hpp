// The kernel's own SK_MSG cost, without sockframe's program: a verdict that passes
// every sendmsg untouched, on a sockhash of its own. sockframe-bench --workload send
// runs it beside the generated send program, so the table separates what the
// kernel's sockmap send path costs (tcp_bpf_sendmsg) from what our checks add.
#pragma once

#include <memory>

namespace sockframe {
class LoadedObject;
}

namespace sockframe::bench {

class PassThroughSendProgram {
public:
    PassThroughSendProgram();  // throws BpfLoadError / BpfCompileError
    ~PassThroughSendProgram();
    // Puts a connected TCP socket under the program; 0 or an errno.
    int attach(int fd) const;
    void detach(int fd) const;

private:
    std::unique_ptr<LoadedObject> object_;
};

}  // namespace sockframe::bench
