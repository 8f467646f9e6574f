// The io_uring engine of the userspace path: one ring per connection with one
// multishot receive (IORING_OP_RECV + IORING_RECV_MULTISHOT) that the kernel keeps
// filling provided buffers from (a registered buffer ring), so reading what arrived
// is a walk over the completion queue in shared memory, not a system call.
// The ring's descriptor is what the application polls: it is readable when a
// completion is waiting. Built only with liburing (SOCKFRAME_HAVE_IO_URING).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>

struct io_uring;
struct io_uring_buf_ring;

namespace sockframe {

class UringEngine {
public:
    // Sets up the ring and the buffers for the connected socket `sock` (not owned) and
    // arms the receive. nullptr and `why` if the kernel refuses any of it.
    static std::unique_ptr<UringEngine> open(int sock, std::string& why);
    ~UringEngine();
    UringEngine(const UringEngine&) = delete;
    UringEngine& operator=(const UringEngine&) = delete;

    int poll_fd() const;

    struct Got {
        enum Kind { data, would_block, end, failed } kind;
        size_t bytes = 0;
        int error = 0;  // errno of a failed receive
    };
    // Copies what the kernel has received into `into` (up to its size), in stream order.
    // would_block: nothing received since; poll poll_fd(). The end of stream and a
    // receive error are reported after every byte before them.
    Got read(std::span<uint8_t> into);

private:
    UringEngine() = default;
    bool arm();  // submits the multishot receive (one io_uring_enter)
    void recycle(uint16_t bid);
    bool take_completion();  // one CQE of our receive into held_/ended_/error_; false if none

    std::unique_ptr<io_uring> ring_;
    bool ring_up_ = false;
    io_uring_buf_ring* br_ = nullptr;
    size_t br_bytes_ = 0;
    uint8_t* buffers_ = nullptr;  // kBuffers x kBufferSize, one mapping
    int sock_ = -1;

    // The receive in flight: at most one. A new one is armed only after the old one's
    // last completion (no IORING_CQE_F_MORE), so completions never interleave and the
    // stream stays in order.
    bool armed_ = false;
    uint64_t generation_ = 0;  // user_data of the receive in flight
    // The kernel runs the receive (and its copy) as task work of the thread that
    // submitted it. When another thread reads (a connection adopted on one thread and
    // served on another), the receive is cancelled and re-armed from the reader.
    std::thread::id armed_by_;
    bool cancelling_ = false;

    // A completed buffer not yet copied out entirely.
    int held_bid_ = -1;
    size_t held_off_ = 0, held_len_ = 0;
    bool ended_ = false;
    int error_ = 0;
};

}  // namespace sockframe
