#include <sockframe/connection.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include "receive/tcp_counters.hpp"

namespace sockframe {

// Reads this large, whatever the message size: the split happens in userspace.
constexpr size_t kReadSize = 64 * 1024;

Connection::Connection(std::shared_ptr<const Description> d, int socket, const char* mode)
    : desc_(std::move(d)), socket_(socket), framer_(*desc_), mode_(mode) {}

Connection::~Connection() {
    send_side_.reset();  // out of the send side while the socket is still open
    if (socket_ >= 0) close(socket_);
}

Receiver::~Receiver() = default;

void Connection::wait_readable() {
    // With a message timeout, wake up regularly to check it.
    int timeout = message_timeout_.count() ? static_cast<int>(std::max<int64_t>(message_timeout_.count() / 4, 1)) : -1;
    pollfd p{poll_fd(), POLLIN, 0};
    while (poll(&p, 1, timeout) < 0 && errno == EINTR) {
    }
    stats_.wakeups++;
}

// Bytes beyond the last delivered message exist (inside strparser, the delivery
// pair or the framer's buffer), and the peer has sent nothing for the timeout.
// Counted from TCP's own byte count, so a slow drip into the kernel's parser is
// progress although the core sees none of it.
bool Connection::peer_stalled() {
    uint64_t received = tcp_payload_bytes_received(socket_);
    auto now = std::chrono::steady_clock::now();
    if (received != peer_bytes_) {
        peer_bytes_ = received;
        peer_bytes_since_ = now;
        return false;
    }
    return received > offset() && now - peer_bytes_since_ >= message_timeout_;
}

Received Connection::receive_more() {
    for (;;) {
        auto r = framer_.next();
        if (r.status == UserspaceFramer::Status::message) {
            stats_.messages++;
            stats_.bytes += r.message.bytes.size();
            return {ReceiveStatus::message, r.message, nullptr};
        }
        if (r.status == UserspaceFramer::Status::error) return {ReceiveStatus::error, {}, r.error};
        if (final_error_) return {ReceiveStatus::error, {}, &*final_error_};
        if (ended_) return {ReceiveStatus::end, {}, nullptr};

        // A short read emptied the socket: reading again now would only return EAGAIN.
        // In blocking mode, wait for readiness first (poll() on the socket is level-
        // triggered: it reports data, end of stream and errors that arrived since).
        // In non-blocking mode the read is still made, unless the caller said it waits
        // level-triggered (set_level_triggered): a caller waiting edge-triggered would
        // never hear of an end of stream that came with that short read.
        bool read = true;
        if (drained_) {
            drained_ = false;
            if (!nonblocking_)
                wait_readable();
            else if (level_triggered_)
                read = false;  // as if the read had returned EAGAIN
        }
        ReadResult got = read ? read_some(framer_.write_space(kReadSize)) : ReadResult{ReadResult::would_block};
        switch (got.kind) {
            case ReadResult::data:
                stats_.reads++;
                framer_.commit(got.bytes);
                drained_ = short_read_drains_ && got.bytes < kReadSize;
                break;
            case ReadResult::would_block:
                if (message_timeout_.count() && peer_stalled()) {
                    final_error_ = make_stalled_error(offset(), peer_bytes_ - offset(),
                                                      static_cast<uint64_t>(message_timeout_.count()));
                    break;
                }
                if (nonblocking_) return {ReceiveStatus::would_block, {}, nullptr};
                wait_readable();
                break;
            case ReadResult::end:
                if (auto e = framer_.finish())
                    final_error_ = *e;
                else
                    ended_ = true;
                break;
            case ReadResult::failed:
                final_error_ = got.error;
                break;
        }
    }
}

ReceiveStatus Connection::receive_batch(std::vector<Message>& out, size_t max) {
    out.clear();
    Received first = receive();
    if (first.status != ReceiveStatus::message) return first.status;
    out.push_back(first.message);
    // Further whole messages already buffered: no system call.
    while (out.size() < max) {
        auto r = framer_.next();
        if (r.status != UserspaceFramer::Status::message) break;
        stats_.messages++;
        stats_.bytes += r.message.bytes.size();
        out.push_back(r.message);
    }
    return ReceiveStatus::message;
}

Connection::ReadResult Connection::read_plain_socket(int fd, std::span<uint8_t> into) {
    for (;;) {
        ssize_t n = recv(fd, into.data(), into.size(), MSG_DONTWAIT);
        if (n > 0) return {ReadResult::data, static_cast<size_t>(n)};
        if (n == 0) return {ReadResult::end};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {ReadResult::would_block};
        // Same words as the kernel path, which sees the reset on the socket's error.
        if (errno == ECONNRESET || errno == EPIPE)
            return {ReadResult::failed, 0, make_connection_error(offset(), "connection reset by peer")};
        return {ReadResult::failed, 0,
                make_connection_error(offset(), std::string("receive failed: ") + strerror(errno))};
    }
}

namespace {

class UserspaceConnection final : public Connection {
public:
    UserspaceConnection(std::shared_ptr<const Description> d, int fd) : Connection(std::move(d), fd, "userspace") {
        short_read_drains_ = true;
    }
    int poll_fd() const override { return socket_; }

protected:
    ReadResult read_some(std::span<uint8_t> into) override { return read_plain_socket(socket_, into); }
};

class UserspaceReceiver final : public Receiver {
public:
    explicit UserspaceReceiver(std::shared_ptr<const Description> d) : Receiver(std::move(d)) {}
    std::unique_ptr<Connection> adopt(int fd) override { return std::make_unique<UserspaceConnection>(desc_, fd); }
    const char* mode() const override { return "userspace"; }
};

}  // namespace

std::unique_ptr<Receiver> make_userspace_receiver(std::shared_ptr<const Description> d) {
    return std::make_unique<UserspaceReceiver>(std::move(d));
}

}  // namespace sockframe
