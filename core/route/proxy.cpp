// sockframe::Proxy: options checked, the listener opened, the path chosen.
#include <sockframe/proxy.hpp>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "route/barrier.hpp"
#include "route/engine.hpp"
#include "route/sockets.hpp"

namespace sockframe {
namespace {

RouteMode default_route(const Description& d) {
    if (d.route && d.route->has_key()) return RouteMode::key;
    return RouteMode::connection;
}

void check(const ProxyOptions& o, RouteMode mode) {
    if (o.backends.empty()) throw std::invalid_argument("the proxy needs at least one --backend");
    if (o.backends.size() > 254) throw std::invalid_argument("at most 254 backends");
    if (mode == RouteMode::key && !(o.request.route && o.request.route->has_key()))
        throw std::invalid_argument("--route key: " + o.request.name +
                                    " has no routing key ([route] key); use --route connection or round-robin");
    if (mode == RouteMode::first_key && !(o.request.route && o.request.route->has_first_key()))
        throw std::invalid_argument("--route first-key: " + o.request.name +
                                    " has no first-message key ([route] first_key)");
    bool named = false, plain = false;
    for (const ProxyBackend& b : o.backends) (b.value.empty() ? plain : named) = true;
    if (named && mode != RouteMode::first_key)
        throw std::invalid_argument("--backend VALUE=HOST:PORT names a first-message key: only with --route first-key");
    if (named && plain)
        throw std::invalid_argument("--route first-key: either every --backend names a VALUE (or *) or none does");
}

// A duplicate of the caller's listener: several Proxy objects (one per worker) may
// serve sockets that a Steering owns and closes.
Fd adopt_listener(int fd) {
    Fd own(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (own.fd < 0) throw std::runtime_error(std::string("cannot use the given listener: ") + std::strerror(errno));
    return own;
}

}  // namespace

struct Proxy::Impl {
    ProxyOptions o;
    RouteMode mode;
    Router router;
    Fd listener;
    Fd stop_fd;
    std::unique_ptr<ProxyEngine> engine;

    Impl(ProxyOptions opts)
        : o(std::move(opts)), mode(o.route.value_or(default_route(o.request))), router((check(o, mode), o), mode) {
        if (!o.log) o.log = [](const std::string& line) { std::fprintf(stderr, "sockframe: %s\n", line.c_str()); };
        stop_fd = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        EngineContext ctx{o, o.request, o.response ? *o.response : o.request, router, o.log};
        if (o.require_kernel && o.path == ProxyPath::userspace)
            throw std::invalid_argument("--require-kernel and --path userspace exclude each other");
        bool kernel = o.path != ProxyPath::userspace;
        if (kernel && o.path == ProxyPath::automatic && !o.require_kernel && barriers_need_userspace()) {
            o.log("--path auto: the userspace path, because " + o.request.name +
                  " has barrier messages (memcached NOOP after quiet gets) that must reach every backend the "
                  "requests before them reached, and the kernel path sends a message to one backend only "
                  "(--path kernel forces it: such a client is then closed)");
            kernel = false;
        }
        if (kernel) {
            try {
                engine = make_kernel_engine(ctx);
            } catch (const std::exception& e) {
                if (o.require_kernel || o.path == ProxyPath::kernel)
                    throw std::runtime_error(std::string("kernel path unavailable: ") + e.what());
                o.log(std::string("kernel path unavailable (") + e.what() + "); using the userspace proxy");
            }
        }
        if (!engine) engine = make_userspace_engine(ctx);
        listener = o.listen_fd >= 0 ? adopt_listener(o.listen_fd) : listen_tcp(o.listen);
    }

    // Per-message routing over several backends of a description with barriers.
    bool barriers_need_userspace() const {
        bool per_message = mode == RouteMode::key || mode == RouteMode::round_robin;
        return per_message && o.backends.size() > 1 && BarrierRule::for_description(o.request).has_value();
    }
};

Proxy::Proxy(ProxyOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Proxy::~Proxy() = default;

void Proxy::run() {
    impl_->engine->run(impl_->listener.fd, impl_->stop_fd.fd);
}

void Proxy::stop() {
    uint64_t one = 1;
    ssize_t n = write(impl_->stop_fd.fd, &one, sizeof one);  // async-signal-safe
    (void)n;
}

const char* Proxy::path() const {
    return impl_->engine->path();
}
RouteMode Proxy::route() const {
    return impl_->mode;
}
uint16_t Proxy::port() const {
    return local_port(impl_->listener.fd);
}
size_t Proxy::map_entries() const {
    return impl_->engine->map_entries();
}

ProxyCounters Proxy::counters() const {
    ProxyCounters c = impl_->router.snapshot(impl_->o.request);
    impl_->engine->add_counters(c);
    return c;
}

}  // namespace sockframe
