// sockframe::Proxy: an L7 message router built from a description. Each whole
// request of a client goes to one backend (by its routing key, round-robin, or per
// connection), each whole reply of a backend goes back to its client: a client
// never sees parts of two replies interleaved. Two paths do the same job:
//   kernel     sk_skb parser + verdict on client and backend sockets, redirecting
//              whole messages egress between them (bpf/sockframe_proxy.bpf.h);
//              no payload byte passes through the process;
//   userspace  an epoll loop with the userspace framer and the same decisions
//              (decide_route, the same consistent-hash table): no privilege.
// docs/proxy.md has the semantics per protocol and the failure table.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sockframe/description.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class RouteMode {
    key,          // per message: consistent hash of the message's key over the live backends
    round_robin,  // per message: the next live backend
    connection,   // every message of a client to one backend (the L4 baseline)
    first_key,    // the first message's key picks the backend (by value or hash); the rest is forwarded
};
const char* route_mode_name(RouteMode m);
std::optional<RouteMode> parse_route_mode(const std::string& s);

enum class ProxyPath { automatic, kernel, userspace };

struct ProxyBackend {
    std::string value;  // first-key: the key this backend serves ("*" = default); "" = hashed
    std::string host;
    uint16_t port = 0;
    std::string name() const;  // "HOST:PORT": its identity in the consistent-hash table
};
// "[VALUE=]HOST:PORT" (the CLI's --backend); throws std::invalid_argument.
ProxyBackend parse_backend(const std::string& spec);

struct ProxyOptions {
    Description request;                  // frames client -> backend messages, holds [route]
    std::optional<Description> response;  // frames backend -> client messages; default: request
    std::string listen = "127.0.0.1:0";   // HOST:PORT; port 0 = the kernel picks (see Proxy::port())
    // A listening socket to serve instead of `listen` (a worker's listener of a
    // Steering or an SO_REUSEPORT group): the Proxy serves a duplicate of it, so the
    // caller keeps and closes its own. -1: open `listen`.
    int listen_fd = -1;
    std::vector<ProxyBackend> backends;
    std::optional<RouteMode> route;  // default: key when the description has a key, else connection
    ProxyPath path = ProxyPath::automatic;
    bool require_kernel = false;  // never fall back to the userspace path
    uint32_t max_clients = 1024;  // kernel path: sizes the maps
    // first-key: a client whose first message is not whole this long after it connected
    // is closed, counted and logged (a slow or idle client holds backend connections). 0 = never.
    uint32_t first_message_timeout_ms = 10000;
    // One line per event worth a log (a refused backend, a framing error, the fallback).
    std::function<void(const std::string&)> log;
};

// Counters, per backend and per rule of the description's [route].
struct ProxyBackendCounters {
    std::string name;
    uint64_t messages = 0, bytes = 0;  // requests routed to it
    uint64_t replies = 0, reply_bytes = 0;
    uint64_t errors = 0;  // requests that could not reach it (no connection)
    bool live = true;     // false once it refused a connection
};
struct ProxyRuleCounters {
    std::string name;
    uint64_t messages = 0, bytes = 0;
};
struct ProxyCounters {
    std::vector<ProxyBackendCounters> backends;
    std::vector<ProxyRuleCounters> rules;
    uint64_t drops = 0;           // messages a drop rule discarded
    uint64_t no_backend = 0;      // messages or clients with no backend to go to
    uint64_t clients = 0;         // accepted
    uint64_t clients_closed = 0;  // closed (either side)
    uint64_t framing_errors = 0;  // clients or backends closed for breaking the description
    uint64_t backend_closed = 0;  // backends that closed mid-stream
    uint64_t first_message_timeouts = 0;  // first-key: clients closed with no whole first message in time
};

class Proxy {
public:
    // Listens, connects nothing yet, and chooses the path (loading the kernel
    // programs when it takes that path). Throws with context on bad options,
    // an address in use, or (require_kernel) a kernel path that cannot load.
    explicit Proxy(ProxyOptions options);
    ~Proxy();
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // Serves until stop(); returns after every client and backend connection is closed
    // and every map entry removed.
    void run();
    // Safe from any thread and from a signal handler.
    void stop();

    const char* path() const;  // "kernel" or "userspace"
    RouteMode route() const;
    uint16_t port() const;  // the listening port
    ProxyCounters counters() const;
    // Map entries the kernel path holds now (0 on the userspace path): for the tests
    // that check nothing survives a connection.
    size_t map_entries() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The kernel path's BPF C for a description: its generated parser with the
// proxy's verdict (bpf/sockframe_proxy.bpf.h) instead of the receive plane's.
std::string generate_proxy_bpf_c(const Description& d);

}  // namespace sockframe

#pragma GCC visibility pop
