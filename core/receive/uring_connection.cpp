#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "build_config.hpp"
#include "receive/uring_receiver.hpp"

#if SOCKFRAME_HAVE_IO_URING
#include "receive/uring_engine.hpp"
#endif

namespace sockframe {

#if SOCKFRAME_HAVE_IO_URING
namespace {

class UringConnection final : public Connection {
public:
    UringConnection(std::shared_ptr<const Description> d, int fd, std::unique_ptr<UringEngine> e)
        : Connection(std::move(d), fd, "userspace"), engine_(std::move(e)) {
        // A read is a look at the completion queue, not a system call: no need to
        // guess from a short read that the socket is empty (short_read_drains_ stays off),
        // the next read says so for free.
    }
    int poll_fd() const override { return engine_->poll_fd(); }

protected:
    ReadResult read_some(std::span<uint8_t> into) override {
        auto g = engine_->read(into);
        switch (g.kind) {
            case UringEngine::Got::data:
                return {ReadResult::data, g.bytes};
            case UringEngine::Got::would_block:
                return {ReadResult::would_block};
            case UringEngine::Got::end:
                return {ReadResult::end};
            case UringEngine::Got::failed:
                break;
        }
        // The same words as read_plain_socket(), so both engines report errors alike.
        if (g.error == ECONNRESET || g.error == EPIPE)
            return {ReadResult::failed, 0, make_connection_error(offset(), "connection reset by peer")};
        return {ReadResult::failed, 0,
                make_connection_error(offset(), std::string("receive failed: ") + strerror(g.error))};
    }

private:
    std::unique_ptr<UringEngine> engine_;  // destroyed before ~Connection closes the socket
};

class UringReceiver final : public Receiver {
public:
    UringReceiver(std::shared_ptr<const Description> d, bool forced)
        : Receiver(std::move(d)), forced_(forced), fallback_(make_userspace_receiver(desc_)) {}
    std::unique_ptr<Connection> adopt(int fd) override {
        std::string why;
        auto engine = UringEngine::open(fd, why);
        if (engine) return std::make_unique<UringConnection>(desc_, fd, std::move(engine));
        if (!forced_) return fallback_->adopt(fd);
        close(fd);
        throw std::runtime_error("sockframe: io_uring engine for a new connection: " + why);
    }
    const char* mode() const override { return "userspace"; }
    const char* engine() const override { return "io_uring"; }

private:
    bool forced_;
    std::unique_ptr<Receiver> fallback_;
};

}  // namespace

std::unique_ptr<Receiver> make_uring_receiver(std::shared_ptr<const Description> d, bool forced) {
    return std::make_unique<UringReceiver>(std::move(d), forced);
}
#else
std::unique_ptr<Receiver> make_uring_receiver(std::shared_ptr<const Description>, bool) {
    throw std::logic_error("make_uring_receiver: built without liburing");
}
#endif

}  // namespace sockframe
