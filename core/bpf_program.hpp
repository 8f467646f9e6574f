// Loading: one owner for the bpf_object of a generated parser, its maps and the
// parser/verdict attachment to the sockhash. Nothing loaded escapes it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

struct bpf_object;

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

class BpfParserProgram {
public:
    BpfParserProgram(std::span<const uint8_t> object, const std::string& name, const LoadOptions& options);
    ~BpfParserProgram();
    BpfParserProgram(const BpfParserProgram&) = delete;
    BpfParserProgram& operator=(const BpfParserProgram&) = delete;

    int sockets_map() const { return sockets_fd_; }
    int targets_map() const { return targets_fd_; }
    int conns_map() const { return conns_fd_; }
    int consumed_map() const { return consumed_fd_; }
    int handoff_map() const { return handoff_fd_; }
    uint32_t max_connections() const { return max_connections_; }
    double load_ms() const { return load_ms_; }
    uint32_t verified_insns() const { return verified_insns_; }
    // "" while our parser and verdict are the ones attached to the sockmap; else what
    // changed. Sockets already in the map keep the programs they joined with, so only
    // sockets added from now on are affected (measured: docs/faults.md).
    std::string attachment_problem() const;

private:
    struct ObjectCloser {
        void operator()(bpf_object* o) const;
    };
    std::unique_ptr<bpf_object, ObjectCloser> obj_;
    int parser_fd_ = -1, verdict_fd_ = -1;
    int sockets_fd_ = -1, targets_fd_ = -1, conns_fd_ = -1, consumed_fd_ = -1, handoff_fd_ = -1;
    bool parser_attached_ = false, verdict_attached_ = false;
    uint32_t max_connections_ = 0;
    double load_ms_ = 0;
    uint32_t verified_insns_ = 0;
    uint32_t parser_id_ = 0, verdict_id_ = 0;
};

}  // namespace sockframe
