// The userspace framer: splits a byte stream into messages by a description.
// It is the oracle for the kernel parser and the splitter behind every receive
// path (the kernel path delivers whole messages, but not one per read).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/framing_error.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

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
    // Always inlined, and the out-of-line part returns a plain number: a Result
    // returned through memory costs a store-forwarding stall per message (measured
    // with perf in Connection::receive()).
    [[gnu::always_inline]] Result next() {
        uint64_t total;
        if (plain_.on) [[likely]] {
            // The common rule (a fixed-width integer, nothing else) inline: no call per message.
            size_t avail = end_ - begin_;
            if (avail < plain_.field_end) return {};
            total = plain_total(buf_.data() + begin_);
            if (total - plain_.min <= plain_.max - plain_.min) {  // within [min, max_message]
                if (total > avail) return {};
                return take(total);
            }
            // Out of bounds or saturated: the general rule names the error.
        } else if (byte_delimiter_ >= 0) {
            // A one-byte delimiter: memchr over what was not searched before, up to max_message.
            size_t limit = std::min<uint64_t>(end_ - begin_, desc_.max_message);
            if (scanned_ < limit) {
                const uint8_t* base = buf_.data() + begin_;
                auto* hit =
                    static_cast<const uint8_t*>(std::memchr(base + scanned_, byte_delimiter_, limit - scanned_));
                if (hit) {
                    scanned_ = 0;
                    return take(static_cast<uint64_t>(hit - base) + 1);
                }
                scanned_ = limit;
            }
            // Not whole yet, or no delimiter within max_message: the general rule decides.
        }
        total = next_total();
        if (total == 0) return {};
        if (total == kFailed) return {Status::error, {}, &*error_};
        return take(total);
    }
    // The plain length rule's part of next(), small enough to inline into a caller's
    // receive loop: true and `m` when a whole message within bounds is buffered; false
    // means "ask next()" (not whole yet, out of bounds, an error, or another rule).
    [[gnu::always_inline]] bool next_plain(Message& m) {
        if (!plain_.on) return false;
        size_t avail = end_ - begin_;
        if (avail < plain_.field_end) return false;
        uint64_t total = plain_total(buf_.data() + begin_);
        if (total - plain_.min > plain_.max - plain_.min || total > avail) return false;
        m = take(total).message;
        return true;
    }
    // At end of stream: the truncation error if a partial message is held.
    std::optional<FramingError> finish() const;

    uint64_t buffered() const { return end_ - begin_; }
    uint64_t stream_offset() const { return consumed_; }  // start of the next message
    const Description& description() const { return desc_; }

private:
    static constexpr uint64_t kFailed = ~0ULL;
    // Length of the whole message at begin_, 0 if not yet whole, or kFailed with error_ set.
    uint64_t next_total();
    Result take(uint64_t total) {
        Message m{{buf_.data() + begin_, static_cast<size_t>(total)}, consumed_};
        begin_ += total;
        consumed_ += total;
        if (begin_ == end_) begin_ = end_ = 0;  // views stay valid: nothing is moved until the next write
        return {Status::message, m, nullptr};
    }
    // header + ((field & mask) >> shift) * scale, or UINT64_MAX if that overflows.
    uint64_t plain_total(const uint8_t* p) const {
        const uint8_t* f = p + plain_.offset;
        uint64_t v = 0;
        switch (plain_.width) {
            case 1:
                v = f[0];
                break;
            case 2: {
                uint16_t x;
                std::memcpy(&x, f, 2);
                v = plain_.big ? __builtin_bswap16(x) : x;
                break;
            }
            case 4: {
                uint32_t x;
                std::memcpy(&x, f, 4);
                v = plain_.big ? __builtin_bswap32(x) : x;
                break;
            }
            case 8: {
                uint64_t x;
                std::memcpy(&x, f, 8);
                v = plain_.big ? __builtin_bswap64(x) : x;
                break;
            }
            default:
                for (uint32_t i = 0; i < plain_.width; i++) v = (v << 8) | f[plain_.big ? i : plain_.width - 1 - i];
        }
        // The usual field (no mask, shift or scale, at most 32 bits): the total can't overflow.
        if (plain_.unscaled) [[likely]]
            return plain_.header + v;
        v = (v & plain_.mask) >> plain_.shift;
        uint64_t product, total;
        if (__builtin_mul_overflow(v, plain_.scale, &product) || __builtin_add_overflow(plain_.header, product, &total))
            return ~0ULL;
        return total;
    }
    void fail(FramingErrorKind kind, uint64_t value);
    // Length of the whole message at begin_ (0: not yet whole), or sets `bad`.
    uint64_t first_message_length(FramingErrorKind& kind, uint64_t& value, bool& bad) const;
    uint64_t length_message(FramingErrorKind& kind, uint64_t& value, bool& bad) const;
    uint64_t delimited_message(FramingErrorKind& kind, uint64_t& value, bool& bad);
    // Full length of the partial message held, if its length is known.
    uint64_t pending_length() const;

    const Description& desc_;
    std::vector<uint8_t> buf_;
    size_t begin_ = 0, end_ = 0;
    uint64_t consumed_ = 0;    // stream offset of buf_[begin_]
    size_t scanned_ = 0;       // delimiter search: bytes after begin_ known not to start it
    bool first_done_ = false;  // the description's first message (preface / first_length) is behind
    std::optional<FramingError> error_;

    // A length rule that is only a fixed-width integer field (no magic, trailer, special
    // values or first message), framed inline by next(). Anything outside [min, max] goes
    // to probe_length(), which stays the one definition of the rule and of its errors
    // (tests/unit/test_framer.cpp holds the two to the same totals).
    struct Plain {
        bool on = false;
        bool big = true;
        bool unscaled = false;  // width <= 4, the mask keeps every bit, shift 0, scale 1, header < 2^32
        uint32_t offset = 0, width = 0, shift = 0;
        uint64_t field_end = 0, mask = 0, scale = 0, header = 0, min = 0, max = 0;
    } plain_;
    int byte_delimiter_ = -1;  // a one-byte delimiter, searched inline by next()
    // plain_.on and byte_delimiter_ are cleared by fail(): after an error next() goes
    // straight to next_total(), which returns the sticky error.
};

}  // namespace sockframe

#pragma GCC visibility pop
