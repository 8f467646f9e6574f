// The write loop both send paths share: one message per sendmsg start, pieces as
// asked, would_block kept for send_rest(), EACCES read as the kernel's drop.
#include <sockframe/send_socket.hpp>
#include <sockframe/sender.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace sockframe {

SendSocket::~SendSocket() = default;
Sender::~Sender() = default;

SendResult SendSocket::fail(SendStatus status, std::optional<FramingError> error, int sys_errno) {
    closed_ = true;
    final_error_ = error;
    SendResult r{status, written_, std::move(error), sys_errno};
    pending_.clear();
    sent_of_pending_ = 0;
    return r;
}

SendResult SendSocket::send_pieces(std::span<const uint8_t> message, size_t pieces) {
    if (sent_of_pending_ || !pending_.empty())
        throw std::logic_error("sockframe: send_rest() must finish the previous message first");
    if (closed_) return {SendStatus::closed, 0, final_error_, 0};
    written_ = 0;
    if (std::optional<FramingError> e = check(message)) {
        e->offset += offset_;
        return fail(SendStatus::malformed, std::move(e), 0);
    }
    size_t writes = std::clamp<size_t>(writes_for(pieces), 1, std::max<size_t>(message.size(), 1));
    current_ = message;
    piece_ = (message.size() + writes - 1) / writes;
    return write_from(0);
}

SendResult SendSocket::write_raw(std::span<const uint8_t> bytes) {
    if (frames_in_userspace()) return send_pieces(bytes, 1);  // the twin: whole messages only
    if (sent_of_pending_ || !pending_.empty())
        throw std::logic_error("sockframe: send_rest() must finish the previous message first");
    if (closed_) return {SendStatus::closed, 0, final_error_, 0};
    written_ = 0;
    current_ = bytes;
    piece_ = 0;
    return write_from(0);
}

SendResult SendSocket::send_rest() {
    if (closed_) return {SendStatus::closed, 0, final_error_, 0};
    if (pending_.empty()) return {SendStatus::sent, 0, std::nullopt, 0};
    return write_from(0);
}

SendResult SendSocket::write_from(size_t) {
    const size_t size = current_.size();
    while (written_ < size) {
        // the end of the piece this write belongs to
        size_t end = piece_ ? std::min(size, (written_ / piece_ + 1) * piece_) : size;
        ssize_t n = ::send(fd_, current_.data() + written_, end - written_, MSG_NOSIGNAL);
        if (n > 0) {
            written_ += static_cast<size_t>(n);
            if (piece_ && piece_gap_us_ && written_ < size && written_ % piece_ == 0) usleep(piece_gap_us_);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (pending_.empty()) {
                pending_.assign(current_.begin(), current_.end());
                current_ = pending_;
            }
            sent_of_pending_ = written_;
            return {SendStatus::would_block, written_, std::nullopt, 0};
        }
        if (n < 0 && errno == EACCES) return fail(SendStatus::malformed, rejection(), EACCES);
        if (n == 0)  // the kernel's send side took nothing: never seen from this program's writes
            return fail(SendStatus::closed,
                        make_connection_error(offset_, "the kernel send side accepted 0 bytes (stalled)"), EIO);
        int err = errno;
        return fail(SendStatus::closed, std::nullopt, err);
    }
    offset_ += size;
    SendResult r{SendStatus::sent, written_, std::nullopt, 0};
    pending_.clear();
    current_ = {};
    sent_of_pending_ = 0;
    return r;
}

}  // namespace sockframe
