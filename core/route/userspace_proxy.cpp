// The userspace twin of the kernel proxy: one epoll loop, the userspace framer on
// every socket, the Router's decisions. Whole requests are queued to their backend,
// whole replies to their client, so a client never sees two replies interleaved.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>

#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>

#include "route/barrier.hpp"
#include "route/engine.hpp"
#include "route/sockets.hpp"

namespace sockframe {
namespace {

using Clock = std::chrono::steady_clock;

struct Client;

// One socket of a client's session: the client itself (slot -1) or its
// connection to backend `slot`.
struct Side {
    Client* owner = nullptr;
    int slot = -1;
    Fd fd;
    std::unique_ptr<UserspaceFramer> framer;
    std::vector<uint8_t> out;  // whole messages not yet sent
    size_t out_off = 0;
    uint32_t events = 0;              // the epoll interest registered now
    uint64_t sent = 0, received = 0;  // messages to it / framed from it
    // Backend: the client's barriers (ids) this backend still has to answer, oldest first.
    std::deque<uint64_t> barriers;
    size_t pending() const { return out.size() - out_off; }
};

struct Client {
    uint64_t id = 0;
    Side client;
    std::vector<Side> backends;
    uint64_t rr = 0;
    uint32_t chosen = kNoBackend;  // connection mode, and key mode for messages without a key
    bool first_done = false;       // first-key: the backend is chosen
    bool draining = false;         // not reading the client any more
    bool hard = false;             // draining: close once the client's queue is sent
    bool closed = false;
    Clock::time_point accepted;
    Clock::time_point last_progress;
    // Barriers (memcached NOOP, route/barrier.hpp): the backends a request reached
    // since the client's last barrier, and per barrier id the answers still missing.
    std::vector<bool> touched;
    uint64_t next_barrier = 0;
    std::unordered_map<uint64_t, uint32_t> barrier_left;
};

class UserspaceEngine final : public ProxyEngine {
public:
    explicit UserspaceEngine(const EngineContext& c)
        : ctx_(c), router_(c.router), barrier_(BarrierRule::for_description(c.request)) {}
    const char* path() const override { return "userspace"; }

    void run(int listener, int stop_fd) override {
        ep_ = Fd(epoll_create1(EPOLL_CLOEXEC));
        set_nonblocking(listener);
        add(listener, EPOLLIN, &listener_tag_);
        add(stop_fd, EPOLLIN, &stop_tag_);
        epoll_event evs[256];
        bool stopping = false;
        while (!stopping) {
            int n = epoll_wait(ep_.fd, evs, 256, 20);
            for (int i = 0; i < n; i++) {
                void* tag = evs[i].data.ptr;
                if (tag == &stop_tag_) {
                    stopping = true;
                } else if (tag == &listener_tag_) {
                    accept_clients(listener);
                } else {
                    Side* s = static_cast<Side*>(tag);
                    if (!s->owner->closed) on_event(*s, evs[i].events);
                }
            }
            tick();
            reap();
        }
        for (auto& [id, c] : clients_) close_client(*c);
        reap();
        epoll_ctl(ep_.fd, EPOLL_CTL_DEL, listener, nullptr);
        epoll_ctl(ep_.fd, EPOLL_CTL_DEL, stop_fd, nullptr);
    }

private:
    void add(int fd, uint32_t events, void* tag) {
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = tag;
        epoll_ctl(ep_.fd, EPOLL_CTL_ADD, fd, &ev);
    }
    void set_interest(Side& s, uint32_t events) {
        if (s.fd.fd < 0 || s.events == events) return;
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = &s;
        epoll_ctl(ep_.fd, s.events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s.fd.fd, &ev);
        s.events = events;
    }
    // Reads a source only while what it feeds is below the high-water mark.
    void update_interest(Client& c) {
        size_t backend_queue = 0;
        for (Side& b : c.backends) backend_queue = std::max(backend_queue, b.pending());
        uint32_t ce = EPOLLRDHUP;
        if (!c.draining && backend_queue < kHighWater) ce |= EPOLLIN;
        if (c.client.pending()) ce |= EPOLLOUT;
        set_interest(c.client, ce);
        for (Side& b : c.backends) {
            uint32_t be = EPOLLRDHUP;
            if (!c.hard && c.client.pending() < kHighWater) be |= EPOLLIN;
            if (b.pending()) be |= EPOLLOUT;
            set_interest(b, be);
        }
    }

    Side make_side(Client& c, int slot, Fd fd, const Description& d) {
        Side s;
        s.owner = &c;
        s.slot = slot;
        s.fd = std::move(fd);
        s.framer = std::make_unique<UserspaceFramer>(d);
        return s;
    }

    // Connects backend b for client c; false (and b re-hashed away) if it refuses.
    bool connect_backend(Client& c, uint32_t b) {
        Fd fd = connect_tcp(router_.backend(b));
        if (fd.fd < 0) {
            int e = errno;
            if (router_.mark_dead(b))
                ctx_.log("backend " + router_.backend(b).name() + " refused (" + std::strerror(e) +
                         "): skipped, keys re-hash over the others");
            return false;
        }
        set_nonblocking(fd.fd);
        set_nodelay(fd.fd);
        c.backends[b] = make_side(c, static_cast<int>(b), std::move(fd), ctx_.response);
        return true;
    }

    void accept_clients(int listener) {
        for (int k = 0; k < 64; k++) {
            Fd fd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (fd.fd < 0) return;
            set_nodelay(fd.fd);
            auto c = std::make_unique<Client>();
            c->id = ++next_id_;
            router_.clients++;
            c->client = make_side(*c, -1, std::move(fd), ctx_.request);
            c->backends.resize(router_.size());
            c->touched.assign(router_.size(), false);
            for (Side& b : c->backends) b.owner = c.get();
            c->accepted = c->last_progress = Clock::now();
            RouteMode mode = router_.mode();
            if (mode != RouteMode::first_key) {
                // One connection to each live backend (connection mode: only the chosen one).
                if (mode == RouteMode::connection) {
                    for (;;) {
                        c->chosen = router_.for_connection(c->id);
                        if (c->chosen == kNoBackend || connect_backend(*c, c->chosen)) break;
                    }
                } else {
                    for (uint32_t b : router_.live_list()) connect_backend(*c, b);
                    c->chosen = router_.for_connection(c->id);
                }
                if (c->chosen == kNoBackend) {
                    router_.no_backend++;
                    ctx_.log("client " + std::to_string(c->id) + " closed: no backend accepts connections");
                    router_.clients_closed++;
                    continue;
                }
            }
            Client& ref = *c;
            clients_.emplace(ref.id, std::move(c));
            update_interest(ref);
        }
    }

    void on_event(Side& s, uint32_t events) {
        Client& c = *s.owner;
        if (events & EPOLLOUT) flush(s);
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            if (s.slot < 0)
                read_client(c);
            else
                read_backend(c, s);
        }
        if (!c.closed) update_interest(c);
    }

    // Reads what is there (a bounded amount per event, so one socket can't starve the rest).
    // Returns 1 for data, 0 at end of stream, -1 on an error, 2 for "nothing now".
    int read_some(Side& s) {
        for (int k = 0; k < 4; k++) {
            std::span<uint8_t> space = s.framer->write_space(65536);
            ssize_t n = recv(s.fd.fd, space.data(), space.size(), 0);
            if (n > 0) {
                s.framer->commit(static_cast<size_t>(n));
                if (static_cast<size_t>(n) < space.size()) return 1;
                continue;
            }
            if (n == 0) return 0;
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? (k ? 1 : 2) : -1;
        }
        return 1;
    }

    void read_client(Client& c) {
        if (c.draining) return;
        int r = read_some(c.client);
        route_requests(c);
        if (r == 0 && !c.closed && !c.draining) {
            // Half-close: replies to what was sent still go back, then everything closes.
            c.draining = true;
            c.last_progress = Clock::now();
        } else if (r < 0 && !c.closed) {
            close_client(c);
        }
    }

    void route_requests(Client& c) {
        for (;;) {
            if (c.closed || c.draining) return;
            UserspaceFramer::Result r = c.client.framer->next();
            if (r.status == UserspaceFramer::Status::need_more) break;
            if (r.status == UserspaceFramer::Status::error) {
                router_.framing_errors++;
                ctx_.log("client " + std::to_string(c.id) + ": framing error: " + r.error->message +
                         "; replies to earlier requests are delivered, then it is closed");
                c.draining = true;
                c.last_progress = Clock::now();
                break;
            }
            forward_request(c, r.message.bytes);
        }
        for (Side& b : c.backends)
            if (b.pending()) flush(b);
    }

    void forward_request(Client& c, std::span<const uint8_t> msg) {
        uint32_t b = kNoBackend;
        switch (router_.mode()) {
            case RouteMode::key:
            case RouteMode::round_robin: {
                RouteDecision d = decide_route(ctx_.request, msg);
                if (d.rule != kNoRule) router_.count_rule(d.rule, msg.size());
                if (d.action == RouteAction::drop) {
                    router_.drops++;
                    return;
                }
                if (barrier_ && barrier_->is_request(msg)) {
                    forward_barrier(c, msg);
                    return;
                }
                if (router_.mode() == RouteMode::round_robin)
                    b = router_.round_robin(c.rr);
                else
                    b = d.has_key ? router_.by_hash(d.key_hash) : c.chosen;
                break;
            }
            case RouteMode::connection:
                b = c.chosen;
                break;
            case RouteMode::first_key:
                if (!c.first_done) {
                    std::optional<std::string> key = first_message_key(ctx_.request, msg);
                    b = router_.for_first_key(key);
                    while (b != kNoBackend && !connect_backend(c, b)) b = router_.for_first_key(key);
                    if (b == kNoBackend) {
                        router_.no_backend++;
                        ctx_.log("client " + std::to_string(c.id) + " closed: no backend for first-message key " +
                                 (key ? "\"" + escape_bytes(*key) + "\"" : "(none)"));
                        close_client(c);
                        return;
                    }
                    c.chosen = b;
                    c.first_done = true;
                    update_interest(c);
                }
                b = c.chosen;
                break;
        }
        if (b == kNoBackend || c.backends[b].fd.fd < 0) {
            router_.no_backend++;
            if (b != kNoBackend) router_.counters(b).errors++;
            return;
        }
        send_to(c, b, msg);
    }

    void send_to(Client& c, uint32_t b, std::span<const uint8_t> msg) {
        Side& s = c.backends[b];
        s.out.insert(s.out.end(), msg.begin(), msg.end());
        s.sent++;
        c.touched[b] = true;
        router_.counters(b).messages++;
        router_.counters(b).bytes += msg.size();
    }

    // A barrier goes to every backend the client's requests reached since its last
    // one (each answers it after everything sent to it before), or to the
    // connection's backend when none was reached; its reply is forwarded once all
    // of them answered (read_backend). Requests to one backend are answered in
    // order, so the last reply means every earlier request was answered.
    void forward_barrier(Client& c, std::span<const uint8_t> msg) {
        std::vector<uint32_t> to;
        for (uint32_t b = 0; b < c.backends.size(); b++)
            if (c.touched[b] && c.backends[b].fd.fd >= 0) to.push_back(b);
        if (to.empty() && c.chosen != kNoBackend && c.backends[c.chosen].fd.fd >= 0) to.push_back(c.chosen);
        if (to.empty()) {
            router_.no_backend++;
            return;
        }
        uint64_t id = c.next_barrier++;
        c.barrier_left[id] = static_cast<uint32_t>(to.size());
        for (uint32_t b : to) {
            send_to(c, b, msg);
            c.backends[b].barriers.push_back(id);
        }
        c.touched.assign(c.touched.size(), false);
    }

    // A backend's reply to a barrier: true if it is forwarded (the last one missing).
    bool barrier_answered(Client& c, Side& s) {
        uint64_t id = s.barriers.front();
        s.barriers.pop_front();
        auto it = c.barrier_left.find(id);
        if (it == c.barrier_left.end() || --it->second == 0) {
            if (it != c.barrier_left.end()) c.barrier_left.erase(it);
            return true;
        }
        return false;
    }

    void read_backend(Client& c, Side& s) {
        int r = read_some(s);
        bool bad = false;
        for (;;) {
            UserspaceFramer::Result m = s.framer->next();
            if (m.status == UserspaceFramer::Status::need_more) break;
            if (m.status == UserspaceFramer::Status::error) {
                router_.framing_errors++;
                ctx_.log("backend " + router_.backend(s.slot).name() + " (client " + std::to_string(c.id) +
                         "): framing error in a reply: " + m.error->message + "; the client is closed");
                bad = true;
                break;
            }
            bool forward = true;
            if (barrier_ && !s.barriers.empty() && barrier_->is_reply(m.message.bytes))
                forward = barrier_answered(c, s);
            if (forward) c.client.out.insert(c.client.out.end(), m.message.bytes.begin(), m.message.bytes.end());
            s.received++;
            router_.counters(s.slot).replies++;
            router_.counters(s.slot).reply_bytes += m.message.bytes.size();
            c.last_progress = Clock::now();
        }
        if (c.client.pending()) flush(c.client);
        if (c.closed) return;
        if (r <= 0 || bad) {
            if (!bad) {
                router_.backend_closed++;
                ctx_.log("backend " + router_.backend(s.slot).name() + " closed the connection of client " +
                         std::to_string(c.id) + ": replies already framed are delivered, then the client is closed");
            }
            // Every whole reply is queued to the client; nothing more comes from here.
            epoll_ctl(ep_.fd, EPOLL_CTL_DEL, s.fd.fd, nullptr);
            s.fd = Fd();
            s.events = 0;
            c.draining = c.hard = true;
        }
    }

    void flush(Side& s) {
        while (s.pending()) {
            ssize_t n = send(s.fd.fd, s.out.data() + s.out_off, s.pending(), MSG_NOSIGNAL);
            if (n > 0) {
                s.out_off += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            // The peer is gone: what it was owed can't be delivered.
            s.out.clear();
            s.out_off = 0;
            if (s.slot < 0) close_client(*s.owner);
            return;
        }
        if (s.out_off == s.out.size()) {
            s.out.clear();
            s.out_off = 0;
        } else if (s.out_off > (1u << 20)) {
            s.out.erase(s.out.begin(), s.out.begin() + static_cast<ptrdiff_t>(s.out_off));
            s.out_off = 0;
        }
    }

    // Closes draining clients once what they are owed is sent.
    void tick() {
        auto now = Clock::now();
        for (auto& [id, cp] : clients_) {
            Client& c = *cp;
            if (!c.closed && router_.mode() == RouteMode::first_key && !c.first_done && !c.draining &&
                first_message_late(ctx_.options, c.accepted, now)) {
                router_.first_message_timeouts++;
                ctx_.log("client " + std::to_string(c.id) +
                         " closed: " + first_message_timeout_reason(ctx_.options, c.client.framer->buffered()));
                close_client(c);
                continue;
            }
            if (c.closed || !c.draining || c.client.pending()) continue;
            bool answered = true;
            for (Side& b : c.backends)
                if (b.fd.fd >= 0 && (b.received < b.sent || b.pending())) answered = false;
            bool quiet = now - c.last_progress > std::chrono::milliseconds(kDrainQuietMs);
            if (c.hard || answered || quiet) close_client(c);
        }
    }

    void close_client(Client& c) {
        if (c.closed) return;
        c.closed = true;
        router_.clients_closed++;
        for (Side& b : c.backends) b.fd = Fd();  // closing removes them from epoll
        c.client.fd = Fd();
        dead_.push_back(c.id);
    }
    void reap() {
        for (uint64_t id : dead_) clients_.erase(id);
        dead_.clear();
    }

    EngineContext ctx_;
    Router& router_;
    std::optional<BarrierRule> barrier_;
    Fd ep_;
    int listener_tag_ = 0, stop_tag_ = 0;
    uint64_t next_id_ = 0;
    std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
    std::vector<uint64_t> dead_;
};

}  // namespace

std::unique_ptr<ProxyEngine> make_userspace_engine(const EngineContext& ctx) {
    return std::make_unique<UserspaceEngine>(ctx);
}

}  // namespace sockframe
