// The userspace twin: frames each message with the description before writing it,
// and writes it in one piece. No privileges; the same outcomes as the kernel path.
#include <sockframe/sender.hpp>
#include <sockframe/userspace_framer.hpp>

namespace sockframe {
namespace {

class UserspaceSendSocket final : public SendSocket {
public:
    UserspaceSendSocket(std::shared_ptr<const Description> d, int fd)
        : SendSocket(fd), desc_(std::move(d)), framer_(*desc_) {}
    const char* mode() const override { return "userspace"; }
    SendStats stats() const override { return stats_; }

protected:
    // The bytes must be whole messages and nothing else.
    std::optional<FramingError> check(std::span<const uint8_t> bytes) override {
        uint64_t start = framer_.stream_offset();
        framer_.feed(bytes);
        uint64_t n = 0, whole = 0;
        for (;;) {
            UserspaceFramer::Result r = framer_.next();
            if (r.status == UserspaceFramer::Status::message) {
                n++;
                whole += r.message.bytes.size();
                continue;
            }
            if (r.status == UserspaceFramer::Status::error) {
                FramingError e = *r.error;
                e.offset -= start;  // send_pieces adds the socket's offset
                return e;
            }
            break;
        }
        if (framer_.buffered()) {
            FramingError e = make_error(*desc_, FramingErrorKind::truncated, framer_.buffered(), whole);
            e.message = "the bytes end inside a message (" + std::to_string(framer_.buffered()) +
                        " bytes of it): send whole messages";
            return e;
        }
        stats_.messages += n;
        stats_.bytes += bytes.size();
        return std::nullopt;
    }
    FramingError rejection() override {
        return make_connection_error(offset(), "EACCES from a socket the userspace send side writes");
    }
    size_t writes_for(size_t) const override { return 1; }
    bool frames_in_userspace() const override { return true; }  // framed first: one write is its cork

private:
    std::shared_ptr<const Description> desc_;
    UserspaceFramer framer_;
    SendStats stats_;
};

class UserspaceSender final : public Sender {
public:
    explicit UserspaceSender(std::shared_ptr<const Description> d) : Sender(std::move(d)) {}
    std::unique_ptr<SendSocket> attach(int fd) override { return std::make_unique<UserspaceSendSocket>(desc_, fd); }
    const char* mode() const override { return "userspace"; }
};

}  // namespace

std::unique_ptr<Sender> make_userspace_sender(std::shared_ptr<const Description> d) {
    return std::make_unique<UserspaceSender>(std::move(d));
}

}  // namespace sockframe
