// listeners_in(): the listening TCP sockets a rule would shadow, and who holds them.
// sk_lookup runs before the kernel's own lookup, so steering a port that another
// socket listens on silently takes that socket's new connections: Steering refuses
// unless told to take over, and names the holder. Read from /proc/net/tcp{,6} (this
// network namespace) and /proc/*/fd (the process owning each socket inode).
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sockframe/steering.hpp>

namespace sockframe {
namespace {

constexpr const char* kListenState = "0A";  // TCP_LISTEN in /proc/net/tcp

struct ProcListener {
    SteeringRule where;
    unsigned long inode = 0;
};

// "0100007F:1F90" (v4) or 32 hex digits + ":PORT" (v6): each 8-digit group is one
// 32-bit word printed in host order from network-order memory.
bool parse_address(const std::string& text, int family, SteeringRule& out) {
    auto colon = text.find(':');
    size_t words = family == AF_INET ? 1 : 4;
    if (colon != words * 8) return false;
    out.family = family;
    out.prefix_len = family == AF_INET ? 32 : 128;
    for (size_t i = 0; i < words; i++) {
        uint32_t w = static_cast<uint32_t>(std::stoul(text.substr(i * 8, 8), nullptr, 16));
        std::memcpy(out.address.data() + 4 * i, &w, 4);
    }
    out.port_low = out.port_high = static_cast<uint16_t>(std::stoul(text.substr(colon + 1), nullptr, 16));
    return true;
}

std::vector<ProcListener> read_listeners(const char* path, int family) {
    std::vector<ProcListener> out;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
        ProcListener l;
        if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
              l.inode))
            continue;
        if (state != kListenState) continue;
        try {
            if (parse_address(local, family, l.where)) out.push_back(l);
        } catch (const std::exception&) {
            // a line this reader does not understand names no listener
        }
    }
    return out;
}

bool is_wildcard(const SteeringRule& r) {
    return std::all_of(r.address.begin(), r.address.end(), [](uint8_t b) { return b == 0; });
}

// A listener takes connections for `rule` if its port is in the range and its address
// is inside the prefix, or it listens on every address (an IPv6 wildcard socket may
// also take IPv4 unless IPV6_V6ONLY, which /proc does not show: counted).
bool shadowed_by(const SteeringRule& rule, const SteeringRule& l) {
    uint16_t port = l.port_low;
    if (port < rule.port_low || port > rule.port_high) return false;
    if (is_wildcard(l)) return l.family == rule.family || l.family == AF_INET6;
    return rule.matches(l.family, l.address.data(), port);
}

// inode -> "pid N (comm)" for every socket inode in `wanted` that some process holds.
std::map<unsigned long, std::string> socket_holders(const std::map<unsigned long, bool>& wanted) {
    std::map<unsigned long, std::string> found;
    std::error_code ec;
    for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
        std::string pid = proc.path().filename();
        if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
        std::error_code fd_ec;
        for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", fd_ec)) {
            char target[64];
            ssize_t n = readlink(fd.path().c_str(), target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            unsigned long inode = 0;
            if (std::sscanf(target, "socket:[%lu]", &inode) != 1 || !wanted.count(inode) || found.count(inode))
                continue;
            std::string comm;
            std::ifstream(proc.path() / "comm") >> comm;
            found[inode] = "pid " + pid + " (" + comm + ")";
        }
    }
    return found;
}

}  // namespace

std::vector<PortOwner> listeners_in(const SteeringRule& rule) {
    std::vector<ProcListener> all = read_listeners("/proc/net/tcp", AF_INET);
    for (auto& l : read_listeners("/proc/net/tcp6", AF_INET6)) all.push_back(l);
    std::vector<ProcListener> hits;
    std::map<unsigned long, bool> inodes;
    for (const auto& l : all)
        if (shadowed_by(rule, l.where)) {
            hits.push_back(l);
            inodes[l.inode] = true;
        }
    if (hits.empty()) return {};
    auto holders = socket_holders(inodes);
    std::vector<PortOwner> out;
    for (const auto& l : hits) {
        auto it = holders.find(l.inode);
        out.push_back({l.where, it != holders.end() ? it->second : "an unknown process (not visible from here)"});
    }
    return out;
}

}  // namespace sockframe
