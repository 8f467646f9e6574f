#include "steering_watch.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace sockframe::cli {

SteeringWatch::SteeringWatch(const Steering* steering) {
    if (!steering) return;
    thread_ = std::thread([this, steering] {
        std::unique_lock l(mu_);
        while (!cv_.wait_for(l, std::chrono::seconds(1), [this] { return done_; }))
            if (std::string problem = steering->check(); !problem.empty()) {
                std::fprintf(stderr, "sockframe: warning: %s\n", problem.c_str());
                return;  // once: it does not heal
            }
    });
}

SteeringWatch::~SteeringWatch() {
    {
        std::lock_guard l(mu_);
        done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace sockframe::cli
