// The real kernel path against the userspace framer: random descriptions x random
// streams sent over loopback TCP in random chunks to a socket adopted by
// open_receiver(d, {Mode::kernel}), received until end or error, and compared
// message by message (bytes and offsets) and by the final error or truncation.
// Only the library's kernel path is used (egress redirect to a delivery socket;
// never a redirect into the same socket's ingress). See docs/differential.md.
//
//   SOCKFRAME_KDIFF_CASES         streams (default 200)
//   SOCKFRAME_KDIFF_DESCRIPTIONS  random descriptions (default max(8, CASES / 25))
//   SOCKFRAME_KDIFF_SEED          seed (default 1)
//   SOCKFRAME_KDIFF_TIMEOUT       hard limit for the whole run in seconds (default 240)
//   SOCKFRAME_KDIFF_PRESEND=0     never send the first chunk before adopt() (default: one
//                                 stream in five has data queued before the socket joins the map)
//
// Exit code 77 (meson: SKIP) with "SKIPPED: <reason>" without CAP_BPF/CAP_NET_ADMIN.
// Fails if the kernel log gains BUG/WARNING/"seq # bug" lines during the run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <sockframe/bpf_codegen.hpp>
#include "load/parser_program.hpp"
#include <sockframe/description.hpp>
#include "diff_lib.hpp"
#include "description/message_builder.hpp"
#include <sockframe/receiver.hpp>
#include <sockframe/userspace_framer.hpp>

using namespace sockframe;
using namespace sockframe::diff;

namespace {

// What the run is doing, for the hard-timeout message (written from a signal handler).
char g_current[256] = "starting";

void set_current(const std::string& what) {
    std::snprintf(g_current, sizeof g_current, "%s", what.c_str());
}

const char* const kLogMarks = "kernel BUG|WARNING: CPU|seq # bug|BUG: |Oops";

std::vector<std::string> kernel_log_marks() {
    std::string cmd = std::string("dmesg 2>/dev/null | grep -E '") + kLogMarks + "'";
    std::vector<std::string> lines;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return lines;
    char buf[1024];
    while (fgets(buf, sizeof buf, p)) lines.emplace_back(buf);
    pclose(p);
    return lines;
}

struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) close(fd);
    }
    int release() {
        int f = fd;
        fd = -1;
        return f;
    }
};

struct Listener {
    Fd fd;
    sockaddr_in addr{};
    Listener() : fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd.fd < 0 || bind(fd.fd, reinterpret_cast<sockaddr*>(&addr), len) || listen(fd.fd, 64) ||
            getsockname(fd.fd, reinterpret_cast<sockaddr*>(&addr), &len))
            throw std::runtime_error(std::string("loopback listener: ") + std::strerror(errno));
    }
};

// Sends with a deadline: false if the peer stopped taking data (the kernel parser
// stopped after an error, or a stall; the comparison tells which).
bool send_all(int fd, const uint8_t* p, size_t n, std::chrono::steady_clock::time_point deadline) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            pollfd pf{fd, POLLOUT, 0};
            poll(&pf, 1, 20);
            continue;
        }
        if (w < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

struct Result {
    double ms = 0;  // from the client's close to the end of receiving
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> messages;
    enum End { clean, failed, timeout } end = clean;
    FramingError error;
};

std::string describe(const Result& r) {
    switch (r.end) {
    case Result::clean: return "clean end";
    case Result::timeout: return "TIMEOUT (stall)";
    case Result::failed:
        return std::string(kind_name(r.error.kind)) + " value " + std::to_string(r.error.value) + " needed " +
               std::to_string(r.error.needed) + " at offset " + std::to_string(r.error.offset) + " (" + r.error.message + ")";
    }
    return "?";
}

// The reference: the userspace framer over the whole stream.
Result reference(const Description& d, const std::vector<uint8_t>& stream) {
    Result r;
    UserspaceFramer f(d);
    f.feed(stream);
    for (;;) {
        auto n = f.next();
        if (n.status == UserspaceFramer::Status::message) {
            r.messages.emplace_back(n.message.offset, std::vector<uint8_t>(n.message.bytes.begin(), n.message.bytes.end()));
            continue;
        }
        if (n.status == UserspaceFramer::Status::error) {
            r.end = Result::failed;
            r.error = *n.error;
        } else if (auto e = f.finish()) {
            r.end = Result::failed;
            r.error = *e;
        }
        return r;
    }
}

// `presend`: send the first chunk before adopt() (data queued before the socket
// joins the map): 1 yes, 0 no, -1 at random (one in five).
Result through_kernel(Receiver& receiver, const Listener& l, const Case& c, std::mt19937_64& rng, bool& kernel_mode,
                      int presend = -1) {
    Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(client.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(client.fd, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr))
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    Fd server(accept4(l.fd.fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (server.fd < 0) throw std::runtime_error(std::string("accept: ") + std::strerror(errno));

    size_t pos = 0, chunk = 0;
    auto send_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    // Sometimes the first chunk is already queued when the socket joins the map.
    if (!c.chunks.empty() && (presend < 0 ? rng() % 5 == 0 : presend == 1)) {
        send_all(client.fd, c.stream.data(), c.chunks[0], send_deadline);
        pos = c.chunks[0];
        chunk = 1;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    auto conn = receiver.adopt(server.release());
    kernel_mode = std::string(conn->mode()) == "kernel";
    for (; chunk < c.chunks.size(); chunk++) {
        if (!send_all(client.fd, c.stream.data() + pos, c.chunks[chunk], send_deadline)) break;
        pos += c.chunks[chunk];
        if (rng() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
    close(client.release());

    Result r;
    conn->set_nonblocking(true);
    auto closed = std::chrono::steady_clock::now();
    auto deadline = closed + std::chrono::seconds(5);
    struct Stamp {
        Result& r;
        std::chrono::steady_clock::time_point t0;
        ~Stamp() { r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(); }
    } stamp{r, closed};
    for (;;) {
        Received got = conn->receive();
        if (got.status == ReceiveStatus::message) {
            r.messages.emplace_back(got.message.offset,
                                    std::vector<uint8_t>(got.message.bytes.begin(), got.message.bytes.end()));
            continue;
        }
        if (got.status == ReceiveStatus::error) {
            r.end = Result::failed;
            r.error = *got.error;
            return r;
        }
        if (got.status == ReceiveStatus::end) return r;
        if (std::chrono::steady_clock::now() > deadline) {
            r.end = Result::timeout;
            return r;
        }
        pollfd p{conn->poll_fd(), POLLIN, 0};
        poll(&p, 1, 20);
    }
}

// Same messages (bytes and offsets), same end (kind, value, needed, offset, text).
std::string compare(const Result& k, const Result& u) {
    size_t n = std::min(k.messages.size(), u.messages.size());
    for (size_t i = 0; i < n; i++)
        if (k.messages[i] != u.messages[i])
            return "message " + std::to_string(i) + " differs: kernel offset " + std::to_string(k.messages[i].first) +
                   " length " + std::to_string(k.messages[i].second.size()) + ", framer offset " +
                   std::to_string(u.messages[i].first) + " length " + std::to_string(u.messages[i].second.size());
    if (k.messages.size() != u.messages.size())
        return "kernel delivered " + std::to_string(k.messages.size()) + " messages, framer " +
               std::to_string(u.messages.size()) + "; kernel end: " + describe(k) + "; framer end: " + describe(u) +
               " (kernel result " + std::to_string(static_cast<long>(k.ms)) + " ms after the client closed)";
    if (k.end != u.end ||
        (k.end == Result::failed && (k.error.kind != u.error.kind || k.error.value != u.error.value ||
                                    k.error.offset != u.error.offset || k.error.needed != u.error.needed ||
                                    k.error.message != u.error.message)))
        return "kernel end: " + describe(k) + "; framer end: " + describe(u) + " (kernel result " +
               std::to_string(static_cast<long>(k.ms)) + " ms after the client closed)";
    return "";
}

// Data queued before adopt(): one stream in five (-1), or never with SOCKFRAME_KDIFF_PRESEND=0.
int presend_mode() { return env_u64("SOCKFRAME_KDIFF_PRESEND", 1) ? -1 : 0; }

// Busy threads for the duration of a scope: the kstrp workqueue then runs late,
// as on a loaded machine.
struct CpuLoad {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    explicit CpuLoad(unsigned n) {
        for (unsigned i = 0; i < n; i++)
            threads.emplace_back([this] {
                volatile uint64_t x = 0;
                while (!stop.load(std::memory_order_relaxed)) x = x + 1;
            });
    }
    ~CpuLoad() {
        stop = true;
        for (auto& t : threads) t.join();
    }
};

struct Regression {
    const char* name;
    const char* toml;
    const char* stream_hex;
    std::vector<size_t> chunks;
    uint32_t batch_max_msgs;
    uint32_t batch_max_bytes;
};

// Every host regression, and the cases the kernel runs found, through the real kernel.
const Regression kRegressions[] = {
#include "regressions.inc"
#include "kernel_regressions.inc"
};

std::unique_ptr<Receiver> kernel_receiver(const Description& d, Caps caps) {
    ReceiverOptions o;
    o.mode = Mode::kernel;
    o.load.batch_max_msgs = caps.max_msgs;
    o.load.batch_max_bytes = caps.max_bytes;
    return open_receiver(d, o);
}

// Runs `r` through the kernel `rounds` times; returns the number of failing rounds.
int replay_in_kernel(const Regression& r, Receiver& receiver, const Listener& listener, int presend, int rounds,
                     std::mt19937_64& rng, std::string& problem) {
    Description d = parse_description(r.toml, std::string(r.name) + ".toml");
    Case c{from_hex(r.stream_hex), r.chunks, {r.batch_max_msgs, r.batch_max_bytes}};
    Result want = reference(d, c.stream);
    int failures = 0;
    for (int round = 0; round < rounds; round++) {
        set_current(std::string("regression ") + r.name);
        bool kernel_mode = false;
        Result got = through_kernel(receiver, listener, c, rng, kernel_mode, presend);
        std::string p = compare(got, want);
        if (!kernel_mode) p = "not framed by the kernel path";
        if (!p.empty()) {
            failures++;
            problem = p;
        }
    }
    return failures;
}

}  // namespace

// Was known bug K5 (fixed in 46caaf7): after the peer closed,
// KernelConnection::settle() waited for strparser with SIOCINQ, which for a
// socket in a sockmap reports the psock's ingress queue (0 here), not the TCP
// queue; when the kstrp workqueue ran late (CPU load; data queued before
// adopt()), the last whole messages were reported as a truncated tail.
TEST_CASE("K5: a close right after the last message is not reported as truncation under load") {
    Listener listener;
    std::mt19937_64 rng(5);
    const int rounds = static_cast<int>(env_u64("SOCKFRAME_KDIFF_K5_ROUNDS", 100));
    for (const Regression& r : kRegressions) {
        if (std::string(r.name) != "kdiff-1-4-split-known-length") continue;
        Description d = parse_description(r.toml, std::string(r.name) + ".toml");
        auto receiver = kernel_receiver(d, {r.batch_max_msgs, r.batch_max_bytes});
        std::string problem;
        int failures;
        {
            CpuLoad load(4);
            failures = replay_in_kernel(r, *receiver, listener, 1, rounds, rng, problem);
        }
        CHECK_MESSAGE(failures == 0, std::string(r.name) << ", first chunk queued before adopt(), 4 busy threads: failed "
                                                        << failures << " of " << rounds << " rounds: " << problem);
    }
}

// Was known bug K6 (fixed in 46caaf7): the kernel receiver sized the socket's
// receive buffer from max_message and batch_max_bytes only; a [first_length]
// message may be larger (its own max_message), and strparser refuses any message
// above sk_rcvbuf with EMSGSIZE.
TEST_CASE("K6: a first_length message above max_message is framed by the kernel") {
    Listener listener;
    std::mt19937_64 rng(6);
    const char* toml =
        "name = \"big-first\"\nmax_message = 64\n[delimiter]\ntext = \"\\n\"\n"
        "[first_length]\nwidth = 4\nheader = 0\nmax_message = 1048576\n";
    Description d = parse_description(toml, "big-first.toml");
    Case c;
    c.stream = build_first_message(d, 300000, rng);
    REQUIRE(c.stream.size() > 200000);
    for (const char* line : {"hello\n", "world\n"}) c.stream.insert(c.stream.end(), line, line + 6);
    for (size_t left = c.stream.size(); left;) {
        size_t n = std::min<size_t>(left, 16384);
        c.chunks.push_back(n);
        left -= n;
    }
    auto receiver = kernel_receiver(d, c.caps);
    bool kernel_mode = false;
    Result got = through_kernel(*receiver, listener, c, rng, kernel_mode, 0);
    Result want = reference(d, c.stream);
    REQUIRE(want.messages.size() == 3);
    std::string problem = compare(got, want);
    CHECK_MESSAGE(problem.empty(), "a " << c.stream.size() - 12 << "-byte first message: " << problem);
}

TEST_CASE("kernel path: regression cases replayed through the kernel") {
    const int rounds = static_cast<int>(env_u64("SOCKFRAME_KDIFF_REGRESSION_ROUNDS", 3));
    Listener listener;
    std::mt19937_64 rng(1);
    for (const Regression& r : kRegressions) {
        Description d = parse_description(r.toml, std::string(r.name) + ".toml");
        auto receiver = kernel_receiver(d, {r.batch_max_msgs, r.batch_max_bytes});
        for (int presend = 0; presend <= (presend_mode() ? 1 : 0); presend++) {
            std::string problem;
            int failures = replay_in_kernel(r, *receiver, listener, presend, rounds, rng, problem);
            std::string label = std::string(r.name) + (presend ? " (first chunk queued before adopt)" : "");
            CHECK_MESSAGE(failures == 0, label << ": failed " << failures << " of " << rounds << " rounds: " << problem);
        }
    }
}

TEST_CASE("kernel path == userspace framer on random descriptions, streams and chunkings") {
    const uint64_t total = env_u64("SOCKFRAME_KDIFF_CASES", 200);
    const uint64_t n_desc = env_u64("SOCKFRAME_KDIFF_DESCRIPTIONS", std::max<uint64_t>(8, total / 25));
    const uint64_t seed = env_u64("SOCKFRAME_KDIFF_SEED", 1);
    std::mt19937_64 rng(seed);
    Listener listener;
    auto start = std::chrono::steady_clock::now();

    uint64_t cases = 0, messages = 0, mismatches = 0, per_message = 0;
    std::map<std::string, uint64_t> ends;
    for (uint64_t i = 0; i < n_desc; i++) {
        std::string name = "kdiff-" + std::to_string(seed) + "-" + std::to_string(i);
        GenLimits limits;
        limits.max_message_cap = 1 << 20;  // the receive buffer grows with max_message
        std::string toml = random_description_toml(rng, name, limits);
        Description d = parse_description(toml, name + ".toml");
        bool per_msg = i % 2 == 0;
        Caps caps = random_caps(rng, per_msg);
        std::unique_ptr<Receiver> receiver;
        try {
            receiver = kernel_receiver(d, caps);
        } catch (const std::exception& e) {
            FAIL_CHECK("description " << name << " does not load on the kernel path: " << e.what() << "\n" << toml);
            mismatches++;
            continue;
        }
        REQUIRE(std::string(receiver->mode()) == "kernel");
        uint64_t want = total / n_desc + (i < total % n_desc ? 1 : 0);
        std::printf("description %llu/%llu %s: %s, batch_max_msgs %u, batch_max_bytes %u, %llu streams\n",
                    (unsigned long long)i + 1, (unsigned long long)n_desc, name.c_str(),
                    d.is_length() ? "length" : "delimiter", caps.max_msgs, caps.max_bytes, (unsigned long long)want);
        std::fflush(stdout);
        for (uint64_t k = 0; k < want; k++) {
            Case c;
            // Mostly small streams; now and then up to 300 KB (large messages, many skbs).
            c.stream = random_stream(d, rng, rng() % 30 == 0 ? 300000 : 8000);
            c.chunks = random_chunks(c.stream.size(), rng);
            // Tiny segments cost a system call each: coarsen very long drips.
            if (c.chunks.size() > 600) c.chunks = {c.stream.size()};
            c.caps = caps;
            set_current("description " + name + ", stream " + std::to_string(k) + " (" + std::to_string(c.stream.size()) +
                        " bytes in " + std::to_string(c.chunks.size()) + " chunks)");
            bool kernel_mode = false;
            Result kr = through_kernel(*receiver, listener, c, rng, kernel_mode, presend_mode());
            Result ur = reference(d, c.stream);
            std::string problem = compare(kr, ur);
            if (!kernel_mode) problem = "the connection was not framed by the kernel path";
            cases++;
            per_message += per_msg;
            messages += ur.messages.size();
            ends[kr.end == Result::failed ? kind_name(kr.error.kind) : describe(kr)]++;
            if (!problem.empty()) {
                mismatches++;
                Verdict v;
                v.ok = false;
                v.category = "kernel";
                v.problem = problem;
                std::printf("KERNEL MISMATCH (description %s, stream %llu): %s\nreproduction (also replayable in the host "
                            "suite via tests/differential/regressions.inc):\n%s\n",
                            name.c_str(), (unsigned long long)k, problem.c_str(), format_repro(name, toml, c, v).c_str());
                CHECK_MESSAGE(problem.empty(), problem);
            }
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("kernel differential: %llu cases (%llu per-message, %llu batch) over %llu descriptions, %llu messages, "
                "seed %llu, %.1f s, %llu mismatches\n",
                (unsigned long long)cases, (unsigned long long)per_message, (unsigned long long)(cases - per_message),
                (unsigned long long)n_desc, (unsigned long long)messages, (unsigned long long)seed, secs,
                (unsigned long long)mismatches);
    std::printf("  endings:");
    for (auto& [e, n] : ends) std::printf(" %s=%llu", e.c_str(), (unsigned long long)n);
    std::printf("\n");
    CHECK(mismatches == 0);
}

extern "C" void on_alarm(int) {
    const char msg[] = "\nTIMEOUT: the kernel differential test hit its hard time limit (stalled connection?) during: ";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    ignored = write(2, g_current, strnlen(g_current, sizeof g_current));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(1);
}

int main(int argc, char** argv) {
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty()) {
        std::printf("SKIPPED: the kernel differential test needs %s (run as root)\n", missing.c_str());
        return 77;
    }
    std::signal(SIGALRM, on_alarm);
    alarm(static_cast<unsigned>(env_u64("SOCKFRAME_KDIFF_TIMEOUT", 240)));
    auto before = kernel_log_marks();
    doctest::Context ctx(argc, argv);
    int rc = ctx.run();
    auto after = kernel_log_marks();
    if (after.size() > before.size()) {
        std::printf("FAIL: the kernel logged new BUG/WARNING lines during the run:\n");
        for (size_t i = before.size(); i < after.size(); i++) std::printf("  %s", after[i].c_str());
        return 1;
    }
    return rc;
}
