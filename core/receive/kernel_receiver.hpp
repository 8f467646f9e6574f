// The kernel path: a generated parser frames each socket inside the kernel and
// redirects whole messages, in batches, to a per-connection delivery socket.
// See docs/kernel.md for why this delivery mode and what it relies on.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "load/bpf_program.hpp"
#include <sockframe/connection.hpp>

namespace sockframe {

struct KernelReceiverInfo {
    double load_ms = 0;
    uint32_t verified_insns = 0;
};

// Loads `object` (a parser generated from `d`) and attaches it. Throws BpfLoadError.
// `warn` gets one line when the receiver starts framing new sockets in userspace
// because another program detached or replaced its parser.
std::unique_ptr<Receiver> make_kernel_receiver(std::shared_ptr<const Description> d, std::span<const uint8_t> object,
                                               const LoadOptions& options, KernelReceiverInfo* info = nullptr,
                                               std::function<void(const std::string&)> warn = {});

}  // namespace sockframe
