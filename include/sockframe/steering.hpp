// Steering: one set of worker listeners for many addresses and ports.
//
// An sk_lookup BPF program, attached to the current network namespace with a
// bpf_link, hands every new TCP connection whose local address and port match a
// rule to one of N listening sockets (one per worker), chosen by a hash of the
// 4-tuple. The listeners are not bound to those addresses or ports: a range of
// 1000 ports, or 127.0.0.2 without configuring it, is served by the same sockets.
// The Steering object owns the program, the link and the listeners; when it goes
// (or the process dies, even by SIGKILL) the steering goes with it.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

// One entry: an address prefix and an inclusive port range.
struct SteeringRule {
    int family = 0;                     // AF_INET or AF_INET6
    std::array<uint8_t, 16> address{};  // network byte order; IPv4 in the first 4 bytes
    unsigned prefix_len = 0;            // 32 / 128 for one address
    uint16_t port_low = 0, port_high = 0;

    bool single_port() const { return port_low == port_high; }
    bool single_address() const { return prefix_len == (family == AF_INET6 ? 128u : 32u); }
    // True if some (address, port) falls under both rules.
    bool overlaps(const SteeringRule& other) const;
    bool matches(int family, const uint8_t* address, uint16_t port) const;
    // "127.0.0.1:7000-7999", "[::1]:80", "127.0.0.0/8:9000"
    std::string text() const;
};

// Parses "HOST[/PREFIX]:LOW[-HIGH]" with HOST a numeric IPv4 address or a bracketed
// IPv6 one ("[::1]:80", "[fd00::/8]:1000-1999"). Throws std::invalid_argument
// saying what is wrong.
SteeringRule parse_steering_rule(const std::string& spec);

struct SteeringOptions {
    std::vector<SteeringRule> rules;  // at most 64
    unsigned workers = 1;             // one listener each
    // Steer ports that another socket already listens on (sk_lookup runs first, so
    // that socket stops getting new connections). Default: refuse, naming it.
    bool take_over = false;
    int backlog = 1024;
};

class SteeringError : public std::runtime_error {
public:
    enum class Kind {
        unavailable,  // no privilege (capability names it), no kernel support, built without clang
        port_in_use,  // a rule's port has another listener (without take_over)
        overlap,      // another sockframe instance steers an overlapping rule in this namespace
        invalid,      // bad options
    };
    SteeringError(Kind kind, const std::string& what, std::string capability = {})
        : std::runtime_error(what), kind(kind), capability(std::move(capability)) {}
    Kind kind;
    std::string capability;  // "CAP_BPF, CAP_NET_ADMIN" when that is what is missing
};

struct SteeringCounters {
    uint64_t steered = 0;      // connections handed to a listener
    uint64_t no_listener = 0;  // matched while a listener was missing: dropped
    uint64_t assign_failed = 0;
};

class Steering {
public:
    // Creates the listeners, loads the program, checks the rules against existing
    // listeners and other sockframe instances, and attaches to this process's
    // network namespace. Throws SteeringError.
    explicit Steering(const SteeringOptions& options);
    ~Steering();
    Steering(const Steering&) = delete;
    Steering& operator=(const Steering&) = delete;

    unsigned workers() const;
    // Worker `i`'s listening socket: TCP, non-blocking, close-on-exec, dual-stack
    // IPv6 where the host has IPv6 (an IPv4 connection then shows a v4-mapped
    // peer). Owned by the Steering: accept from it, do not close it.
    int listener(unsigned i) const;
    const std::vector<SteeringRule>& rules() const;

    uint32_t program_id() const;
    uint32_t link_id() const;
    // "" while our link is attached to the namespace running our program; else what
    // happened (detached by another program, or its program replaced).
    std::string check() const;
    SteeringCounters counters() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Who holds a listening TCP socket on (address, port) in this network namespace, read
// from /proc/net/tcp{,6} and /proc/*/fd: "pid 1234 (nginx)", or "an unknown process"
// when the socket's owner is not visible. Empty if nothing listens there. A wildcard
// listener (0.0.0.0, ::) counts for every address.
struct PortOwner {
    SteeringRule where;  // the listener's own address and port
    std::string who;
};
std::vector<PortOwner> listeners_in(const SteeringRule& rule);

}  // namespace sockframe

#pragma GCC visibility pop
