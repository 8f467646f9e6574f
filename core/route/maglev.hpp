// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of a
// prime size in which each live backend owns about 1/N of the slots; removing or
// adding one backend moves about 1/N of the keys. The kernel path copies the
// table into a BPF array map, so both paths pick the same backend for a key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sockframe {

inline constexpr uint32_t kMaglevSize = 65537;  // prime, >= 100 x the backends we allow
inline constexpr uint32_t kNoBackend = UINT32_MAX;

// slot -> backend index (into `names`), over the backends with live[i]; every
// slot kNoBackend when none is live. Deterministic: depends on names only.
std::vector<uint32_t> maglev_table(const std::vector<std::string>& names, const std::vector<bool>& live,
                                   uint32_t size = kMaglevSize);

// The slot of a key's hash, as the BPF verdict computes it.
inline uint32_t maglev_slot(uint64_t key_hash, uint32_t size = kMaglevSize) {
    return static_cast<uint32_t>(key_hash % size);
}

}  // namespace sockframe
