// `sockframe proxy`: route whole messages between clients and backends
// (sockframe::Proxy), print the counters periodically and when stopped.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <sockframe/proxy.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

void print_counters(FILE* out, Format f, const ProxyCounters& c) {
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
                     "\"clients_closed\":%llu,\"framing_errors\":%llu,\"backend_closed\":%llu}\n",
                     (unsigned long long)c.drops, (unsigned long long)c.no_backend, (unsigned long long)c.clients,
                     (unsigned long long)c.clients_closed, (unsigned long long)c.framing_errors,
                     (unsigned long long)c.backend_closed);
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
                     "closed mid-stream %llu\n",
                     (unsigned long long)c.drops, (unsigned long long)c.no_backend, (unsigned long long)c.clients,
                     (unsigned long long)c.clients_closed, (unsigned long long)c.framing_errors,
                     (unsigned long long)c.backend_closed);
    }
    std::fflush(out);
}

Proxy* g_proxy = nullptr;
void on_signal(int) {
    if (g_proxy) g_proxy->stop();  // writes an eventfd: async-signal-safe
}

int run(const Args& a) {
    ProxyOptions o;
    o.request = a.description();
    if (std::string r = a.value("--response"); !r.empty()) o.response = load_description_file(r);
    o.listen = a.value("--listen");
    if (o.listen.empty()) usage_error(a.command(), "missing --listen HOST:PORT");
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

    Proxy proxy(std::move(o));
    g_proxy = &proxy;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::string backends;
    for (const ProxyBackendCounters& b : proxy.counters().backends) backends += (backends.empty() ? "" : ", ") + b.name;
    std::fprintf(stderr, "sockframe: proxying %s on %s (port %u) to %s (%s path, --route %s)\n",
                 a.positional()[0].c_str(), a.value("--listen").c_str(), proxy.port(), backends.c_str(), proxy.path(),
                 route_mode_name(proxy.route()));
    std::fflush(stderr);

    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread stats;
    if (interval > 0)
        stats = std::thread([&] {
            std::unique_lock l(mu);
            while (!cv.wait_for(l, std::chrono::seconds(interval), [&] { return done; }))
                print_counters(stdout, format, proxy.counters());
        });
    proxy.run();
    {
        std::lock_guard l(mu);
        done = true;
    }
    cv.notify_all();
    if (stats.joinable()) stats.join();
    g_proxy = nullptr;
    print_counters(stdout, format, proxy.counters());
    return 0;
}

}  // namespace

const Command proxy_command{
    "proxy",
    "DESCRIPTION --listen HOST:PORT --backend [VALUE=]HOST:PORT... [options]",
    "route each whole message to a backend and each whole reply back",
    {
        {"--listen", "HOST:PORT", "where clients connect"},
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
