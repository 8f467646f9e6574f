// Steering: the worker listeners, the sk_lookup program with its maps, and the link
// to this thread's network namespace, in that order; everything is checked before
// the link exists, so a refusal leaves the namespace as it was.
#include <sockframe/steering.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <sockframe/load_options.hpp>

#include "load/loaded_object.hpp"
#include "sockframe_steer_abi.h"
#include "steer/steer_object.hpp"
#include "steer/steering_peers.hpp"
#include "support/loopback.hpp"

namespace sockframe {
namespace {

constexpr unsigned kMaxWorkers = 4096;

std::string process_name(uint32_t pid) {
    std::string comm;
    std::ifstream(std::to_string(pid).insert(0, "/proc/") + "/comm") >> comm;
    return comm.empty() ? "pid " + std::to_string(pid) + ", no longer running (is the link pinned?)"
                        : "pid " + std::to_string(pid) + " (" + comm + ")";
}

void check_options(const SteeringOptions& o) {
    using K = SteeringError::Kind;
    if (o.rules.empty()) throw SteeringError(K::invalid, "steering needs at least one address and port range");
    if (o.rules.size() > SF_STEER_MAX_RULES)
        throw SteeringError(K::invalid, "steering takes at most " + std::to_string(SF_STEER_MAX_RULES) +
                                            " address/port entries, got " + std::to_string(o.rules.size()));
    if (o.workers == 0 || o.workers > kMaxWorkers)
        throw SteeringError(K::invalid, "steering needs 1 to " + std::to_string(kMaxWorkers) + " workers, got " +
                                            std::to_string(o.workers));
}

// Another sockframe instance steering an overlapping rule here: refuse, naming it.
// With `lower_than`, only peers whose program is older than ours count (the tie-break
// after attaching: of two instances that raced, the younger one backs off).
void refuse_overlap(const std::vector<SteeringRule>& rules, int netns_fd, uint32_t self_program, bool only_older) {
    for (const SteeringPeer& peer : attached_steering(netns_fd)) {
        if (peer.program_id == self_program || (only_older && peer.program_id > self_program)) continue;
        for (const SteeringRule& mine : rules)
            for (const SteeringRule& theirs : peer.rules)
                if (mine.overlaps(theirs))
                    throw SteeringError(SteeringError::Kind::overlap,
                                        mine.text() + " overlaps " + theirs.text() + ", already steered by sockframe " +
                                            process_name(peer.owner_pid) + " (sk_lookup program id " +
                                            std::to_string(peer.program_id) +
                                            ") in this network namespace; stop it or choose addresses and "
                                            "ports that do not overlap");
    }
}

// A port some socket already listens on: refuse, naming the port and the holder.
void refuse_taken_ports(const std::vector<SteeringRule>& rules) {
    for (const SteeringRule& rule : rules) {
        std::vector<PortOwner> owners = listeners_in(rule);
        if (owners.empty()) continue;
        std::string list;
        for (size_t i = 0; i < owners.size() && i < 3; i++)
            list += (i ? "; " : "") + std::string("port ") + std::to_string(owners[i].where.port_low) + " (" +
                    owners[i].where.text() + ") by " + owners[i].who;
        if (owners.size() > 3) list += "; and " + std::to_string(owners.size() - 3) + " more";
        throw SteeringError(SteeringError::Kind::port_in_use,
                            "cannot steer " + rule.text() + ": already listened on: " + list +
                                ". Steering would take that socket's new connections; stop it, choose other ports, "
                                "or take them over (--take-over)");
    }
}

// A listening socket that sk_lookup hands connections of both families to. It is
// an IPv6 socket bound to the v4-mapped ::ffff:127.0.0.1 at a port the kernel picks:
// bpf_sk_assign refuses an IPv4 socket for an IPv6 lookup and an IPV6_V6ONLY one for
// an IPv4 lookup, and binding to a plain IPv6 address (::1) sets V6ONLY. Bound there,
// only steered connections (and local ones to that port) reach it.
Fd make_listener(bool need_ipv6, int backlog) {
    Fd s(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.fd >= 0) {
        int zero = 0;
        setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr);
        if (bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(s.fd, backlog) == 0) return s;
    }
    int e = errno;
    if (need_ipv6)
        throw SteeringError(SteeringError::Kind::unavailable,
                            std::string("an IPv6 rule needs an IPv6 listener on ::1: ") + std::strerror(e));
    Fd v4(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (v4.fd < 0 || bind(v4.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(v4.fd, backlog) != 0)
        throw SteeringError(SteeringError::Kind::unavailable,
                            std::string("cannot create a worker listener on 127.0.0.1: ") + std::strerror(errno));
    return v4;
}

std::unique_ptr<LoadedObject> load_program(unsigned workers) {
    if (steer_object().empty())
        throw SteeringError(SteeringError::Kind::unavailable,
                            "this sockframe was built without clang (-Dbpf_objects=disabled): no steering program");
    ObjectSpec spec;
    spec.object = steer_object();
    spec.name = "sf_steer";
    spec.role = "steering program";
    spec.map_sizes = {{"sf_steer_socks", workers}};
    spec.needs_kernel_btf = false;
    try {
        return std::make_unique<LoadedObject>(spec);
    } catch (const BpfLoadError& e) {
        throw SteeringError(SteeringError::Kind::unavailable, std::string("steering (sk_lookup): ") + e.what(),
                            e.missing_capability());
    }
}

}  // namespace

struct Steering::Impl {
    SteeringOptions options;
    std::vector<Fd> listeners;
    std::unique_ptr<LoadedObject> object;  // the link goes with it
    int link_fd = -1;
    uint32_t link_id = 0, program_id = 0;
};

Steering::Steering(const SteeringOptions& options) : impl_(std::make_unique<Impl>()) {
    check_options(options);
    impl_->options = options;
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty())
        throw SteeringError(SteeringError::Kind::unavailable,
                            "steering addresses and port ranges needs " + missing +
                                " (an sk_lookup program and a bpf_link on the network namespace); run as root or "
                                "grant them, or listen on one address and port (plain bind)",
                            missing);
    Fd netns(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (netns.fd < 0) throw SteeringError(SteeringError::Kind::unavailable, "cannot open this network namespace");
    refuse_overlap(options.rules, netns.fd, 0, false);
    if (!options.take_over) refuse_taken_ports(options.rules);

    bool need_ipv6 = false;
    for (const auto& r : options.rules) need_ipv6 |= r.family == AF_INET6;
    for (unsigned i = 0; i < options.workers; i++)
        impl_->listeners.push_back(make_listener(need_ipv6, options.backlog));

    impl_->object = load_program(options.workers);
    LoadedObject& obj = *impl_->object;
    auto rules = obj.map<uint32_t, sf_steer_rule>("sf_steer_rules");
    for (uint32_t i = 0; i < options.rules.size(); i++) rules.update(i, to_bpf_rule(options.rules[i]));
    auto socks = obj.socket_map<uint32_t>("sf_steer_socks");
    for (uint32_t i = 0; i < options.workers; i++)
        if (int err = socks.insert(i, impl_->listeners[i].fd); err != 0)
            throw SteeringError(SteeringError::Kind::unavailable,
                                std::string("this kernel refuses a listening socket in a SOCKMAP: ") +
                                    std::strerror(err) + " (sk_lookup steering needs Linux 5.10 or later)");
    sf_steer_config conf{static_cast<uint32_t>(options.rules.size()), options.workers, static_cast<uint32_t>(getpid()),
                         0};
    obj.map<uint32_t, sf_steer_config>("sf_steer_conf").update(0, conf);
    impl_->program_id = obj.program_id("sf_steer");

    try {
        impl_->link_fd = obj.attach_to_netns("sf_steer", netns.fd);
    } catch (const BpfLoadError& e) {
        throw SteeringError(SteeringError::Kind::unavailable, std::string("steering (sk_lookup): ") + e.what(),
                            e.missing_capability());
    }
    bpf_link_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(impl_->link_fd, &info, &len) == 0) impl_->link_id = info.id;
    // Two instances that checked at the same moment are now both attached: the one
    // whose program is younger backs off (its link goes with this exception).
    refuse_overlap(options.rules, netns.fd, impl_->program_id, true);
}

Steering::~Steering() = default;

unsigned Steering::workers() const {
    return static_cast<unsigned>(impl_->listeners.size());
}

int Steering::listener(unsigned i) const {
    return impl_->listeners.at(i).fd;
}

const std::vector<SteeringRule>& Steering::rules() const {
    return impl_->options.rules;
}

uint32_t Steering::program_id() const {
    return impl_->program_id;
}

uint32_t Steering::link_id() const {
    return impl_->link_id;
}

std::string Steering::check() const {
    bpf_link_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(impl_->link_fd, &info, &len) != 0)
        return std::string("cannot query the steering link: ") + std::strerror(errno);
    if (info.netns.netns_ino == 0)
        return "the steering link (id " + std::to_string(impl_->link_id) +
               ") was detached from the network namespace by another program: connections to the steered ports are "
               "refused or reach whatever else listens there";
    if (info.prog_id != impl_->program_id)
        return "the steering link (id " + std::to_string(impl_->link_id) + ") now runs program id " +
               std::to_string(info.prog_id) + ", not ours (" + std::to_string(impl_->program_id) +
               "): another program replaced it";
    return "";
}

SteeringCounters Steering::counters() const {
    auto stats = impl_->object->map<uint32_t, sf_steer_stats>("sf_steer_stats").lookup(0).value_or(sf_steer_stats{});
    return {stats.steered, stats.no_listener, stats.assign_failed};
}

}  // namespace sockframe
