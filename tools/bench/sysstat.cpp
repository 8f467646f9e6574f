#include "sysstat.hpp"

#include <bpf/bpf.h>
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

#include "sockframe_abi.h"

namespace sockframe::bench {
namespace {

std::string read_small(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return {};
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    return std::string(buf, n);
}

}  // namespace

ProcSnapshot proc_snapshot() {
    ProcSnapshot s;
    static const double ns_per_tick = 1e9 / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::string stat = read_small("/proc/stat");
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    if (std::sscanf(stat.c_str(), "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle, &iowait, &irq,
                    &softirq) == 7) {
        s.busy_ns = static_cast<uint64_t>(static_cast<double>(user + nice + system + irq + softirq) * ns_per_tick);
        s.softirq_ns = static_cast<uint64_t>(static_cast<double>(softirq) * ns_per_tick);
    }
    // Kernel threads are the children of kthreadd (pid 2).
    std::string children = read_small("/proc/2/task/2/children");
    const char* p = children.c_str();
    while (*p) {
        char* end = nullptr;
        long pid = std::strtol(p, &end, 10);
        if (end == p) break;
        p = end;
        std::string comm = read_small("/proc/" + std::to_string(pid) + "/comm");
        if (comm.rfind("kworker", 0) != 0 && comm.rfind("ksoftirqd", 0) != 0) continue;
        std::string sched = read_small("/proc/" + std::to_string(pid) + "/schedstat");
        unsigned long long run = 0;
        if (std::sscanf(sched.c_str(), "%llu", &run) == 1) s.kthreads[static_cast<int>(pid)] = run;
    }
    return s;
}

uint64_t kthread_ns_between(const ProcSnapshot& a, const ProcSnapshot& b) {
    uint64_t total = 0;
    for (auto [pid, ns] : b.kthreads) {
        auto it = a.kthreads.find(pid);
        uint64_t before = it == a.kthreads.end() ? 0 : it->second;
        if (ns >= before) total += ns - before;
    }
    return total;
}

ParserCounters read_parser_counters(const std::vector<int>& app_sockets) {
    ParserCounters out;
    if (app_sockets.empty()) return out;
    std::vector<uint64_t> cookies;
    for (int fd : app_sockets) {
        uint64_t c = 0;
        socklen_t len = sizeof c;
        if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len) == 0) cookies.push_back(c);
    }
    if (cookies.empty()) return out;
    __u32 id = 0;
    while (!out.found && bpf_map_get_next_id(id, &id) == 0) {
        int fd = bpf_map_get_fd_by_id(id);
        if (fd < 0) continue;
        bpf_map_info info{};
        __u32 len = sizeof info;
        // The counters lead struct sf_conn; later fields may grow, so only those are read.
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::strcmp(info.name, SF_MAP_CONNS) == 0 &&
            info.key_size == sizeof(uint64_t) && info.value_size >= offsetof(sf_conn, parser_calls) + 8) {
            std::vector<uint8_t> value(info.value_size);
            auto field = [&](size_t offset) {
                uint64_t v;
                std::memcpy(&v, value.data() + offset, sizeof v);
                return v;
            };
            // Only the map that holds our own sockets: cookies are unique on the machine.
            if (bpf_map_lookup_elem(fd, &cookies[0], value.data()) == 0) {
                out.found = true;
                for (uint64_t c : cookies) {
                    if (bpf_map_lookup_elem(fd, &c, value.data()) != 0) continue;
                    out.forwarded += field(offsetof(sf_conn, forwarded));
                    out.batches += field(offsetof(sf_conn, batches));
                    out.parser_calls += field(offsetof(sf_conn, parser_calls));
                }
            }
        }
        close(fd);
    }
    return out;
}

}  // namespace sockframe::bench
