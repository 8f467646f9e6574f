// Connection::send(): the receive plane's connection writing through the send side.
#include <sockframe/connection.hpp>
#include <sockframe/sender.hpp>

namespace sockframe {

SendResult Connection::send(std::span<const uint8_t> message) {
    if (!send_side_) send_side_ = make_userspace_sender(desc_)->attach(socket_);
    return send_side_->send(message);
}

}  // namespace sockframe
