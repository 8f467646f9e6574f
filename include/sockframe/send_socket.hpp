// Sending: one socket whose outgoing bytes are whole, well-formed messages.
// The same interface serves the kernel send side (a generated SK_MSG program checks
// and corks every message) and the userspace twin (frames each message before
// writing it). Outcomes: docs/send.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <sockframe/framing_error.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class SendStatus {
    sent,         // the socket accepted the whole message
    would_block,  // non-blocking socket full: `bytes` of it accepted; poll for POLLOUT, then send_rest()
    malformed,    // the message breaks the description: none of it left; `error` names the rule and
                  // the stream offset; every earlier message was delivered; the send side is closed
    closed,       // the send side was closed (an earlier malformed message, or a socket error: sys_errno)
};

struct SendResult {
    SendStatus status = SendStatus::sent;
    size_t bytes = 0;                   // bytes of this message the socket accepted
    std::optional<FramingError> error;  // malformed (and closed after one): the rule, value, offset
    int sys_errno = 0;                  // closed by a socket error
};

struct SendStats {
    uint64_t messages = 0;  // whole messages let through
    uint64_t bytes = 0;
    uint64_t corks = 0;     // kernel: messages held back until whole (one sendmsg start each)
    uint64_t uncorked = 0;  // kernel: messages whose first bytes left before the rest was written
    uint64_t calls = 0;     // kernel: runs of the send program
};

class SendSocket {
public:
    virtual ~SendSocket();
    SendSocket(const SendSocket&) = delete;
    SendSocket& operator=(const SendSocket&) = delete;

    // Sends one whole message. It starts a sendmsg of its own, so the kernel holds it
    // until it is whole (cork) and it leaves in as few segments as TCP allows.
    SendResult send(std::span<const uint8_t> message) { return send_pieces(message, 1); }
    // The same message written in `pieces` writes (a writer producing it piece by piece);
    // the kernel path still lets it leave whole. The userspace twin writes it once.
    SendResult send_pieces(std::span<const uint8_t> message, size_t pieces);
    // Bytes exactly as given, with no framing of their own (sockframe replay --raw): the
    // kernel send program alone frames and enforces; malformed when it drops a message
    // (error: its rule and stream offset). The userspace twin refuses what is not whole messages.
    SendResult write_raw(std::span<const uint8_t> bytes);
    // Sleep between the pieces of send_pieces() (a writer producing a message slowly).
    void set_piece_gap_us(unsigned us) { piece_gap_us_ = us; }
    // After would_block: the rest of that message. Sending another message before it
    // finishes throws std::logic_error.
    SendResult send_rest();
    // Bytes of a message the socket accepted whose rest was not sent yet (would_block).
    // Closing now loses that message: on the kernel path the peer receives none of it
    // (it is corked); on the userspace path the peer receives a truncated message.
    size_t unfinished() const { return sent_of_pending_; }
    // A message is waiting for send_rest() (would_block, even with 0 bytes accepted).
    bool pending() const { return !pending_.empty(); }

    int socket() const { return fd_; }
    virtual const char* mode() const = 0;  // "kernel" or "userspace"
    virtual SendStats stats() const = 0;
    // Stream offset of the next message (bytes of whole messages sent since attach).
    uint64_t offset() const { return offset_; }
    bool closed() const { return closed_; }

protected:
    explicit SendSocket(int fd) : fd_(fd) {}
    // The rule `message` breaks (offset filled in by the caller), or nullopt.
    // The userspace twin frames here; the kernel path checks nothing here.
    virtual std::optional<FramingError> check(std::span<const uint8_t> message) = 0;
    // Why the kernel refused a send with EACCES (the program's record of the drop).
    virtual FramingError rejection() = 0;
    // How many writes a message in `pieces` pieces takes on this path.
    virtual size_t writes_for(size_t pieces) const = 0;
    // The userspace twin: checks each send before writing it.
    virtual bool frames_in_userspace() const { return false; }

private:
    SendResult write_from(size_t first_piece_end);
    SendResult fail(SendStatus status, std::optional<FramingError> error, int sys_errno);

    int fd_;
    bool closed_ = false;
    std::optional<FramingError> final_error_;
    uint64_t offset_ = 0;
    std::vector<uint8_t> pending_;  // the message being written (only while would_block)
    std::span<const uint8_t> current_;
    size_t written_ = 0, piece_ = 0;
    size_t sent_of_pending_ = 0;
    unsigned piece_gap_us_ = 0;
};

}  // namespace sockframe

#pragma GCC visibility pop
