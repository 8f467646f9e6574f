// Another program may detach or replace the steering link while serve or proxy runs
// (docs/steering.md, outcome table): a thread asks Steering::check() every second and
// warns once on stderr. The process keeps running on its listeners.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include <sockframe/steering.hpp>

namespace sockframe::cli {

class SteeringWatch {
public:
    // Nothing to watch when `steering` is null (a plain bind).
    explicit SteeringWatch(const Steering* steering);
    ~SteeringWatch();  // stops the thread
    SteeringWatch(const SteeringWatch&) = delete;
    SteeringWatch& operator=(const SteeringWatch&) = delete;

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace sockframe::cli
