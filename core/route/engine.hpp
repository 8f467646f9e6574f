// What both proxy paths implement: serve clients accepted on a listener until a
// stop event, routing with the shared Router.
#pragma once

#include <functional>
#include <memory>
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

}  // namespace sockframe
