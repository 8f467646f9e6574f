#include "receive/uring_engine.hpp"

#include <liburing.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sockframe {

namespace {

// 16 buffers of 16 KiB: 256 KiB a connection. The kernel fills them while the
// application frames; when all 16 are full and unread the multishot receive ends
// with ENOBUFS and is re-armed on the next read (data waits in the socket meanwhile).
constexpr unsigned kBuffers = 16;  // a power of two (buffer ring)
constexpr size_t kBufferSize = 16 * 1024;
constexpr uint16_t kGroup = 0;               // one buffer group per ring
constexpr uint64_t kCancelTag = ~0ULL;       // user_data of our cancel requests
constexpr unsigned kRingEntries = 4;         // one receive, one cancel at a time
constexpr unsigned kCompletionEntries = 64;  // >= kBuffers + the last completions

}  // namespace

std::unique_ptr<UringEngine> UringEngine::open(int sock, std::string& why) {
    std::unique_ptr<UringEngine> e(new UringEngine());
    e->sock_ = sock;
    e->ring_ = std::make_unique<io_uring>();
    // Default task-work notification on purpose: IORING_SETUP_COOP_TASKRUN and
    // DEFER_TASKRUN do not wake a thread sleeping in poll()/epoll_wait() on the ring's
    // descriptor, which is how applications wait for poll_fd().
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = kCompletionEntries;
    int r = io_uring_queue_init_params(kRingEntries, e->ring_.get(), &p);
    if (r < 0) {
        why = std::string("io_uring_setup: ") + strerror(-r);
        return nullptr;
    }
    e->ring_up_ = true;
    if (!(p.features & IORING_FEAT_FAST_POLL)) {
        why = "io_uring without IORING_FEAT_FAST_POLL (kernel older than 5.7)";
        return nullptr;
    }
    e->br_bytes_ = kBuffers * sizeof(io_uring_buf);
    void* ring_mem = mmap(nullptr, e->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* buf_mem = mmap(nullptr, kBuffers * kBufferSize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED || buf_mem == MAP_FAILED) {
        if (ring_mem != MAP_FAILED) munmap(ring_mem, e->br_bytes_);
        if (buf_mem != MAP_FAILED) munmap(buf_mem, kBuffers * kBufferSize);
        why = std::string("mmap: ") + strerror(errno);
        return nullptr;
    }
    e->br_ = static_cast<io_uring_buf_ring*>(ring_mem);
    e->buffers_ = static_cast<uint8_t*>(buf_mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(ring_mem);
    reg.ring_entries = kBuffers;
    reg.bgid = kGroup;
    r = io_uring_register_buf_ring(e->ring_.get(), &reg, 0);
    if (r < 0) {
        why = std::string("io_uring_register_buf_ring: ") + strerror(-r) + " (provided buffer rings need Linux 5.19)";
        return nullptr;
    }
    io_uring_buf_ring_init(e->br_);
    int mask = io_uring_buf_ring_mask(kBuffers);
    for (unsigned i = 0; i < kBuffers; i++)
        io_uring_buf_ring_add(e->br_, e->buffers_ + i * kBufferSize, kBufferSize, static_cast<unsigned short>(i), mask,
                              static_cast<int>(i));
    io_uring_buf_ring_advance(e->br_, kBuffers);
    if (!e->arm()) {
        why = std::string("io_uring_submit: ") + strerror(errno);
        return nullptr;
    }
    return e;
}

UringEngine::~UringEngine() {
    bool quiet = true;  // the kernel no longer writes into buffers_
    if (ring_up_) {
        if (armed_) {
            // Cancel the receive and wait for its last completion before the buffers go:
            // a receive still armed could otherwise copy into memory reused by then.
            if (!cancelling_) {
                if (io_uring_sqe* sqe = io_uring_get_sqe(ring_.get())) {
                    io_uring_prep_cancel64(sqe, generation_, 0);
                    io_uring_sqe_set_data64(sqe, kCancelTag);
                    io_uring_submit(ring_.get());
                }
            }
            while (armed_) {
                io_uring_cqe* cqe = nullptr;
                __kernel_timespec ts{1, 0};
                if (io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts) < 0) break;
                if (cqe->user_data == generation_ && !(cqe->flags & IORING_CQE_F_MORE)) armed_ = false;
                io_uring_cqe_seen(ring_.get(), cqe);
            }
            quiet = !armed_;
        }
        io_uring_queue_exit(ring_.get());  // also unregisters the buffer ring
    }
    // If the receive did not end within a second (its thread never ran its task work),
    // the buffers are leaked rather than risk the kernel writing into freed memory.
    if (quiet && buffers_) munmap(buffers_, kBuffers * kBufferSize);
    if (quiet && br_) munmap(br_, br_bytes_);
}

int UringEngine::poll_fd() const {
    return ring_->ring_fd;
}

bool UringEngine::arm() {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (!sqe) {
        errno = EBUSY;
        return false;
    }
    io_uring_prep_recv_multishot(sqe, sock_, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kGroup;
    io_uring_sqe_set_data64(sqe, ++generation_);
    int r;
    while ((r = io_uring_submit(ring_.get())) == -EINTR) {
    }
    if (r < 0) {
        errno = -r;
        return false;
    }
    armed_ = true;
    armed_by_ = std::this_thread::get_id();
    return true;
}

void UringEngine::recycle(uint16_t bid) {
    io_uring_buf_ring_add(br_, buffers_ + static_cast<size_t>(bid) * kBufferSize, kBufferSize, bid,
                          io_uring_buf_ring_mask(kBuffers), 0);
    io_uring_buf_ring_advance(br_, 1);
}

bool UringEngine::take_completion() {
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
        uint64_t tag = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(ring_.get(), cqe);
        if (tag != generation_) continue;  // a cancel's own completion
        if (!(flags & IORING_CQE_F_MORE)) {
            armed_ = false;  // this receive is over: the next read arms another
            cancelling_ = false;
        }
        if (res > 0) {
            held_bid_ = static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT);
            held_off_ = 0;
            held_len_ = static_cast<size_t>(res);
            return true;
        }
        if (res == 0) {
            ended_ = true;
            return true;
        }
        // Out of buffers, cancelled (by us, or because the submitting thread exited), or
        // interrupted: nothing was taken from the socket; re-armed by read().
        if (res == -ENOBUFS || res == -ECANCELED || res == -EINTR || res == -EAGAIN) continue;
        error_ = -res;
        return true;
    }
    return false;
}

UringEngine::Got UringEngine::read(std::span<uint8_t> into) {
    if (armed_ && !cancelling_ && armed_by_ != std::this_thread::get_id()) {
        // Move the receive to this thread (see armed_by_): cancel it here and re-arm
        // once its last completion is in.
        if (io_uring_sqe* sqe = io_uring_get_sqe(ring_.get())) {
            io_uring_prep_cancel64(sqe, generation_, 0);
            io_uring_sqe_set_data64(sqe, kCancelTag);
            if (io_uring_submit(ring_.get()) >= 0) cancelling_ = true;
        }
    }
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        while (n < into.size()) {
            if (held_bid_ >= 0) {
                size_t k = std::min(into.size() - n, held_len_ - held_off_);
                std::memcpy(into.data() + n, buffers_ + static_cast<size_t>(held_bid_) * kBufferSize + held_off_, k);
                n += k;
                held_off_ += k;
                if (held_off_ == held_len_) {
                    recycle(static_cast<uint16_t>(held_bid_));
                    held_bid_ = -1;
                }
                continue;
            }
            if (ended_ || error_ || !take_completion()) break;
        }
        if (n > 0) return {Got::data, n};
        if (error_) return {Got::failed, 0, error_};
        if (ended_) return {Got::end};
        if (armed_) return {Got::would_block};
        // The receive ended (out of buffers, cancelled): arm another. The kernel tries
        // it at once, so what the socket holds may already be completed: look again.
        if (!arm()) return {Got::failed, 0, errno};
    }
    return {Got::would_block};
}

}  // namespace sockframe
