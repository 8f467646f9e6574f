#include "userspace_framer.hpp"

#include <algorithm>
#include <cstring>

#include "length_rule.hpp"

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

uint64_t UserspaceFramer::first_message_length(FramingErrorKind& kind, uint64_t& value, bool& bad) const {
    const FirstMessage& first = *desc_.first;
    const uint8_t* p = buf_.data() + begin_;
    size_t avail = end_ - begin_;
    if (!first.preface.empty()) {
        long at = preface_mismatch(first.preface, p, avail);
        if (at >= 0) {
            bad = true;
            kind = FramingErrorKind::bad_preface;
            value = static_cast<uint64_t>(at);
            return 0;
        }
        return avail >= first.preface.size() ? first.preface.size() : 0;
    }
    LengthProbe probe = probe_length(*first.length, first.max_message, {}, p, avail);
    if (probe.state == LengthProbe::error) {
        bad = true;
        kind = probe.kind;
        value = probe.value;
        return 0;
    }
    return probe.state == LengthProbe::known && probe.total <= avail ? probe.total : 0;
}

uint64_t UserspaceFramer::length_message(FramingErrorKind& kind, uint64_t& value, bool& bad) const {
    const uint8_t* p = buf_.data() + begin_;
    size_t avail = end_ - begin_;
    LengthProbe probe = probe_length(desc_.length(), desc_.max_message, desc_.magic, p, avail);
    if (probe.state == LengthProbe::error) {
        bad = true;
        kind = probe.kind;
        value = probe.value;
        return 0;
    }
    if (probe.state != LengthProbe::known || probe.total > avail) return 0;
    const std::string& t = desc_.trailer;
    if (!t.empty() && !std::equal(t.begin(), t.end(), p + probe.total - t.size(),
                                  [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; })) {
        bad = true;
        kind = FramingErrorKind::bad_trailer;
        value = probe.total;
        return 0;
    }
    return probe.total;
}

uint64_t UserspaceFramer::delimited_message(FramingErrorKind& kind, uint64_t& value, bool& bad) {
    const std::string& d = desc_.delimiter().bytes;
    const uint8_t* base = buf_.data() + begin_;
    size_t avail = end_ - begin_;
    // Search only what was not searched before: linear in the stream, whatever the chunking.
    size_t limit = std::min<uint64_t>(avail, desc_.max_message);
    if (limit >= d.size() && scanned_ <= limit - d.size()) {
        const uint8_t* to = base + limit;
        const uint8_t* hit = std::search(base + scanned_, to, d.begin(), d.end(),
                                         [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); });
        if (hit != to) {
            scanned_ = 0;
            return static_cast<uint64_t>(hit - base) + d.size();
        }
        scanned_ = limit - d.size() + 1;
    }
    if (avail >= desc_.max_message) {
        bad = true;
        kind = FramingErrorKind::no_delimiter;
        value = desc_.max_message;
    }
    return 0;
}

UserspaceFramer::Result UserspaceFramer::next() {
    if (error_) return {Status::error, {}, &*error_};
    FramingErrorKind kind{};
    uint64_t value = 0;
    bool bad = false;
    bool first = desc_.first && !first_done_;
    uint64_t total = first ? first_message_length(kind, value, bad)
                     : desc_.is_length() ? length_message(kind, value, bad)
                                         : delimited_message(kind, value, bad);
    if (bad) return fail(kind, value);
    if (total == 0) return {};
    if (first) first_done_ = true;
    Message m{{buf_.data() + begin_, static_cast<size_t>(total)}, consumed_};
    begin_ += total;
    consumed_ += total;
    if (begin_ == end_) begin_ = end_ = 0;  // views stay valid: nothing is moved until the next write
    return {Status::message, m, nullptr};
}

uint64_t UserspaceFramer::pending_length() const {
    const uint8_t* p = buf_.data() + begin_;
    size_t avail = end_ - begin_;
    if (desc_.first && !first_done_) {
        if (!desc_.first->preface.empty()) return desc_.first->preface.size();
        LengthProbe probe = probe_length(*desc_.first->length, desc_.first->max_message, {}, p, avail);
        return probe.state == LengthProbe::known ? probe.total : 0;
    }
    if (!desc_.is_length()) return 0;
    LengthProbe probe = probe_length(desc_.length(), desc_.max_message, desc_.magic, p, avail);
    return probe.state == LengthProbe::known ? probe.total : 0;
}

std::optional<FramingError> UserspaceFramer::finish() const {
    if (error_ || begin_ == end_) return std::nullopt;
    return make_error(desc_, FramingErrorKind::truncated, end_ - begin_, consumed_, pending_length());
}

}  // namespace sockframe
