#include "receive/uring_probe.hpp"

#include "build_config.hpp"

#if SOCKFRAME_HAVE_IO_URING
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "receive/uring_engine.hpp"
#include "support/loopback.hpp"
#endif

namespace sockframe {

#if SOCKFRAME_HAVE_IO_URING
namespace {

std::string disabled_by_sysctl() {
    std::ifstream f("/proc/sys/kernel/io_uring_disabled");
    int v = 0;
    if (!(f >> v) || v == 0) return "";
    // 1: only for CAP_SYS_ADMIN or members of kernel.io_uring_group; io_uring_setup says whether we are.
    if (v == 2) return "io_uring is disabled (/proc/sys/kernel/io_uring_disabled = 2)";
    return "";
}

std::string setup_error(int err) {
    std::string s = std::string("io_uring_setup failed: ") + strerror(err);
    if (err == EPERM) s += " (kernel.io_uring_disabled = 1 and not in kernel.io_uring_group, or a seccomp filter)";
    if (err == ENOSYS) s += " (kernel built without CONFIG_IO_URING, or a seccomp filter)";
    return s;
}

// The whole engine once on a loopback connection: a byte written by the peer must
// come back through the multishot receive, with the receive still armed after it.
std::string probe() {
    if (std::string s = disabled_by_sysctl(); !s.empty()) return s;
    io_uring ring;
    int r = io_uring_queue_init(2, &ring, 0);
    if (r < 0) return setup_error(-r);
    io_uring_probe* p = io_uring_get_probe_ring(&ring);
    bool recv_ok = p && io_uring_opcode_supported(p, IORING_OP_RECV);
    if (p) io_uring_free_probe(p);
    io_uring_queue_exit(&ring);
    if (!recv_ok) return "io_uring has no IORING_OP_RECV (Linux 5.6+ needed)";

    sockaddr_in addr{};
    Fd listener = loopback_listener(addr, 1);
    if (listener.fd < 0) return std::string("probe: loopback listener: ") + strerror(errno);
    Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (client.fd < 0 || connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return std::string("probe: loopback connect: ") + strerror(errno);
    Fd server(accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (server.fd < 0) return std::string("probe: accept: ") + strerror(errno);

    std::string why;
    auto engine = UringEngine::open(server.fd, why);
    if (!engine) return why;
    uint8_t out[3] = {'s', 'f', '!'}, in[8] = {};
    size_t got = 0;
    for (int round = 0; round < 2; round++) {  // twice: the receive must stay armed (multishot, 6.0+)
        if (!send_all(client.fd, out, sizeof out)) return std::string("probe: send: ") + strerror(errno);
        for (int tries = 0; tries < 100 && got < (round + 1) * sizeof out; tries++) {
            pollfd pf{engine->poll_fd(), POLLIN, 0};
            poll(&pf, 1, 10);
            auto g = engine->read({in, sizeof in});
            if (g.kind == UringEngine::Got::failed)
                return std::string("multishot receive failed: ") + strerror(g.error) +
                       (g.error == EINVAL ? " (IORING_RECV_MULTISHOT needs Linux 6.0)" : "");
            if (g.kind == UringEngine::Got::end) return "probe: unexpected end of stream";
            if (g.kind == UringEngine::Got::data) {
                if (g.bytes != sizeof out || std::memcmp(in, out, sizeof out) != 0)
                    return "multishot receive returned different bytes than were sent";
                got += g.bytes;
            }
        }
    }
    if (got != 2 * sizeof out) return "multishot receive delivered nothing within a second";
    return "";
}

}  // namespace

const std::string& uring_unavailable_reason() {
    static const std::string reason = probe();
    return reason;
}
#else
const std::string& uring_unavailable_reason() {
    static const std::string reason = "sockframe was built without liburing (meson -Dio_uring)";
    return reason;
}
#endif

}  // namespace sockframe
