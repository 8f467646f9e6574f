// The routing decisions both proxy paths share: which backends are live, the
// consistent-hash table over them, the backend for a message, a connection or a
// first-message key, and the counters. The kernel path copies the table and the
// first-key values into its maps; its verdict makes the same choices (docs/proxy.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <sockframe/proxy.hpp>
#include <sockframe/route.hpp>

#include "route/maglev.hpp"

namespace sockframe {

struct AtomicBackendCounters {
    std::atomic<uint64_t> messages{0}, bytes{0}, replies{0}, reply_bytes{0}, errors{0};
};

class Router {
public:
    Router(const ProxyOptions& o, RouteMode mode);

    RouteMode mode() const { return mode_; }
    size_t size() const { return backends_.size(); }
    const ProxyBackend& backend(uint32_t i) const { return backends_[i]; }
    bool live(uint32_t i) const;
    std::vector<uint32_t> live_list() const;
    // A backend refused a connection: keys re-hash over the others. True if it was live.
    bool mark_dead(uint32_t i);
    std::vector<uint32_t> table() const;  // a copy, for the kernel's map

    // Per message (key / round-robin), or kNoBackend for "use the connection's backend".
    // `rr` is the client's round-robin counter.
    uint32_t by_hash(uint64_t hash) const;
    uint32_t round_robin(uint64_t& rr) const;
    // The backend of a whole connection (connection mode; key mode for messages with no key).
    uint32_t for_connection(uint64_t client_id) const;
    // first-key: a backend named by this value, else the "*" default, else (no named
    // backends at all) the hash of the key; kNoBackend when none fits.
    uint32_t for_first_key(const std::optional<std::string>& key) const;
    bool has_named_backends() const { return named_; }

    // Counters.
    AtomicBackendCounters& counters(uint32_t i) { return *counters_[i]; }
    void count_rule(uint32_t rule, uint64_t bytes);
    std::atomic<uint64_t> drops{0}, no_backend{0}, clients{0}, clients_closed{0}, framing_errors{0}, backend_closed{0},
        first_message_timeouts{0};
    ProxyCounters snapshot(const Description& d) const;

private:
    RouteMode mode_;
    std::vector<ProxyBackend> backends_;
    std::vector<std::string> names_;
    bool named_ = false;
    mutable std::mutex mu_;  // live_ and table_ change when a backend refuses
    std::vector<bool> live_;
    std::vector<uint32_t> table_;
    std::vector<std::unique_ptr<AtomicBackendCounters>> counters_;
    std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> rule_counts_;  // [rule] -> {messages, bytes}
};

// 64-bit mix of a client id (connection mode's "hash" of a connection).
uint64_t connection_hash(uint64_t client_id);

}  // namespace sockframe
