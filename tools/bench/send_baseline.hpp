// Kernel baselines for sockframe-bench --workload send, without sockframe's checks:
//  - PassThroughSendProgram: a verdict that passes every sendmsg untouched, so the
//    table separates what the kernel's sockmap send path costs (tcp_bpf_sendmsg)
//    from what the generated program adds;
//  - LocalDeliveryProgram: both ends of a loopback connection in one sockhash, every
//    sendmsg redirected into the peer's receive queue (bpf_msg_redirect_hash with
//    BPF_F_INGRESS), skipping TCP: what "local delivery" (issue 14, item 5) could win
//    at best.
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

class LocalDeliveryProgram {
public:
    LocalDeliveryProgram();  // throws BpfLoadError / BpfCompileError
    ~LocalDeliveryProgram();
    // Both ends of one connection: from now on each one's sends land in the other's
    // receive queue. 0 or an errno.
    int attach_pair(int a, int b) const;
    void detach(int fd) const;

private:
    std::unique_ptr<LoadedObject> object_;
};

}  // namespace sockframe::bench
