#include "receive/kernel_receiver.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "receive/conn_registration.hpp"
#include "receive/stall_watchdog.hpp"
#include "receive/tcp_counters.hpp"
#include "sockframe_abi.h"
#include "support/loopback.hpp"

namespace sockframe {
namespace {

// include/net/tcp_states.h (not exported next to linux/tcp.h's tcp_info)
enum TcpState { kEstablished = 1, kCloseWait = 8 };

[[noreturn]] void sys_fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Everything connections share with the receiver; kept alive by each of them.
struct KernelShared {
    std::shared_ptr<const Description> desc;
    std::shared_ptr<const ParserProgram> program;
    const LoadOptions& options() const { return program->options(); }
    Fd listener;  // loopback listener that delivery pairs connect through
    sockaddr_in listener_addr{};
    std::mutex mutex;
    std::unique_ptr<StallWatchdog> watchdog;  // null if LoadOptions::stall_timeout_ms is 0
    std::function<void(const std::string&)> warn;
    std::string attachment_warned;  // the last attachment problem reported (guarded by mutex)
};

// The delivery pair: the verdict redirects into A (egress); the core reads its peer B.
void make_delivery_pair(KernelShared& k, Fd& a, Fd& b) {
    a = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (a.fd < 0) sys_fail("delivery socket");
    int one = 1;
    setsockopt(a.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(a.fd, reinterpret_cast<sockaddr*>(&k.listener_addr), sizeof k.listener_addr) != 0)
        sys_fail("connecting the delivery pair");
    sockaddr_in a_local{};
    socklen_t len = sizeof a_local;
    getsockname(a.fd, reinterpret_cast<sockaddr*>(&a_local), &len);
    // Only our own A may become B: anything else on the loopback listener is refused.
    for (int tries = 0; tries < 64; tries++) {
        sockaddr_in peer{};
        len = sizeof peer;
        Fd c(accept4(k.listener.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
        if (c.fd < 0) sys_fail("accepting the delivery pair");
        if (peer.sin_port == a_local.sin_port && peer.sin_addr.s_addr == a_local.sin_addr.s_addr) {
            b = std::move(c);
            return;
        }
    }
    throw std::runtime_error("delivery pair: the loopback listener is flooded by other connections");
}

uint64_t socket_cookie(int fd) {
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) sys_fail("SO_COOKIE");
    return cookie;
}

// strparser refuses a message (or batch) larger than the socket's receive buffer,
// and the data it holds is charged to that buffer with skb overhead: a buffer of
// exactly max_message closes the TCP window before the message completes
// (measured: 16 MiB messages stalled at rmem 16.77 MB of 16.78 MB).
uint64_t receive_buffer_needed(uint64_t max_message, uint64_t batch_bytes) {
    return max_message + max_message / 2 + batch_bytes + 65536;
}
constexpr uint64_t kLargestReceiveBuffer = 0x7ffffffe;  // sk_rcvbuf is an int

void ensure_receive_buffer(int fd, uint64_t needed) {
    int have = 0;
    socklen_t len = sizeof have;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len);
    if (static_cast<uint64_t>(have) >= needed) return;
    int want = static_cast<int>(needed / 2 + 1);  // the kernel doubles what is set
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len);
    if (static_cast<uint64_t>(have) < needed)
        throw std::runtime_error("socket receive buffer is " + std::to_string(have) + " bytes but max_message needs " +
                                 std::to_string(needed) + ": raise net.core.rmem_max (to at least " +
                                 std::to_string(needed / 2 + 1) +
                                 ") or run with CAP_NET_ADMIN; the userspace framer needs neither (--userspace)");
}

class KernelConnection final : public Connection {
public:
    KernelConnection(std::shared_ptr<KernelShared> k, int s, Fd a, Fd b, std::unique_ptr<ConnRegistration> reg)
        : Connection(k->desc, s, "kernel"),
          k_(std::move(k)),
          a_(std::move(a)),
          b_(std::move(b)),
          reg_(std::move(reg)),
          publish_step_(std::max<uint64_t>(k_->options().in_flight_max / 4, 1)) {
        epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
        wake_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (epoll_.fd < 0 || wake_.fd < 0) sys_fail("kernel connection poll set");
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.fd = b_.fd;
        epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, b_.fd, &e);
        e.data.fd = wake_.fd;
        epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, wake_.fd, &e);
        // The app socket only signals trouble (or a hand-off, as an error): its data
        // never becomes readable here while the parser runs.
        e.events = EPOLLRDHUP | EPOLLERR | EPOLLHUP;
        e.data.fd = s;
        epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, s, &e);
        // While S's hang-ups, B's data and the watchdog's eventfd are all in the poll set,
        // a short read of B means there is nothing more to find until the set fires.
        short_read_drains_ = true;
        if (k_->watchdog) {
            watched_ = std::make_shared<WatchedSocket>();
            watched_->socket = s;
            watched_->cookie = reg_->cookie();
            watched_->wake_fd = wake_.fd;
            k_->watchdog->watch(watched_);
        }
    }

    ~KernelConnection() override {
        // Before the socket closes: the watchdog must not look at a reused fd.
        // The registration's map entries go with it (members), before the sockets close.
        if (watched_) k_->watchdog->forget(watched_.get());
    }

    int poll_fd() const override { return epoll_.fd; }

protected:
    ReadResult read_some(std::span<uint8_t> into) override {
        if (direct_) return read_direct(into);
        for (;;) {
            ssize_t n = recv(b_.fd, into.data(), into.size(), MSG_DONTWAIT);
            if (n > 0) {
                received_ += static_cast<uint64_t>(n);
                // Tell the parser how far the application has read, in steps, so a
                // slow reader makes it hand off (see sf_in_flight_max).
                if (received_ - published_ >= publish_step_) {
                    reg_->publish_consumed(received_);
                    published_ = received_;
                }
                return {ReadResult::data, static_cast<size_t>(n)};
            }
            if (n < 0 && errno == EINTR) continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return fail_kernel("the delivery socket failed");
            return settle(into);
        }
    }

private:
    sf_conn state() const { return reg_->state(); }

    ReadResult fail_kernel(const std::string& what) {
        FramingError e{FramingErrorKind::kernel, 0, 0, received_,
                       what + " at stream offset " + std::to_string(received_)};
        return {ReadResult::failed, 0, e};
    }

    // Nothing to read on B: is the stream still going, or did it stop on S?
    ReadResult settle(std::span<uint8_t> into) {
        if (!trouble_) {
            bool forced = watched_ && watched_->forced;
            if (!forced) {
                pollfd p{socket_, POLLRDHUP, 0};
                if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLRDHUP | POLLERR | POLLHUP)))
                    return {ReadResult::would_block};
            }
            trouble_ = true;
            short_read_drains_ = false;  // S leaves the poll set below: read until the outcome is known
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(socket_, SOL_SOCKET, SO_ERROR, &err, &len);
            socket_error_ = err;
            // Stop level-triggered hang-up events from spinning the caller while B drains.
            epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, socket_, nullptr);
            reset_ = err == ECONNRESET || err == EPIPE;
            // After a reset strparser is not woken again: whatever it has not taken
            // stays queued on S and is read directly (take_over), so don't wait for it.
            if (!forced && err != SF_EHANDOFF && !reset_) wait_framing_settled();
        }
        sf_conn st = state();
        if (received_ < st.forwarded) return {ReadResult::would_block};  // still crossing the pair
        if (received_ > st.forwarded) return fail_kernel("delivery socket carried more than was framed");
        bool leave = st.handed_off || (watched_ && watched_->forced);
        if (!leave && st.error) {
            auto kind = static_cast<FramingErrorKind>(st.error);
            if (st.error == SF_ERR_NO_STATE) return fail_kernel("socket had no framing state");
            return {ReadResult::failed, 0, make_error(*desc_, kind, st.error_value, st.forwarded)};
        }
        if (leave || reset_) {
            if (!left_map_) {
                // strparser is torn down with S's psock; a batch it was still
                // forwarding may land in B first: read up to the final count.
                reg_->leave();
                left_map_ = true;
                st = state();
                if (received_ < st.forwarded) return {ReadResult::would_block};
            }
            return take_over(st, into);
        }
        if (socket_error_) return fail_kernel(std::string("kernel framing stopped: ") + std::strerror(socket_error_));
        uint64_t held = bytes_received() - st.forwarded;
        if (held)
            return {ReadResult::failed, 0,
                    make_error(*desc_, FramingErrorKind::truncated, held, st.forwarded, st.need)};
        return {ReadResult::end};
    }

    // The parser handed the connection off (or the watchdog took it): every byte it
    // forwarded has been read from B; the rest is in S's own receive queue, so S
    // leaves the sockmap and is read directly from here on, with TCP flow control.
    // A reset is handled the same way: TCP keeps what it received before the RST
    // readable, as on the userspace path, then the reset is reported.
    ReadResult take_over(const sf_conn& st, std::span<uint8_t> into) {
        if (watched_) {
            k_->watchdog->forget(watched_.get());
            uint64_t drain;
            if (read(wake_.fd, &drain, sizeof drain) < 0) {
            }
        }
        // What TCP received beyond the forwarded bytes must all still be queued on S;
        // less means strparser had taken bytes it can no longer give back (the socket
        // was removed from the sockmap by someone else mid-message, or reset while
        // strparser held part of a message).
        uint64_t unframed = tcp_payload_bytes_received(socket_) - st.forwarded;
        int queued = 0;
        ioctl(socket_, SIOCINQ, &queued);
        if (static_cast<uint64_t>(queued) < unframed) {
            if (reset_) return {ReadResult::failed, 0, make_connection_error(st.forwarded, "connection reset by peer")};
            return fail_kernel(std::to_string(unframed - queued) +
                               " unframed bytes held by the kernel parser were lost when the socket left the "
                               "sockmap (removed by another program?)");
        }
        direct_ = true;
        short_read_drains_ = true;  // S alone, in the poll set for data and hang-ups: as on the userspace path
        if (!reset_) set_mode("handed-off");
        epoll_event e{};
        e.events = EPOLLIN | EPOLLRDHUP;
        e.data.fd = socket_;
        epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, socket_, &e);
        return read_direct(into);
    }

    // After the hand-off: S is a plain TCP socket.
    ReadResult read_direct(std::span<uint8_t> into) {
        ReadResult r = read_plain_socket(socket_, into);
        // SO_ERROR already consumed the reset: after its data, S reads as EOF.
        if (r.kind == ReadResult::end && reset_)
            return {ReadResult::failed, 0, make_connection_error(offset(), "connection reset by peer")};
        return r;
    }

    // After a hang-up, strparser may still be working through the last bytes
    // (its workqueue can run late under load). Wait until the outcome is settled:
    // everything framed, or the parser saw every byte, or the message it waits for
    // can't complete. (SIOCINQ can't tell: on a sockmap socket it reports the
    // psock's queue, not TCP's.)
    void wait_framing_settled() {
        uint64_t received = bytes_received();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (;;) {
            sf_conn st = state();
            if (st.error || st.handed_off || st.forwarded >= received || st.seen >= received ||
                (st.need && st.forwarded + st.need > received) || std::chrono::steady_clock::now() > deadline)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    uint64_t bytes_received() const { return tcp_payload_bytes_received(socket_); }

    std::shared_ptr<KernelShared> k_;
    Fd a_, b_, epoll_, wake_;
    std::unique_ptr<ConnRegistration> reg_;  // after the sockets: its entries go first
    uint64_t received_ = 0;                  // bytes read from B
    uint64_t published_ = 0;                 // received_ as last written to sf_consumed
    uint64_t publish_step_;
    bool trouble_ = false;
    bool direct_ = false;    // handed off: S is read directly
    bool left_map_ = false;  // S was removed from the sockmap (by us)
    bool reset_ = false;     // the peer reset the connection
    int socket_error_ = 0;
    std::shared_ptr<WatchedSocket> watched_;
};

class KernelReceiver final : public Receiver {
public:
    KernelReceiver(std::shared_ptr<KernelShared> k) : Receiver(k->desc), k_(std::move(k)) {}
    const char* mode() const override { return "kernel"; }

    std::unique_ptr<Connection> adopt(int fd) override {
        Fd s(fd);
        int type = 0;
        socklen_t len = sizeof type;
        tcp_info info{};
        socklen_t ilen = sizeof info;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
            getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) != 0)
            throw std::invalid_argument("the kernel path frames TCP sockets only");
        // A peer that already sent everything and closed can't join a sockmap
        // (established sockets only); its bytes are all queued, so frame them here.
        if (info.tcpi_state == kCloseWait) return make_userspace_receiver(desc_)->adopt(s.release());
        if (info.tcpi_state != kEstablished)
            throw std::invalid_argument("the kernel path frames established TCP sockets only");
        // A socket joining the map now would run whatever is attached there, or no
        // parser at all: frame it here instead (sockets already in keep ours).
        if (std::string changed = k_->program->attachment_problem(); !changed.empty()) {
            report_attachment(changed);
            return make_userspace_receiver(desc_)->adopt(s.release());
        }
        ensure_receive_buffer(fd, receive_buffer_needed(largest_message_limit(*desc_), k_->options().batch_max_bytes));

        std::lock_guard<std::mutex> lock(k_->mutex);
        Fd a, b;
        make_delivery_pair(*k_, a, b);
        auto reg = std::make_unique<ConnRegistration>(k_->program, socket_cookie(fd), a.fd);
        // Last: from here on the parser runs, and its target already exists.
        // EOPNOTSUPP: the peer's FIN arrived between the state check and the insert:
        // the socket left ESTABLISHED, but all its bytes are queued. Frame them here.
        if (reg->join(fd) == EOPNOTSUPP) return make_userspace_receiver(desc_)->adopt(s.release());
        // Bytes that arrived before the insert sit in the receive queue until
        // something signals data-ready; setting SO_RCVLOWAT (to its default, 1)
        // does, so a client that spoke first is framed now, not at close.
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
        return std::make_unique<KernelConnection>(k_, s.release(), std::move(a), std::move(b), std::move(reg));
    }

private:
    void report_attachment(const std::string& changed) {
        std::lock_guard<std::mutex> lock(k_->mutex);
        if (changed == k_->attachment_warned) return;
        k_->attachment_warned = changed;
        if (k_->warn)
            k_->warn("sockframe: warning: " + changed +
                     "; new connections are framed in userspace, connections already on the kernel path keep "
                     "their parser");
    }

    std::shared_ptr<KernelShared> k_;
};

}  // namespace

std::unique_ptr<Receiver> make_kernel_receiver(std::shared_ptr<const Description> d,
                                               std::shared_ptr<const ParserProgram> program,
                                               std::function<void(const std::string&)> warn) {
    auto k = std::make_shared<KernelShared>();
    k->desc = std::move(d);
    k->program = std::move(program);
    k->warn = std::move(warn);
    if (k->options().stall_timeout_ms)
        k->watchdog =
            std::make_unique<StallWatchdog>(*k->program, std::chrono::milliseconds(k->options().stall_timeout_ms));
    k->listener = loopback_listener(k->listener_addr, 64);
    if (k->listener.fd < 0) sys_fail("delivery listener on 127.0.0.1");
    return std::make_unique<KernelReceiver>(std::move(k));
}

void check_kernel_path_fits(const Description& d, const LoadOptions& options) {
    if (receive_buffer_needed(largest_message_limit(d), options.batch_max_bytes) > kLargestReceiveBuffer)
        throw BpfLoadError("max_message " + std::to_string(d.max_message) +
                               " is too large for the kernel path: strparser needs a receive buffer of about 1.5x "
                               "max_message and the kernel allows at most 2 GiB; lower max_message or use the "
                               "userspace framer",
                           EMSGSIZE);
}

}  // namespace sockframe
