// `sockframe proxy`: route whole messages between clients and backends
// (sockframe::Proxy), print the counters periodically and when stopped.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <sockframe/proxy.hpp>

#include "command.hpp"
#include "listen_plan.hpp"
#include "proxy_workers.hpp"
#include "steering_watch.hpp"

namespace sockframe::cli {
namespace {

// The counters summed over the workers; with more than one, the clients each accepted.
void print_counters(FILE* out, Format f, const ProxyCounters& c, const std::vector<uint64_t>& per_worker) {
    std::string list;
    for (uint64_t n : per_worker) list += (list.empty() ? "" : f == Format::jsonl ? "," : ", ") + std::to_string(n);
    if (f == Format::jsonl) {
        for (const ProxyBackendCounters& b : c.backends)
            std::fprintf(out,
                         "{\"event\":\"stats\",\"backend\":%s,\"messages\":%llu,\"bytes\":%llu,\"replies\":%llu,"
                         "\"reply_bytes\":%llu,\"errors\":%llu,\"live\":%s}\n",
                         json_string(b.name).c_str(), (unsigned long long)b.messages, (unsigned long long)b.bytes,
                         (unsigned long long)b.replies, (unsigned long long)b.reply_bytes, (unsigned long long)b.errors,
                         b.live ? "true" : "false");
        for (const ProxyRuleCounters& r : c.rules)
            std::fprintf(out, "{\"event\":\"stats\",\"rule\":%s,\"messages\":%llu,\"bytes\":%llu}\n",
                         json_string(r.name).c_str(), (unsigned long long)r.messages, (unsigned long long)r.bytes);
        std::fprintf(out,
                     "{\"event\":\"stats\",\"drops\":%llu,\"no_backend\":%llu,\"clients\":%llu,"
                     "\"clients_closed\":%llu,\"framing_errors\":%llu,\"backend_closed\":%llu,"
                     "\"first_message_timeouts\":%llu}\n",
                     (unsigned long long)c.drops, (unsigned long long)c.no_backend, (unsigned long long)c.clients,
                     (unsigned long long)c.clients_closed, (unsigned long long)c.framing_errors,
                     (unsigned long long)c.backend_closed, (unsigned long long)c.first_message_timeouts);
        if (per_worker.size() > 1) std::fprintf(out, "{\"event\":\"stats\",\"worker_clients\":[%s]}\n", list.c_str());
    } else {
        for (const ProxyBackendCounters& b : c.backends)
            std::fprintf(out, "backend %s: %llu messages, %llu bytes, %llu replies, %llu reply bytes, %llu errors%s\n",
                         b.name.c_str(), (unsigned long long)b.messages, (unsigned long long)b.bytes,
                         (unsigned long long)b.replies, (unsigned long long)b.reply_bytes, (unsigned long long)b.errors,
                         b.live ? "" : " (refused: not live)");
        for (const ProxyRuleCounters& r : c.rules)
            std::fprintf(out, "rule %s: %llu messages, %llu bytes\n", r.name.c_str(), (unsigned long long)r.messages,
                         (unsigned long long)r.bytes);
        std::fprintf(out,
                     "drops %llu, no backend %llu, clients %llu (closed %llu), framing errors %llu, backends "
                     "closed mid-stream %llu, first-message timeouts %llu\n",
                     (unsigned long long)c.drops, (unsigned long long)c.no_backend, (unsigned long long)c.clients,
                     (unsigned long long)c.clients_closed, (unsigned long long)c.framing_errors,
                     (unsigned long long)c.backend_closed, (unsigned long long)c.first_message_timeouts);
        if (per_worker.size() > 1)
            std::fprintf(out, "workers %zu, clients per worker %s\n", per_worker.size(), list.c_str());
    }
    std::fflush(out);
}

ProxyWorkers* g_workers = nullptr;
void on_signal(int) {
    if (g_workers) g_workers->stop();  // writes eventfds: async-signal-safe
}

int run(const Args& a) {
    ProxyOptions o;
    o.request = a.description();
    if (std::string r = a.value("--response"); !r.empty()) o.response = load_description_file(r);
    std::vector<std::string> listen = a.values("--listen");
    if (listen.empty()) usage_error(a.command(), "missing --listen HOST:PORT");
    unsigned workers = static_cast<unsigned>(a.number("--workers", std::max(1u, std::thread::hardware_concurrency())));
    if (workers == 0) usage_error(a.command(), "--workers must be at least 1");
    for (const std::string& b : a.values("--backend")) {
        try {
            o.backends.push_back(parse_backend(b));
        } catch (const std::invalid_argument& e) {
            usage_error(a.command(), e.what());
        }
    }
    if (o.backends.empty()) usage_error(a.command(), "at least one --backend [VALUE=]HOST:PORT is needed");
    if (std::string r = a.value("--route"); !r.empty()) {
        o.route = parse_route_mode(r);
        if (!o.route) usage_error(a.command(), "--route wants key, round-robin, connection or first-key");
    }
    std::string path = a.value("--path", "auto");
    if (path == "auto")
        o.path = ProxyPath::automatic;
    else if (path == "kernel")
        o.path = ProxyPath::kernel;
    else if (path == "userspace")
        o.path = ProxyPath::userspace;
    else
        usage_error(a.command(), "--path wants auto, kernel or userspace");
    if (a.flag("--userspace")) o.path = ProxyPath::userspace;
    o.require_kernel = a.flag("--require-kernel");
    if (o.require_kernel && o.path == ProxyPath::userspace)
        usage_error(a.command(), "--userspace (or --path userspace) and --require-kernel exclude each other");
    o.max_clients = static_cast<uint32_t>(a.number("--max-clients", 1024));
    unsigned long long first_s = a.number("--first-message-timeout", 10);
    o.first_message_timeout_ms = static_cast<uint32_t>(first_s > 4000000 ? 4000000000ull : first_s * 1000);
    Format format = a.format();
    unsigned long long interval = a.number("--stats-interval", 0);

    // The listeners (the same plan as serve's: a plain bind, SO_REUSEPORT or sk_lookup
    // steering), then one engine per listener.
    auto plan = open_listen_plan(listen, workers, a.flag("--take-over"));
    ProxyWorkers proxies(o, plan->listeners);
    g_workers = &proxies;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    const Proxy& proxy = proxies.first();
    std::string backends;
    for (const ProxyBackendCounters& b : proxy.counters().backends) backends += (backends.empty() ? "" : ", ") + b.name;
    std::string where = plan->summary;
    if (!plan->steering) where += " (port " + std::to_string(proxy.port()) + ")";
    std::fprintf(stderr, "sockframe: proxying %s on %s to %s (%s path, --route %s)\n", a.positional()[0].c_str(),
                 where.c_str(), backends.c_str(), proxy.path(), route_mode_name(proxy.route()));
    std::fflush(stderr);
    SteeringWatch watch(plan->steering.get());

    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread stats;
    if (interval > 0)
        stats = std::thread([&] {
            std::unique_lock l(mu);
            while (!cv.wait_for(l, std::chrono::seconds(interval), [&] { return done; }))
                print_counters(stdout, format, proxies.counters(), proxies.clients_per_worker());
        });
    proxies.run();
    {
        std::lock_guard l(mu);
        done = true;
    }
    cv.notify_all();
    if (stats.joinable()) stats.join();
    g_workers = nullptr;
    print_counters(stdout, format, proxies.counters(), proxies.clients_per_worker());
    return 0;
}

}  // namespace

const Command proxy_command{
    "proxy",
    "DESCRIPTION --listen HOST:PORT|HOST[/PREFIX]:LOW-HIGH... --backend [VALUE=]HOST:PORT... [options]",
    "route each whole message to a backend and each whole reply back",
    {
        {"--listen", "HOST:PORT|HOST[/PREFIX]:LOW-HIGH",
         "where clients connect; IPv6 as [::1]:PORT. One HOST:PORT is\nbound (SO_REUSEPORT per worker); ranges, "
         "prefixes and\nseveral entries are steered with sk_lookup (CAP_BPF,\nCAP_NET_ADMIN)",
         true},
        {"--workers", "N", "proxy engines, each with its own listener and event loop\n(default: CPUs)"},
        {"--take-over", "", "steer ports another socket already listens on"},
        {"--backend", "[VALUE=]HOST:PORT",
         "a backend (repeat for more); VALUE= names the first-message\nkey it serves with --route first-key "
         "(*= the default)",
         true},
        {"--route", "key|round-robin|connection|first-key",
         "how a backend is chosen: per message by the key's consistent\nhash (default when the description has a "
         "key), per message in\nturn, per connection (default otherwise), or once by the\nfirst message's key"},
        {"--response", "DESCRIPTION", "frames the replies (default: DESCRIPTION)"},
        {"--path", "auto|kernel|userspace",
         "kernel redirects, the userspace twin, or auto (default:\nkernel when it "
         "loads, else userspace with one warning)"},
        {"--userspace", "", "the same as --path userspace"},
        {"--require-kernel", "", "refuse to start without the kernel path"},
        {"--format", "text|jsonl", "how the counters are printed"},
        {"--stats-interval", "S", "print the counters every S seconds (and at the end)"},
        {"--max-clients", "N", "kernel path: map size in clients (default 1024)"},
        {"--first-message-timeout", "S", "first-key: close a client with no whole first message after S s (default 10, 0 = never)"},
    },
    run};

}  // namespace sockframe::cli
