#include "route/maglev.hpp"

#include <sockframe/route.hpp>

namespace sockframe {

std::vector<uint32_t> maglev_table(const std::vector<std::string>& names, const std::vector<bool>& live,
                                   uint32_t size) {
    std::vector<uint32_t> table(size, kNoBackend);
    struct Perm {
        uint32_t backend;
        uint64_t offset, skip, next = 0;
    };
    std::vector<Perm> perms;
    for (uint32_t i = 0; i < names.size(); i++) {
        if (!live[i]) continue;
        // Two independent hashes of the backend's name: where its preference list
        // starts and how it steps (skip in [1, size-1], coprime with the prime size).
        uint64_t h1 = key_hash(names[i]), h2 = key_hash("maglev-skip:" + names[i]);
        perms.push_back({i, h1 % size, h2 % (size - 1) + 1});
    }
    if (perms.empty()) return table;
    // Round robin over the backends: each takes its next preferred free slot.
    for (uint32_t filled = 0;;) {
        for (Perm& p : perms) {
            uint64_t c;
            do {
                c = (p.offset + p.next * p.skip) % size;
                p.next++;
            } while (table[c] != kNoBackend);
            table[c] = p.backend;
            if (++filled == size) return table;
        }
    }
}

}  // namespace sockframe
