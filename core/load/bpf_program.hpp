// Loading: one owner for the bpf_object of a generated parser, its maps and the
// parser/verdict attachment to the sockhash. Nothing loaded escapes it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <sockframe/load_options.hpp>

struct bpf_object;

namespace sockframe {

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
