#include "route/router.hpp"

namespace sockframe {

uint64_t connection_hash(uint64_t x) {  // splitmix64's finaliser
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

Router::Router(const ProxyOptions& o, RouteMode mode) : mode_(mode), backends_(o.backends) {
    for (const ProxyBackend& b : backends_) {
        names_.push_back(b.name());
        named_ |= !b.value.empty();
        counters_.push_back(std::make_unique<AtomicBackendCounters>());
    }
    live_.assign(backends_.size(), true);
    table_ = maglev_table(names_, live_);
    size_t rules = o.request.route ? o.request.route->rules.size() : 0;
    for (size_t i = 0; i < rules; i++) {
        rule_counts_.push_back(std::make_unique<std::atomic<uint64_t>[]>(2));
        rule_counts_.back()[0] = 0;
        rule_counts_.back()[1] = 0;
    }
}

bool Router::live(uint32_t i) const {
    std::lock_guard l(mu_);
    return live_[i];
}

std::vector<uint32_t> Router::live_list() const {
    std::lock_guard l(mu_);
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < live_.size(); i++)
        if (live_[i]) out.push_back(i);
    return out;
}

bool Router::mark_dead(uint32_t i) {
    std::lock_guard l(mu_);
    if (!live_[i]) return false;
    live_[i] = false;
    table_ = maglev_table(names_, live_);
    return true;
}

std::vector<uint32_t> Router::table() const {
    std::lock_guard l(mu_);
    return table_;
}

uint32_t Router::by_hash(uint64_t hash) const {
    std::lock_guard l(mu_);
    return table_[maglev_slot(hash, static_cast<uint32_t>(table_.size()))];
}

uint32_t Router::round_robin(uint64_t& rr) const {
    std::vector<uint32_t> l = live_list();
    if (l.empty()) return kNoBackend;
    return l[rr++ % l.size()];
}

uint32_t Router::for_connection(uint64_t client_id) const {
    return by_hash(connection_hash(client_id));
}

uint32_t Router::for_first_key(const std::optional<std::string>& key) const {
    if (!named_) return key ? by_hash(key_hash(*key)) : kNoBackend;
    std::lock_guard l(mu_);
    uint32_t fallback = kNoBackend;
    for (uint32_t i = 0; i < backends_.size(); i++) {
        if (!live_[i]) continue;
        if (key && backends_[i].value == *key) return i;
        if (backends_[i].value == "*" && fallback == kNoBackend) fallback = i;
    }
    return fallback;
}

void Router::count_rule(uint32_t rule, uint64_t bytes) {
    if (rule >= rule_counts_.size()) return;
    rule_counts_[rule][0]++;
    rule_counts_[rule][1] += bytes;
}

ProxyCounters Router::snapshot(const Description& d) const {
    ProxyCounters c;
    for (uint32_t i = 0; i < backends_.size(); i++) {
        const AtomicBackendCounters& a = *counters_[i];
        c.backends.push_back({names_[i], a.messages, a.bytes, a.replies, a.reply_bytes, a.errors, live(i)});
    }
    for (size_t i = 0; i < rule_counts_.size(); i++) {
        std::string name = d.route->rules[i].name;
        if (name.empty()) name = "rule " + std::to_string(i);
        c.rules.push_back({name, rule_counts_[i][0], rule_counts_[i][1]});
    }
    c.drops = drops;
    c.no_backend = no_backend;
    c.clients = clients;
    c.clients_closed = clients_closed;
    c.framing_errors = framing_errors;
    c.backend_closed = backend_closed;
    c.first_message_timeouts = first_message_timeouts;
    return c;
}

}  // namespace sockframe
