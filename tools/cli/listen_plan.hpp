// How `serve --listen ... --workers N` listens: one listening socket per worker,
// either N SO_REUSEPORT sockets bound to one address and port (no privilege needed),
// or a Steering (sk_lookup) for ranges, prefixes and several entries.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <sockframe/steering.hpp>

namespace sockframe::cli {

struct ListenPlan {
    std::vector<int> listeners;          // one per worker, non-blocking
    std::unique_ptr<Steering> steering;  // owns `listeners` when set
    std::string summary;                 // "127.0.0.1:7000-7999 (sk_lookup, 2 workers)"
    ListenPlan() = default;
    ListenPlan(const ListenPlan&) = delete;
    ListenPlan& operator=(const ListenPlan&) = delete;
    ~ListenPlan();
};

// `specs`: the --listen values (HOST:PORT, HOST[/PREFIX]:LOW-HIGH, [V6]:PORT).
// Throws std::runtime_error / std::invalid_argument with a message for the user.
std::unique_ptr<ListenPlan> open_listen_plan(const std::vector<std::string>& specs, unsigned workers, bool take_over);

}  // namespace sockframe::cli
