// open_sender(): the kernel send program when it loads and passes its start-up
// probe, else the userspace twin with one warning line saying why.
#include <sockframe/sender.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <stdexcept>

#include "send/kernel_sender.hpp"
#include "support/loopback.hpp"

namespace sockframe {
namespace {

// The smallest message the rule allows, or empty when none is easy to make.
std::vector<uint8_t> probe_message(const Description& d) {
    if (!d.is_length()) {  // one byte that cannot start the delimiter, then the delimiter
        const std::string& delim = d.delimiter().bytes;
        std::string msg = (delim[0] == 'a' ? "b" : "a") + delim;
        return std::vector<uint8_t>(msg.begin(), msg.end());
    }
    const LengthField& f = d.length();
    const UintLength* u = f.as_uint();
    if (!u || u->conditional() || !d.magic.empty() || !f.magic.empty() || f.scale != 1 || u->has_mask || u->shift ||
        !f.special_values.empty() || !d.trailer.empty())
        return {};
    uint64_t total = std::max<uint64_t>(f.effective_min(), u->header);
    if (total > 4096 || total < u->header) return {};
    std::vector<uint8_t> msg(total, 0x5a);
    uint64_t v = total - u->header;
    for (uint32_t i = 0; i < u->width; i++) {
        uint32_t shift = 8 * (u->byte_order == ByteOrder::big ? u->width - 1 - i : i);
        msg[f.offset + i] = static_cast<uint8_t>(shift < 64 ? v >> shift : 0);
    }
    return msg;
}

// Carries two messages through a throwaway loopback connection the way that stalls a
// socket if the send side corks after an apply (message 1 and the first byte of
// message 2 in one write, then the rest), and checks every byte arrives ("" when no
// probe message is easy to make: skip).
std::string probe(Sender& sender, const Description& d) {
    std::vector<uint8_t> msg = probe_message(d);
    if (msg.size() < 2) return {};
    const size_t total = msg.size();
    sockaddr_in addr{};
    Fd listener = loopback_listener(addr, 1);
    if (listener.fd < 0) return "no loopback listener";
    Fd client(socket(AF_INET, SOCK_STREAM, 0));
    if (connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "loopback connect failed";
    Fd server(accept(listener.fd, nullptr, nullptr));
    if (server.fd < 0) return "loopback accept failed";
    std::vector<uint8_t> stream(msg);
    stream.insert(stream.end(), msg.begin(), msg.end());
    {
        auto s = sender.attach(client.fd);
        if (!send_all(client.fd, stream.data(), total + 1)) return "the first write failed";
        if (!send_all(client.fd, stream.data() + total + 1, total - 1)) return "the second write failed";
        SendResult r = s->send(msg);
        if (r.status != SendStatus::sent) return "a whole message after a split one was refused";
    }
    std::vector<uint8_t> got;
    uint8_t buf[8192];
    while (got.size() < 3 * total) {
        pollfd p{server.fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) return "the stream stalled after " + std::to_string(got.size()) + " bytes";
        ssize_t n = recv(server.fd, buf, sizeof buf, 0);
        if (n <= 0) return "the peer saw the stream end early";
        got.insert(got.end(), buf, buf + n);
    }
    stream.insert(stream.end(), msg.begin(), msg.end());
    if (got != stream) return "bytes arrived changed";
    return {};
}

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

}  // namespace

std::unique_ptr<Sender> open_sender(const Description& d, const SenderOptions& o) {
    auto desc = std::make_shared<const Description>(d);
    if (o.mode == Mode::userspace) return make_userspace_sender(desc);
    try {
        SendSideSupport s = send_side_support(d);
        if (!s.kernel) throw BpfLoadError(s.kernel_reason, EOPNOTSUPP);
        auto sender = std::make_unique<KernelSender>(desc, load_send_program(d, o));
        if (std::string failed = probe(*sender, d); !failed.empty())
            throw BpfLoadError("the send side failed its start-up probe on this kernel: " + failed, EIO);
        return sender;
    } catch (const std::exception& e) {
        if (o.mode == Mode::kernel) throw;
        std::string line =
            "sockframe: warning: kernel send side unavailable, framing sends in userspace: " + first_line(e.what());
        if (o.warn)
            o.warn(line);
        else
            std::cerr << line << std::endl;
        return make_userspace_sender(desc);
    }
}

}  // namespace sockframe
