// The sockframe steering programs already attached to a network namespace, and
// their rules: how a second instance names the first before it overlaps it.
#pragma once

#include <cstdint>
#include <vector>

#include <sockframe/steering.hpp>

#include "sockframe_steer_abi.h"

namespace sockframe {

struct SteeringPeer {
    uint32_t program_id = 0;
    uint32_t owner_pid = 0;
    std::vector<SteeringRule> rules;
};

// Every sk_lookup program attached to the namespace open as `netns_fd` that has
// sockframe's steering maps (others are counted in `foreign`, if given).
std::vector<SteeringPeer> attached_steering(int netns_fd, unsigned* foreign = nullptr);

// The rule as sockframe_steer.bpf.c keeps it, and back.
sf_steer_rule to_bpf_rule(const SteeringRule& r);
SteeringRule from_bpf_rule(const sf_steer_rule& r);

}  // namespace sockframe
