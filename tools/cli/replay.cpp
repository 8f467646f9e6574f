// `sockframe replay`: drive a server with a captured stream through the send side.
// Framed in userspace and sent message by message (each starting a sendmsg, in
// --pieces writes), or with --raw as the file's bytes in --chunk writes, framed and
// enforced by the kernel send program alone.
#include <linux/tcp.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include <sockframe/sender.hpp>
#include <sockframe/userspace_framer.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int connect_to(const std::string& spec) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--connect wants HOST:PORT, got \"" + spec + "\"");
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = getaddrinfo(spec.substr(0, colon).c_str(), spec.substr(colon + 1).c_str(), &hints, &res))
        throw std::invalid_argument("--connect " + spec + ": " + gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        int e = errno;
        freeaddrinfo(res);
        throw std::runtime_error("cannot connect to " + spec + ": " + std::strerror(e));
    }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // no Nagle: the send side corks
    return fd;
}

uint64_t segments_out(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_data_segs_out : 0;
}

// Says we are done and reads what the server still sends back (an echo) until it
// closes or is quiet for a second, so closing does not reset the connection under it.
uint64_t finish(int fd) {
    shutdown(fd, SHUT_WR);
    uint64_t back = 0;
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        back += static_cast<uint64_t>(n);
    }
    return back;
}

struct Totals {
    uint64_t messages = 0, bytes = 0;
};

void print_summary(Format f, const char* mode, const Totals& t, uint64_t segments, uint64_t back, bool ok) {
    if (f == Format::jsonl)
        std::printf(
            "{\"summary\":{\"mode\":\"%s\",\"messages\":%llu,\"bytes\":%llu,\"segments\":%llu,\"received\":%llu,"
            "\"ok\":%s}}\n",
            mode, static_cast<unsigned long long>(t.messages), static_cast<unsigned long long>(t.bytes),
            static_cast<unsigned long long>(segments), static_cast<unsigned long long>(back), ok ? "true" : "false");
    else
        std::printf("%llu messages, %llu bytes sent (%s send side) in %llu segments; %llu bytes came back\n",
                    static_cast<unsigned long long>(t.messages), static_cast<unsigned long long>(t.bytes), mode,
                    static_cast<unsigned long long>(segments), static_cast<unsigned long long>(back));
}

int run(const Args& a) {
    Description d = a.description();
    Format f = a.format();
    if (a.positional().size() < 2) usage_error(a.command(), "replay needs a FILE");
    std::string connect = a.value("--connect");
    if (connect.empty()) usage_error(a.command(), "replay needs --connect HOST:PORT");
    std::ifstream in(a.positional()[1], std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.positional()[1]);
    std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t pieces = a.number("--pieces", 1), chunk = a.number("--chunk", 4096);
    unsigned gap = static_cast<unsigned>(a.number("--gap-us", 0));
    if (!pieces || !chunk) usage_error(a.command(), "--pieces and --chunk must be at least 1");

    SenderOptions o;
    o.mode = a.flag("--userspace") ? Mode::userspace : a.flag("--require-kernel") ? Mode::kernel : Mode::automatic;
    auto sender = open_sender(d, o);
    int fd = connect_to(connect);
    auto side = sender->attach(fd);
    side->set_piece_gap_us(gap);
    uint64_t segs_before = segments_out(fd);
    Totals t;
    std::optional<FramingError> error;

    UserspaceFramer framer(d);
    framer.feed(file);
    bool raw_kernel = a.flag("--raw") && std::string(side->mode()) == "kernel";
    if (raw_kernel) {
        // The file's bytes as they are, in --chunk writes: the kernel alone frames.
        for (size_t off = 0; off < file.size() && !error; off += chunk) {
            size_t n = std::min(chunk, file.size() - off);
            SendResult r = side->write_raw(std::span<const uint8_t>(file.data() + off, n));
            if (r.status == SendStatus::malformed || r.status == SendStatus::closed) {
                error = r.error ? *r.error : make_connection_error(off, std::strerror(r.sys_errno));
                break;
            }
            if (gap) usleep(gap);
        }
        if (!error) t.bytes = file.size();
        t.messages = side->stats().messages;
        if (error) t.bytes = error->offset;
    } else {
        // Framed here first; with --raw (userspace twin) the whole messages go in --chunk writes.
        for (;;) {
            UserspaceFramer::Result r = framer.next();
            if (r.status == UserspaceFramer::Status::error) {
                error = *r.error;
                break;
            }
            if (r.status != UserspaceFramer::Status::message) {
                if (auto tail = framer.finish()) error = tail;
                break;
            }
            SendResult s = side->send_pieces(r.message.bytes,
                                             a.flag("--raw") ? (r.message.bytes.size() + chunk - 1) / chunk : pieces);
            if (s.status != SendStatus::sent) {
                error = s.error ? *s.error : make_connection_error(t.bytes, std::strerror(s.sys_errno));
                break;
            }
            t.messages++;
            t.bytes += r.message.bytes.size();
        }
    }
    uint64_t segments = segments_out(fd) - segs_before;
    side.reset();
    uint64_t back = finish(fd);
    close(fd);
    if (error) print_error(stdout, f, -1, *error);
    print_summary(f, sender->mode(), t, segments, back, !error);
    return error ? 1 : 0;
}

}  // namespace

const Command replay_command{
    "replay",
    "DESCRIPTION FILE --connect HOST:PORT [options]",
    "send a captured stream to a server through the send side",
    {
        {"--connect", "HOST:PORT", "the server to drive"},
        {"--pieces", "N", "write each message in N pieces (each message starts a sendmsg); default 1"},
        {"--chunk", "BYTES", "--raw: write the file in writes of BYTES; default 4096"},
        {"--gap-us", "US", "sleep between pieces (or --raw chunks)"},
        {"--raw", "",
         "no userspace framing: the file's bytes as they are; the kernel send program alone frames and\n"
         "enforces (at the first malformed message the server has received exactly the whole messages\n"
         "before it, when its header lies within one write)"},
        {"--userspace", "", "frame and check in userspace (no privileges)"},
        {"--require-kernel", "", "fail instead of falling back to userspace"},
        {"--format", "text|jsonl", "an error as {\"error\":...,\"rule\":...,\"offset\":N}; a summary line"},
    },
    run};

}  // namespace sockframe::cli
