// The kernel send path: each attached socket joins the send sockhash, where the
// generated SK_MSG program checks and corks every message (bpf/sockframe_send.bpf.h).
#include "send/kernel_sender.hpp"

#include "sockframe_abi.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace sockframe {
namespace {

uint64_t socket_cookie(int fd) {
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return 0;
    return cookie;
}

class KernelSendSocket final : public SendSocket {
public:
    KernelSendSocket(std::shared_ptr<const SendProgram> program, std::shared_ptr<const Description> d, int fd)
        : SendSocket(fd), program_(std::move(program)), desc_(std::move(d)), cookie_(socket_cookie(fd)) {
        if (!cookie_) throw std::system_error(errno, std::generic_category(), "sockframe: send side: not a socket");
        // The state first: the program lets a socket without state pass unchecked.
        if (!program_->conns().update(fd, sf_send_conn{}))
            throw std::system_error(errno, std::generic_category(), "sockframe: send side: socket state");
        if (int err = program_->sockets().insert(cookie_, fd)) {
            program_->conns().erase(fd);
            throw std::system_error(err, std::generic_category(),
                                    "sockframe: send side: the socket cannot join the send sockhash "
                                    "(an established TCP socket is needed)");
        }
    }
    ~KernelSendSocket() override {
        program_->sockets().erase(cookie_);
        // The state goes with the socket; erase it now only if the fd is still ours.
        if (socket_cookie(socket()) == cookie_) program_->conns().erase(socket());
    }
    const char* mode() const override { return "kernel"; }
    SendStats stats() const override {
        SendStats s;
        if (auto st = program_->conns().lookup(socket())) {
            s.messages = st->messages;
            s.bytes = st->bytes;
            s.corks = st->corks;
            s.uncorked = st->uncorked;
            s.calls = st->calls;
        }
        return s;
    }

protected:
    std::optional<FramingError> check(std::span<const uint8_t>) override { return std::nullopt; }
    size_t writes_for(size_t pieces) const override { return pieces; }
    FramingError rejection() override {
        auto st = program_->conns().lookup(socket());
        if (!st || !st->error)
            return make_connection_error(offset(), "the kernel refused the send (EACCES) without a recorded rule");
        if (st->error >= SF_ERR_TOO_LONG && st->error <= SF_ERR_BAD_PREFACE)
            return make_error(*desc_, static_cast<FramingErrorKind>(st->error), st->error_value, st->error_offset);
        FramingError e = make_error(*desc_, FramingErrorKind::kernel, st->error_value, st->error_offset);
        if (st->error == SF_ERR_SEND_READ)
            e.message = "the send program could not read the bytes it had to scan (bpf_msg_pull_data failed)";
        else
            e.message = "the send program could not read the length within " + std::to_string(SF_SEND_WINDOW) +
                        " header bytes";
        return e;
    }

private:
    std::shared_ptr<const SendProgram> program_;
    std::shared_ptr<const Description> desc_;
    uint64_t cookie_;
};

}  // namespace

std::unique_ptr<SendSocket> KernelSender::attach(int fd) {
    return std::make_unique<KernelSendSocket>(program_, desc_, fd);
}

}  // namespace sockframe
