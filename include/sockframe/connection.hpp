// Receiving: one accepted socket, read as a sequence of whole messages.
// The same interface serves the kernel path and the userspace framer, so a
// server switches between them with one option.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <sockframe/framing_error.hpp>
#include <sockframe/send_socket.hpp>
#include <sockframe/userspace_framer.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class ReceiveStatus {
    message,      // `message` holds one whole message
    would_block,  // non-blocking mode: nothing whole yet; wait for poll_fd()
    error,        // framing or connection error; every message before it was delivered
    end,          // the peer closed after a whole message
};

struct Received {
    ReceiveStatus status = ReceiveStatus::would_block;
    Message message;                      // status == message
    const FramingError* error = nullptr;  // status == error; valid while the connection lives
};

struct ConnectionStats {
    uint64_t messages = 0;
    uint64_t bytes = 0;
    uint64_t reads = 0;    // read system calls that returned data
    uint64_t wakeups = 0;  // waits for readiness (blocking mode) that returned
};

class Connection {
public:
    virtual ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The next whole message, exactly as on the wire. Its bytes stay valid until
    // the next receive call on this connection. Blocks unless non-blocking.
    // For a plain length rule, a message already read is returned inline, without a
    // call into the library (the call and its register saves showed in perf per message).
    [[gnu::always_inline]] Received receive() {
        Message m;
        if (framer_.next_plain(m)) [[likely]] {
            stats_.messages++;
            stats_.bytes += m.bytes.size();
            return {ReceiveStatus::message, m, nullptr};
        }
        return receive_more();
    }
    // Every whole message already read, up to `max` (at least one, or another status).
    // Views stay valid until the next receive call.
    ReceiveStatus receive_batch(std::vector<Message>& out, size_t max = 1024);

    void set_nonblocking(bool on) { nonblocking_ = on; }
    // Opt-in for a non-blocking caller that waits for poll_fd() level-triggered: poll(),
    // select(), or epoll without EPOLLET, and after every would_block waits for
    // readability (or a timeout) before calling receive() again. Then receive() takes a
    // read that did not fill its buffer to mean the socket is empty and returns
    // would_block at once, instead of reading again only to see EAGAIN: one system call
    // less per wake-up. Nothing is missed, because a level-triggered poll reports data,
    // end of stream and errors that are there when it is called, including a peer FIN
    // that came with that read (receive() then sees it on the next call). A caller
    // waiting edge-triggered must not set this: it would never hear of such a FIN.
    // Both paths honour it (the kernel path except while it settles a hang-up, when its
    // poll set can't report everything its reads would find). Off by default.
    void set_level_triggered(bool on) { level_triggered_ = on; }
    // A peer that sends part of a message and then nothing for `timeout` ends the
    // connection with a `stalled` error (TCP sockets; 0 = wait forever, the default).
    // Blocking receive() checks on its own; in non-blocking mode the check runs in
    // receive(), so poll with a timeout and call receive() when it expires.
    void set_message_timeout(std::chrono::milliseconds timeout) { message_timeout_ = timeout; }
    // Poll or epoll this for readability; then call receive() until would_block.
    virtual int poll_fd() const = 0;
    // The application's own socket: write replies here, or through send().
    int socket() const { return socket_; }
    // Sends one whole message on this socket through the send side (docs/send.md): the
    // one given to use_send_side() (e.g. sender->attach(socket()) of open_sender()),
    // else the userspace twin, made on first use. A malformed message closes the send side.
    SendResult send(std::span<const uint8_t> message);
    void use_send_side(std::unique_ptr<SendSocket> side) { send_side_ = std::move(side); }
    SendSocket* send_side() const { return send_side_.get(); }
    const char* mode() const { return mode_; }
    const ConnectionStats& stats() const { return stats_; }
    // Stream offset of the next message to be delivered.
    uint64_t offset() const { return framer_.stream_offset(); }

protected:
    Connection(std::shared_ptr<const Description> d, int socket, const char* mode);
    // A kernel-path connection that moved to userspace framing says so ("handed-off").
    void set_mode(const char* mode) { mode_ = mode; }

    struct ReadResult {
        enum Kind { data, would_block, end, failed } kind;
        size_t bytes = 0;
        FramingError error{};
    };
    // Reads what is available without blocking.
    virtual ReadResult read_some(std::span<uint8_t> into) = 0;
    // read_some() for one plain TCP socket: the userspace path, and the kernel path after a hand-off.
    ReadResult read_plain_socket(int fd, std::span<uint8_t> into);

    // Set while poll_fd() signals every outcome the next read_some() could find (new
    // data, end of stream, errors): a short read then means the source was empty, and
    // a blocking receive (or a level-triggered caller) waits before reading again
    // instead of reading once more only to see EAGAIN. The userspace path always; the
    // kernel path except while it settles a hang-up, when its poll set no longer holds S.
    bool short_read_drains_ = false;

    std::shared_ptr<const Description> desc_;
    int socket_;

private:
    // receive() when no whole message is buffered: reads, waits, ends.
    Received receive_more();
    void wait_readable();
    bool peer_stalled();

    UserspaceFramer framer_;
    const char* mode_;
    bool nonblocking_ = false;
    bool level_triggered_ = false;
    bool ended_ = false;
    bool drained_ = false;  // short_read_drains_ and the last read was short: the socket was empty after it
    std::optional<FramingError> final_error_;
    ConnectionStats stats_;
    std::chrono::milliseconds message_timeout_{0};
    uint64_t peer_bytes_ = UINT64_MAX;  // the peer's byte count when last seen to change
    std::chrono::steady_clock::time_point peer_bytes_since_{};
    std::unique_ptr<SendSocket> send_side_;  // released before socket_ is closed (~Connection)
};

// Creates connections for accepted sockets, on one path or the other.
class Receiver {
public:
    virtual ~Receiver();
    // Takes ownership of an established TCP socket (it is closed with the connection).
    virtual std::unique_ptr<Connection> adopt(int fd) = 0;
    virtual const char* mode() const = 0;
    // How the userspace path's sockets are read: "io_uring" (multishot receive into
    // provided buffers; poll_fd() is the connection's ring) or "epoll" (recv on the
    // socket; poll_fd() is the socket). ReceiverOptions::engine chooses.
    virtual const char* engine() const { return "epoll"; }
    const Description& description() const { return *desc_; }

protected:
    explicit Receiver(std::shared_ptr<const Description> d) : desc_(std::move(d)) {}
    std::shared_ptr<const Description> desc_;
};

// The userspace framer behind the same interface: no privileges needed.
std::unique_ptr<Receiver> make_userspace_receiver(std::shared_ptr<const Description> d);

}  // namespace sockframe

#pragma GCC visibility pop
