#include "listen_plan.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace sockframe::cli {
namespace {

// One address and one port, the form a plain bind serves ("localhost:5353" too).
bool is_single_address_and_port(const std::string& spec) {
    auto colon = spec.rfind(':');
    return colon != std::string::npos && spec.find('-', colon) == std::string::npos &&
           spec.find('/') == std::string::npos;
}

struct Resolved {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

Resolved resolve(const std::string& spec) {
    auto colon = spec.rfind(':');
    std::string host = spec.substr(0, colon), port = spec.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
        throw std::invalid_argument("--listen " + spec + ": " + gai_strerror(rc));
    Resolved r;
    std::memcpy(&r.addr, res->ai_addr, res->ai_addrlen);
    r.len = res->ai_addrlen;
    freeaddrinfo(res);
    return r;
}

// The listener a resolved address names, as a rule, to find who else listens there.
SteeringRule rule_of(const Resolved& r) {
    SteeringRule rule;
    rule.family = r.addr.ss_family;
    if (rule.family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&r.addr);
        std::memcpy(rule.address.data(), &a->sin6_addr, 16);
        rule.prefix_len = 128;
        rule.port_low = rule.port_high = ntohs(a->sin6_port);
    } else {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&r.addr);
        std::memcpy(rule.address.data(), &a->sin_addr, 4);
        rule.prefix_len = 32;
        rule.port_low = rule.port_high = ntohs(a->sin_port);
    }
    return rule;
}

// N sockets on one address and port. With more than one, SO_REUSEPORT lets the kernel
// spread connections over them; it would also let another process of the same user
// join the group silently, so a port someone already listens on is refused first.
void bind_reuseport(ListenPlan& plan, const std::string& spec, unsigned workers) {
    Resolved r = resolve(spec);
    if (workers > 1)
        if (auto owners = listeners_in(rule_of(r)); !owners.empty())
            throw std::runtime_error("cannot listen on " + spec + ": already listened on by " + owners[0].who);
    for (unsigned i = 0; i < workers; i++) {
        int fd = socket(r.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (workers > 1) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
            plan.listeners.push_back(fd);
        }
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&r.addr), r.len) != 0 || listen(fd, 512) != 0)
            throw std::runtime_error("cannot listen on " + spec + ": " + std::strerror(errno));
        // Port 0: the kernel picked one for the first socket; the others join it there.
        if (i == 0) getsockname(fd, reinterpret_cast<sockaddr*>(&r.addr), &r.len);
    }
    plan.summary = spec + (workers > 1 ? " (SO_REUSEPORT, " + std::to_string(workers) + " workers)" : "");
}

}  // namespace

ListenPlan::~ListenPlan() {
    if (!steering)
        for (int fd : listeners) close(fd);
}

std::unique_ptr<ListenPlan> open_listen_plan(const std::vector<std::string>& specs, unsigned workers, bool take_over) {
    auto plan = std::make_unique<ListenPlan>();
    if (specs.size() == 1 && is_single_address_and_port(specs[0])) {
        bind_reuseport(*plan, specs[0], workers);
        return plan;
    }
    SteeringOptions o;
    o.workers = workers;
    o.take_over = take_over;
    for (const auto& s : specs) o.rules.push_back(parse_steering_rule(s));
    try {
        plan->steering = std::make_unique<Steering>(o);
    } catch (const SteeringError& e) {
        throw std::runtime_error(std::string("cannot steer --listen: ") + e.what());
    }
    for (unsigned i = 0; i < workers; i++) plan->listeners.push_back(plan->steering->listener(i));
    for (const auto& r : o.rules) plan->summary += (plan->summary.empty() ? "" : ", ") + r.text();
    plan->summary += " (sk_lookup, " + std::to_string(workers) + (workers == 1 ? " worker)" : " workers)");
    return plan;
}

}  // namespace sockframe::cli
