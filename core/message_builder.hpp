// Builds valid messages of a chosen size for a description: for tests,
// benchmarks and load generators, so none of them re-implements a framing rule.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "description.hpp"

namespace sockframe {

// Smallest and largest total size this builder can produce for `d`.
uint64_t smallest_message(const Description& d);
uint64_t largest_message(const Description& d);

// A whole message of exactly `total` bytes, payload bytes from `rng`.
// nullopt if no legal message has that size (e.g. scale does not divide it).
std::optional<std::vector<uint8_t>> build_message(const Description& d, uint64_t total, std::mt19937_64& rng);

// A legal size near `want` (rounded to the description's granularity, clamped to its bounds).
uint64_t legal_size_near(const Description& d, uint64_t want);

}  // namespace sockframe
