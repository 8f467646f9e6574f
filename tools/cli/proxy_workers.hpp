// `proxy --workers N`: N sockframe::Proxy engines, one per listener of a ListenPlan
// (sk_lookup steering or an SO_REUSEPORT group), each with its own event loop on its
// own thread. Each engine routes on its own (round-robin turns, backend liveness);
// the counters are summed over them.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <sockframe/proxy.hpp>

namespace sockframe::cli {

class ProxyWorkers {
public:
    // One Proxy per listener (each serves a duplicate of it). With --path auto, the
    // first decides the path and the others take the same, so all run one path.
    ProxyWorkers(const ProxyOptions& options, const std::vector<int>& listeners);
    ~ProxyWorkers();
    ProxyWorkers(const ProxyWorkers&) = delete;
    ProxyWorkers& operator=(const ProxyWorkers&) = delete;

    // Runs every worker until stop(); worker 0 on the calling thread.
    void run();
    // Safe from a signal handler (writes each engine's eventfd).
    void stop();

    const Proxy& first() const { return *proxies_[0]; }
    ProxyCounters counters() const;                    // summed over the workers
    std::vector<uint64_t> clients_per_worker() const;  // accepted, per worker

private:
    std::vector<std::unique_ptr<Proxy>> proxies_;
    std::vector<std::thread> threads_;
};

// Counts summed; a backend is live only while every worker still sees it live.
ProxyCounters sum_counters(const std::vector<ProxyCounters>& per_worker);

}  // namespace sockframe::cli
