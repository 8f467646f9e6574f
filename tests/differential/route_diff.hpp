// Differential verification of routing: the generated sf_route_message and
// sf_first_message_key, compiled for the host (HostParsers::route/first_key),
// against the userspace evaluator (decide_route, find_key) on the same bytes.
// Messages are built from the key's own steps (so most carry a key, in every
// shape the steps allow), then often mutated; route descriptions can be random.
// Used by test_route_differential.cpp, the mutation check and tests/fuzz.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <sockframe/route.hpp>

#include "diff_lib.hpp"

namespace sockframe::diff {

// A message laid out by `key`'s steps: it carries a key unless a random choice
// (a `when`, an expectation, a length) or `mutate` breaks it.
std::vector<uint8_t> keyed_message(const RouteKey& key, std::mt19937_64& rng, bool mutate = true);

// A message for d's [route]: keyed by route.key (or first_key), with fields the
// rules test set to values they match or miss, sizes near the rules' bounds,
// mutations, and plain random bytes now and then. At most max_size bytes.
std::vector<uint8_t> random_route_message(const Description& d, std::mt19937_64& rng, size_t max_size = 3000);

// A random description with a [route] (key steps of every kind, sometimes a
// first_key, rules), as TOML text that always parses.
std::string random_route_toml(std::mt19937_64& rng, const std::string& name);

struct RouteVerdict {
    bool ok = true;
    std::string problem;
    bool has_key = false;  // the evaluator found a key (per-message or first-message), for run summaries
};

// Runs `route` (and `first_key` if not null) on `message` placed at a random
// offset inside random bytes, and compares every output field with decide_route
// / find_key(first_key). Padding comes from `rng`.
RouteVerdict check_route(const Description& d, RouteFn route, FirstKeyFn first_key, std::span<const uint8_t> message,
                         std::mt19937_64& rng);

}  // namespace sockframe::diff
