#include "proxy_workers.hpp"

#include <string>

namespace sockframe::cli {

ProxyWorkers::ProxyWorkers(const ProxyOptions& options, const std::vector<int>& listeners) {
    ProxyOptions o = options;
    for (int fd : listeners) {
        o.listen_fd = fd;
        proxies_.push_back(std::make_unique<Proxy>(o));
        // One fallback warning at most, and no worker on another path than the first.
        if (o.path == ProxyPath::automatic)
            o.path = std::string(proxies_[0]->path()) == "kernel" ? ProxyPath::kernel : ProxyPath::userspace;
    }
}

ProxyWorkers::~ProxyWorkers() {
    stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void ProxyWorkers::run() {
    for (size_t i = 1; i < proxies_.size(); i++) threads_.emplace_back([p = proxies_[i].get()] { p->run(); });
    proxies_[0]->run();
    stop();  // one worker returning (it failed) ends them all
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void ProxyWorkers::stop() {
    for (auto& p : proxies_) p->stop();
}

ProxyCounters ProxyWorkers::counters() const {
    std::vector<ProxyCounters> each;
    for (auto& p : proxies_) each.push_back(p->counters());
    return sum_counters(each);
}

std::vector<uint64_t> ProxyWorkers::clients_per_worker() const {
    std::vector<uint64_t> out;
    for (auto& p : proxies_) out.push_back(p->counters().clients);
    return out;
}

ProxyCounters sum_counters(const std::vector<ProxyCounters>& per_worker) {
    ProxyCounters sum;
    for (size_t w = 0; w < per_worker.size(); w++) {
        const ProxyCounters& c = per_worker[w];
        if (w == 0) {
            sum.backends = c.backends;  // every worker has the same backends and rules, in order
            sum.rules = c.rules;
        } else {
            for (size_t i = 0; i < c.backends.size() && i < sum.backends.size(); i++) {
                ProxyBackendCounters& b = sum.backends[i];
                b.messages += c.backends[i].messages;
                b.bytes += c.backends[i].bytes;
                b.replies += c.backends[i].replies;
                b.reply_bytes += c.backends[i].reply_bytes;
                b.errors += c.backends[i].errors;
                b.live = b.live && c.backends[i].live;
            }
            for (size_t i = 0; i < c.rules.size() && i < sum.rules.size(); i++) {
                sum.rules[i].messages += c.rules[i].messages;
                sum.rules[i].bytes += c.rules[i].bytes;
            }
        }
        sum.drops += c.drops;
        sum.no_backend += c.no_backend;
        sum.clients += c.clients;
        sum.clients_closed += c.clients_closed;
        sum.framing_errors += c.framing_errors;
        sum.backend_closed += c.backend_closed;
        sum.first_message_timeouts += c.first_message_timeouts;
    }
    return sum;
}

}  // namespace sockframe::cli
