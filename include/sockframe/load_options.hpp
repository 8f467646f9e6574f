// Loading options and load errors: what a caller sets for the kernel path and what
// it catches when the kernel path can't be had (and the userspace framer can).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

struct LoadOptions {
    uint32_t max_connections = 1024;  // entries of the socket maps
    uint32_t batch_max_msgs = 256;    // 1 = per-message framing
    uint32_t batch_max_bytes = 65536;
    // Bytes the kernel may forward ahead of what the application has read before the
    // connection moves to userspace framing (TCP backpressure from then on).
    // 0 = the default: 4 x the largest message, at least 8 MiB (see docs/kernel.md).
    uint64_t in_flight_max = 0;
    // A kernel-path connection with bytes the parser has not seen and no progress for
    // this long is moved to userspace framing (0 = never check).
    uint32_t stall_timeout_ms = 1000;
    std::string verifier_log_path;  // where a rejected program's full log goes ("" = cache dir)
};

// Loading failed. `missing_capability` is set when privileges are the reason,
// so callers can fall back to the userspace framer with a precise warning.
class BpfLoadError : public std::runtime_error {
public:
    BpfLoadError(std::string message, int error, std::string missing_capability = {}, std::string log_path = {})
        : std::runtime_error(std::move(message)),
          error_(error),
          missing_capability_(std::move(missing_capability)),
          log_path_(std::move(log_path)) {}
    int error() const { return error_; }
    const std::string& missing_capability() const { return missing_capability_; }
    const std::string& log_path() const { return log_path_; }
    bool lacks_privilege() const { return !missing_capability_.empty(); }

private:
    int error_;
    std::string missing_capability_, log_path_;
};

// Capabilities the kernel path needs that this process lacks ("" if none),
// e.g. "CAP_BPF, CAP_NET_ADMIN".
std::string missing_kernel_capabilities();

}  // namespace sockframe

#pragma GCC visibility pop
