// The userspace framer: splits a byte stream into messages by a description.
// It is the oracle for the kernel parser and the splitter behind every receive
// path (the kernel path delivers whole messages, but not one per read).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "description.hpp"
#include "framing_error.hpp"

namespace sockframe {

struct Message {
    std::span<const uint8_t> bytes;  // valid until the framer's buffer is written again
    uint64_t offset = 0;             // stream offset of the first byte
};

class UserspaceFramer {
public:
    explicit UserspaceFramer(const Description& d);

    // Zero-copy feeding: write up to `size` bytes into write_space(size), then commit(n).
    // Both invalidate the spans of messages returned before.
    std::span<uint8_t> write_space(size_t size);
    void commit(size_t n);
    void feed(std::span<const uint8_t> bytes);  // copying convenience

    enum class Status { message, need_more, error };
    struct Result {
        Status status = Status::need_more;
        Message message;
        const FramingError* error = nullptr;  // valid while the framer lives
    };
    // The next whole message, or need_more, or the (sticky) framing error.
    Result next();
    // At end of stream: the truncation error if a partial message is held.
    std::optional<FramingError> finish() const;

    uint64_t buffered() const { return end_ - begin_; }
    uint64_t stream_offset() const { return consumed_; }  // start of the next message
    const Description& description() const { return desc_; }

private:
    Result fail(FramingErrorKind kind, uint64_t value);
    // Length of the whole message at begin_ (0: not yet whole), or sets `bad`.
    uint64_t first_message_length(FramingErrorKind& kind, uint64_t& value, bool& bad) const;
    uint64_t length_message(FramingErrorKind& kind, uint64_t& value, bool& bad) const;
    uint64_t delimited_message(FramingErrorKind& kind, uint64_t& value, bool& bad);
    // Full length of the partial message held, if its length is known.
    uint64_t pending_length() const;

    const Description& desc_;
    std::vector<uint8_t> buf_;
    size_t begin_ = 0, end_ = 0;
    uint64_t consumed_ = 0;     // stream offset of buf_[begin_]
    size_t scanned_ = 0;        // delimiter search: bytes after begin_ known not to start it
    bool first_done_ = false;   // the description's first message (preface / first_length) is behind
    std::optional<FramingError> error_;
};

}  // namespace sockframe
