#include "userspace_framer.hpp"

#include <algorithm>
#include <cstring>

namespace sockframe {

UserspaceFramer::UserspaceFramer(const Description& d) : desc_(d) {}

std::span<uint8_t> UserspaceFramer::write_space(size_t size) {
    if (buf_.size() - end_ < size) {
        // Move the partial message to the front before growing: the buffer stays
        // about one max_message plus one read, whatever the stream length.
        if (begin_ > 0) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buf_.size() - end_ < size) buf_.resize(end_ + size);
    }
    return {buf_.data() + end_, size};
}

void UserspaceFramer::commit(size_t n) { end_ += n; }

void UserspaceFramer::feed(std::span<const uint8_t> bytes) {
    auto space = write_space(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

UserspaceFramer::Result UserspaceFramer::fail(FramingErrorKind kind, uint64_t value) {
    error_ = make_error(desc_, kind, value, consumed_);
    return {Status::error, {}, &*error_};
}

uint64_t UserspaceFramer::length_total(uint64_t& error_value, FramingErrorKind& kind) const {
    const LengthField& f = desc_.length();
    size_t avail = end_ - begin_;
    if (avail < f.field_end()) return 0;
    const uint8_t* p = buf_.data() + begin_ + f.offset;
    uint64_t v = 0;
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? i : f.width - 1 - i;
        v = (v << 8) | p[idx];
    }
    v = (v & f.mask) >> f.shift;
    uint64_t total = (f.scale && v > (~0ULL - f.header) / f.scale) ? ~0ULL : f.header + v * f.scale;
    if (total > desc_.max_message) {
        kind = FramingErrorKind::too_long;
        error_value = total;
        return 0;
    }
    if (total < f.effective_min()) {
        kind = FramingErrorKind::too_short;
        error_value = total;
        return 0;
    }
    return total;
}

UserspaceFramer::Result UserspaceFramer::next() {
    if (error_) return {Status::error, {}, &*error_};
    size_t avail = end_ - begin_;
    uint64_t total = 0;
    if (desc_.is_length()) {
        uint64_t bad = 0;
        FramingErrorKind kind{};
        total = length_total(bad, kind);
        if (bad) return fail(kind, bad);
        if (total == 0 || total > avail) return {};
    } else {
        const std::string& d = desc_.delimiter().bytes;
        const uint8_t* base = buf_.data() + begin_;
        // Search only what was not searched before: linear in the stream, whatever the chunking.
        size_t limit = std::min<uint64_t>(avail, desc_.max_message);
        const uint8_t* hit = nullptr;
        if (limit >= d.size() && scanned_ <= limit - d.size()) {
            const uint8_t* from = base + scanned_;
            const uint8_t* to = base + limit;
            hit = std::search(from, to, d.begin(), d.end(),
                              [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); });
            if (hit == to) {
                hit = nullptr;
                scanned_ = limit - d.size() + 1;
            }
        }
        if (!hit) {
            if (avail >= desc_.max_message) return fail(FramingErrorKind::no_delimiter, desc_.max_message);
            return {};
        }
        total = static_cast<uint64_t>(hit - base) + d.size();
        scanned_ = 0;
    }
    Message m{{buf_.data() + begin_, static_cast<size_t>(total)}, consumed_};
    begin_ += total;
    consumed_ += total;
    if (begin_ == end_) begin_ = end_ = 0;  // views stay valid: nothing is moved until the next write
    return {Status::message, m, nullptr};
}

std::optional<FramingError> UserspaceFramer::finish() const {
    if (error_ || begin_ == end_) return std::nullopt;
    uint64_t needed = 0;
    if (desc_.is_length()) {
        uint64_t bad = 0;
        FramingErrorKind kind{};
        needed = length_total(bad, kind);
    }
    return make_error(desc_, FramingErrorKind::truncated, end_ - begin_, consumed_, needed);
}

}  // namespace sockframe
