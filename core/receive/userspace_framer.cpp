#include <sockframe/userspace_framer.hpp>

#include <algorithm>
#include <cstring>

#include "description/length_rule.hpp"

namespace sockframe {

namespace {

// Parts of a length rule that the inline path in next() does not know.
// A new uint feature must be added here, or the inline path would ignore it.
bool has_more_than_a_plain_field(const LengthField& f) {
    const UintLength* u = f.as_uint();
    return !u || !f.special_values.empty() || u->width < 1 || u->width > 8 || u->conditional() || !f.magic.empty();
}

}  // namespace

UserspaceFramer::UserspaceFramer(const Description& d) : desc_(d) {
    if (!d.is_length() && !d.first && d.delimiter().bytes.size() == 1)
        byte_delimiter_ = static_cast<uint8_t>(d.delimiter().bytes[0]);
    if (!d.is_length() || d.first || !d.magic.empty() || !d.trailer.empty()) return;
    const LengthField& f = d.length();
    if (has_more_than_a_plain_field(f)) return;
    const UintLength& u = *f.as_uint();
    uint64_t min = f.effective_min();
    if (min > d.max_message) return;  // every total is an error: leave them to probe_length()
    plain_.on = true;
    plain_.big = u.byte_order == ByteOrder::big;
    plain_.offset = f.offset;
    plain_.width = u.width;
    plain_.shift = u.shift;
    plain_.field_end = f.field_end();
    plain_.mask = u.mask;
    plain_.scale = f.scale;
    plain_.header = u.header;
    plain_.min = min;
    plain_.max = d.max_message;
    uint64_t field_bits = u.width >= 8 ? ~0ULL : (1ULL << (8 * u.width)) - 1;
    plain_.unscaled =
        u.width <= 4 && (u.mask & field_bits) == field_bits && u.shift == 0 && f.scale == 1 && u.header < (1ULL << 32);
}

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

void UserspaceFramer::commit(size_t n) {
    end_ += n;
}

void UserspaceFramer::feed(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;  // an empty span's data() may be null, which memcpy must not get
    auto space = write_space(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

void UserspaceFramer::fail(FramingErrorKind kind, uint64_t value) {
    error_ = make_error(desc_, kind, value, consumed_);
    plain_.on = false;  // the inline paths of next() would not look at error_
    byte_delimiter_ = -1;
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
        // memchr (vectorised by libc) for the first byte, then the rest of the delimiter.
        const uint8_t* hit = to;
        const uint8_t* last = to - d.size() + 1;  // a whole delimiter starts before this
        const auto first = static_cast<uint8_t>(d[0]);
        for (const uint8_t* at = base + scanned_; at < last;) {
            auto* c = static_cast<const uint8_t*>(std::memchr(at, first, static_cast<size_t>(last - at)));
            if (!c) break;
            if (d.size() == 1 || std::memcmp(c + 1, d.data() + 1, d.size() - 1) == 0) {
                hit = c;
                break;
            }
            at = c + 1;
        }
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

uint64_t UserspaceFramer::next_total() {
    if (error_) return kFailed;
    FramingErrorKind kind{};
    uint64_t value = 0;
    bool bad = false;
    bool first = desc_.first && !first_done_;
    uint64_t total = first               ? first_message_length(kind, value, bad)
                     : desc_.is_length() ? length_message(kind, value, bad)
                                         : delimited_message(kind, value, bad);
    if (bad) {
        fail(kind, value);
        return kFailed;
    }
    if (total != 0 && first) first_done_ = true;
    return total;
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
