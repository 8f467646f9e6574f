// What both proxy paths implement: serve clients accepted on a listener until a
// stop event, routing with the shared Router.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <sockframe/proxy.hpp>

#include "route/router.hpp"

namespace sockframe {

struct EngineContext {
    const ProxyOptions& options;
    const Description& request;
    const Description& response;
    Router& router;
    std::function<void(const std::string&)> log;
};

class ProxyEngine {
public:
    virtual ~ProxyEngine() = default;
    virtual const char* path() const = 0;
    // Serves clients of `listener` until `stop_fd` (an eventfd) is readable, then
    // closes every connection it opened.
    virtual void run(int listener, int stop_fd) = 0;
    virtual size_t map_entries() const { return 0; }
    // Adds what only the engine knows (kernel counters) to the router's snapshot.
    virtual void add_counters(ProxyCounters&) const {}
};

std::unique_ptr<ProxyEngine> make_userspace_engine(const EngineContext& ctx);
// Generates, compiles and loads the proxy programs; throws BpfLoadError /
// BpfCompileError / std::runtime_error when the kernel path cannot be had.
std::unique_ptr<ProxyEngine> make_kernel_engine(const EngineContext& ctx);

// How long a closing client waits for replies to requests already forwarded
// when nothing moves any more (client EOF, a framing error in a request).
inline constexpr int kDrainQuietMs = 300;
// Bytes queued towards one socket before the proxy stops reading its source
// (TCP backpressure from then on).
inline constexpr size_t kHighWater = 4u << 20;

// first-key: whether a client accepted at `accepted` has had its time for a whole
// first message (ProxyOptions::first_message_timeout_ms; 0 = never), and the reason
// logged when it is closed for it (`have`: bytes of it received, when known).
inline bool first_message_late(const ProxyOptions& o, std::chrono::steady_clock::time_point accepted,
                               std::chrono::steady_clock::time_point now) {
    return o.first_message_timeout_ms && now - accepted > std::chrono::milliseconds(o.first_message_timeout_ms);
}
inline std::string first_message_timeout_reason(const ProxyOptions& o, std::optional<size_t> have) {
    std::string s = "no whole first message within " + std::to_string(o.first_message_timeout_ms) + " ms";
    if (have) s += " (" + std::to_string(*have) + " bytes of it received)";
    return s + " (--first-message-timeout)";
}

}  // namespace sockframe
