// Builds valid messages of a chosen size for a description: for tests,
// benchmarks and load generators, so none of them re-implements a framing rule.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <sockframe/description.hpp>

namespace sockframe {

// Smallest total size of a main-rule message this builder can produce for `d`.
uint64_t smallest_message(const Description& d);
// Largest total size of a main-rule message this builder can produce for `d`.
uint64_t largest_message(const Description& d);

// A legal main-rule size near `want` (clamped to the description's bounds and
// moved to the nearest size the encoding can express).
uint64_t legal_size_near(const Description& d, uint64_t want);

// A whole main-rule message of exactly `total` bytes, payload bytes from `rng`;
// nullopt if no legal message has that size.
std::optional<std::vector<uint8_t>> build_message(const Description& d, uint64_t total, std::mt19937_64& rng);

// The stream's first message when the description has one (a preface, or a
// first_length message of about `want` bytes); empty otherwise.
std::vector<uint8_t> build_first_message(const Description& d, uint64_t want, std::mt19937_64& rng);

// The bytes of a length field holding `value`, or nullopt if it can't.
std::optional<std::vector<uint8_t>> encode_length_field(const LengthField& f, uint64_t value);

}  // namespace sockframe
