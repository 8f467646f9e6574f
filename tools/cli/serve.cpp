#include "serve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <sockframe/sender.hpp>

#include "listen_plan.hpp"
#include "steering_watch.hpp"

namespace sockframe::cli {
namespace {

// One message back through the connection's send side; waits while the socket is full.
bool echo(Connection& c, std::span<const uint8_t> message) {
    SendResult r = c.send(message);
    while (r.status == SendStatus::would_block) {
        pollfd p{c.socket(), POLLOUT, 0};
        if (poll(&p, 1, 5000) <= 0) return false;  // a peer that never reads does not hang the server
        r = c.send_side()->send_rest();
    }
    return r.status == SendStatus::sent;
}

// What the workers share: the receiver, the counts, and the way to stop them all.
struct ServeShared {
    const ServeOptions& o;
    Receiver& receiver;
    int signal_fd;
    int stop_fd;               // an eventfd written once: wakes every worker's epoll for good
    Sender* sender = nullptr;  // --echo: every accepted connection writes through it
    std::atomic<long> next_id{1};
    std::atomic<unsigned long long> messages{0};
    std::atomic<unsigned> connections{0};
    std::atomic<bool> stopping{false};
    void stop() {
        if (!stopping.exchange(true)) {
            uint64_t one = 1;
            if (write(stop_fd, &one, sizeof one) < 0) std::perror("sockframe: stop");
        }
    }
};

// One worker: its own listener and event loop.
void serve_worker(ServeShared& shared, int listener) {
    const ServeOptions& o = shared.o;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // 0: listener, 1: signals or stop, N+2: connection N
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    ev.data.u64 = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, shared.signal_fd, &ev);
    epoll_ctl(ep, EPOLL_CTL_ADD, shared.stop_fd, &ev);

    std::map<long, std::unique_ptr<Connection>> conns;

    auto close_conn = [&](long id) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        epoll_ctl(ep, EPOLL_CTL_DEL, it->second->poll_fd(), nullptr);
        conns.erase(it);
        shared.connections--;
    };

    // Receives every whole message of connection `id` that is ready; closes it at its end.
    auto service = [&](long id) {
        auto it = conns.find(id);
        if (it == conns.end()) return;
        Connection& c = *it->second;
        const char* mode_before = c.mode();
        for (;;) {
            Received r = c.receive();
            if (c.mode() != mode_before && std::string(c.mode()) == "handed-off") {
                mode_before = c.mode();
                std::fprintf(stderr,
                             "sockframe: connection %ld moved to userspace framing at stream offset %llu "
                             "(it fell --max-in-flight behind, or the kernel parser stalled)\n",
                             id, static_cast<unsigned long long>(c.offset()));
            }
            if (r.status == ReceiveStatus::message) {
                unsigned long long total = ++shared.messages;
                if (!o.quiet) print_message(stdout, o.format, id, r.message.offset, r.message.bytes);
                if (o.echo && !echo(c, r.message.bytes)) {
                    print_event(stdout, o.format, id, "echo-failed", r.message.offset);
                    close_conn(id);
                    return;
                }
                if (o.exit_after && total >= o.exit_after) shared.stop();
                continue;
            }
            if (r.status == ReceiveStatus::would_block) return;
            if (r.status == ReceiveStatus::error)
                print_error(stdout, o.format, id, *r.error);
            else
                print_event(stdout, o.format, id, "closed", c.offset());
            close_conn(id);
            return;
        }
    };
    int wait_ms = o.message_timeout_ms ? static_cast<int>(std::max(1u, o.message_timeout_ms / 4)) : -1;

    while (!shared.stopping) {
        epoll_event events[64];
        int n = epoll_wait(ep, events, 64, wait_ms);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n && !shared.stopping; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == 1) {
                shared.stop();
            } else if (tag == 0) {
                for (;;) {
                    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
                    if (fd < 0) break;
                    if (shared.connections >= o.max_connections) {
                        std::fprintf(stderr, "sockframe: refusing a connection: --max-connections %u reached\n",
                                     o.max_connections);
                        close(fd);
                        continue;
                    }
                    try {
                        auto c = shared.receiver.adopt(fd);
                        c->set_nonblocking(true);
                        c->set_level_triggered(true);  // the epoll below is level-triggered (no EPOLLET)
                        c->set_message_timeout(std::chrono::milliseconds(o.message_timeout_ms));
                        if (shared.sender) c->use_send_side(shared.sender->attach(c->socket()));
                        long id = shared.next_id++;
                        epoll_event ce{};
                        ce.events = EPOLLIN;
                        ce.data.u64 = static_cast<uint64_t>(id) + 2;
                        epoll_ctl(ep, EPOLL_CTL_ADD, c->poll_fd(), &ce);
                        conns.emplace(id, std::move(c));
                        shared.connections++;
                    } catch (const std::exception& e) {
                        std::fprintf(stderr, "sockframe: cannot frame a new connection: %s\n", e.what());
                    }
                }
            } else {
                service(static_cast<long>(tag - 2));
            }
        }
        // With a message timeout, every connection's receive() runs now and then: it is
        // where a peer that stopped inside a message is noticed.
        if (n == 0 && o.message_timeout_ms)
            for (auto it = conns.begin(); it != conns.end() && !shared.stopping;) service((it++)->first);
    }
    conns.clear();  // leaves the maps before the programs detach
    close(ep);
}

}  // namespace

int serve(const Description& d, const ServeOptions& o) {
    ReceiverOptions ro = o.receiver;
    ro.load.max_connections = o.max_connections;
    ReceiverTimings t;
    auto receiver = open_receiver(d, ro, &t);
    // --echo writes through the send side: the kernel's when the receiver is on the kernel path.
    std::unique_ptr<Sender> sender;
    if (o.echo) {
        SenderOptions so;
        so.mode = std::string(receiver->mode()) == "kernel" ? Mode::automatic : Mode::userspace;
        so.max_sockets = o.max_connections;
        so.warn = ro.warn;
        sender = open_sender(d, so);
    }
    // After the receiver: its loopback delivery listener then exists, and steering
    // refuses a range that would take it.
    auto plan = open_listen_plan(o.listen, o.workers, o.take_over);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, nullptr);  // before the workers start: they inherit it
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    std::fprintf(stderr, "sockframe: serving %s on %s (%s path", d.name.c_str(), plan->summary.c_str(),
                 receiver->mode());
    if (std::string(receiver->mode()) == "kernel")
        std::fprintf(
            stderr, "; parser %s, loaded in %.1f ms, %u instructions verified, delivery probe passed in %.1f ms",
            t.precompiled  ? "precompiled"
            : t.from_cache ? "from cache"
                           : ("compiled in " + std::to_string(static_cast<int>(t.generate_compile_ms)) + " ms").c_str(),
            t.load_ms, t.verified_insns, t.probe_ms);
    std::fprintf(stderr, ")\n");

    ServeShared shared{o, *receiver, sfd, eventfd(0, EFD_CLOEXEC), sender.get()};
    std::vector<std::thread> workers;
    for (size_t i = 1; i < plan->listeners.size(); i++)
        workers.emplace_back(serve_worker, std::ref(shared), plan->listeners[i]);
    {
        SteeringWatch watch(plan->steering.get());  // after the signal mask: the thread inherits it
        serve_worker(shared, plan->listeners[0]);
    }
    shared.stop();
    for (auto& w : workers) w.join();
    receiver.reset();
    plan.reset();
    close(shared.stop_fd);
    close(sfd);
    std::fprintf(stderr, "sockframe: stopped after %llu messages\n", shared.messages.load());
    return 0;
}

}  // namespace sockframe::cli
