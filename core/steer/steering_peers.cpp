#include "steer/steering_peers.hpp"

#include <bpf/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "sockframe_steer_abi.h"

namespace sockframe {
namespace {

struct OwnedFd {
    int fd;
    explicit OwnedFd(int f) : fd(f) {}
    ~OwnedFd() {
        if (fd >= 0) close(fd);
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
};

// Reads a peer's rules through its maps, found by name among the program's maps.
bool read_peer(uint32_t program_id, SteeringPeer& out) {
    OwnedFd prog(bpf_prog_get_fd_by_id(program_id));
    if (prog.fd < 0) return false;
    uint32_t map_ids[16] = {};
    bpf_prog_info info{};
    info.nr_map_ids = 16;
    info.map_ids = reinterpret_cast<uint64_t>(map_ids);
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog.fd, &info, &len) != 0) return false;
    int rules_fd = -1, conf_fd = -1;
    std::vector<std::unique_ptr<OwnedFd>> maps;
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 16); i++) {
        auto m = std::make_unique<OwnedFd>(bpf_map_get_fd_by_id(map_ids[i]));
        bpf_map_info mi{};
        uint32_t mlen = sizeof mi;
        if (m->fd < 0 || bpf_obj_get_info_by_fd(m->fd, &mi, &mlen) != 0) continue;
        if (std::strcmp(mi.name, "sf_steer_rules") == 0 && mi.value_size == sizeof(sf_steer_rule)) rules_fd = m->fd;
        if (std::strcmp(mi.name, "sf_steer_conf") == 0 && mi.value_size == sizeof(sf_steer_config)) conf_fd = m->fd;
        maps.push_back(std::move(m));
    }
    if (rules_fd < 0 || conf_fd < 0) return false;
    uint32_t zero = 0;
    sf_steer_config conf{};
    if (bpf_map_lookup_elem(conf_fd, &zero, &conf) != 0) return false;
    out.program_id = program_id;
    out.owner_pid = conf.owner_pid;
    for (uint32_t i = 0; i < conf.rules && i < SF_STEER_MAX_RULES; i++) {
        sf_steer_rule r{};
        if (bpf_map_lookup_elem(rules_fd, &i, &r) == 0) out.rules.push_back(from_bpf_rule(r));
    }
    return true;
}

}  // namespace

std::vector<SteeringPeer> attached_steering(int netns_fd, unsigned* foreign) {
    uint32_t ids[64], count = 64, flags = 0;
    std::vector<SteeringPeer> peers;
    if (foreign) *foreign = 0;
    if (bpf_prog_query(netns_fd, BPF_SK_LOOKUP, 0, &flags, ids, &count) != 0) return peers;
    for (uint32_t i = 0; i < count; i++) {
        SteeringPeer p;
        if (read_peer(ids[i], p))
            peers.push_back(std::move(p));
        else if (foreign)
            ++*foreign;
    }
    return peers;
}

sf_steer_rule to_bpf_rule(const SteeringRule& r) {
    sf_steer_rule b{};
    b.family = static_cast<uint32_t>(r.family);
    b.port_low = r.port_low;
    b.port_high = r.port_high;
    unsigned bits = r.prefix_len;
    for (int w = 0; w < 4; w++) {
        unsigned take = std::min(bits, 32u);
        uint32_t host_mask = take == 0 ? 0 : ~0u << (32 - take);
        bits -= take;
        b.mask[w] = htonl(host_mask);
        std::memcpy(&b.addr[w], r.address.data() + 4 * w, 4);
        b.addr[w] &= b.mask[w];
    }
    return b;
}

SteeringRule from_bpf_rule(const sf_steer_rule& b) {
    SteeringRule r;
    r.family = static_cast<int>(b.family);
    r.port_low = b.port_low;
    r.port_high = b.port_high;
    for (int w = 0; w < 4; w++) {
        std::memcpy(r.address.data() + 4 * w, &b.addr[w], 4);
        r.prefix_len += static_cast<unsigned>(std::popcount(b.mask[w]));
    }
    return r;
}

}  // namespace sockframe
