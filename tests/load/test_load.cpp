// Load test: N connections x M messages of random sizes, sent in random chunkings,
// through the kernel path; every message carries (connection, sequence, checksum)
// so any lost, duplicated, reordered or corrupted byte fails the run.
//
//   CI size:   200 x 1,000 (meson test --suite load)
//   full run:  SOCKFRAME_LOAD_FULL=1            -> 1,000 x 10,000
//   custom:    SOCKFRAME_LOAD_CONNS=N SOCKFRAME_LOAD_MESSAGES=M SOCKFRAME_LOAD_SEED=S
//   path:      SOCKFRAME_LOAD_USERSPACE=1 runs the same load through the userspace framer
#include <fcntl.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <thread>

#include "../kernel/kernel_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

constexpr uint32_t kHeader = 4 + 4 + 4 + 8;  // length, connection, sequence, checksum
constexpr uint32_t kMaxMessage = 32768;

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Random sizes: mostly small, a quarter medium, a few large.
uint32_t random_size(std::mt19937_64& r) {
    uint32_t k = r() % 100;
    if (k < 70) return kHeader + r() % 240;
    if (k < 95) return 256 + r() % 3840;
    return 4096 + r() % (kMaxMessage - 4096 + 1);
}

void append_message(std::vector<uint8_t>& out, uint32_t conn, uint32_t seq, std::mt19937_64& r) {
    uint32_t size = random_size(r);
    size_t at = out.size();
    out.resize(at + size);
    uint8_t* m = out.data() + at;
    put32(m, size - 4);
    put32(m + 4, conn);
    put32(m + 8, seq);
    for (uint32_t i = kHeader; i < size; i++) m[i] = static_cast<uint8_t>(r());
    uint64_t h = fnv1a(m + 4, 8) ^ fnv1a(m + kHeader, size - kHeader) * 31;
    for (int i = 0; i < 8; i++) m[12 + i] = static_cast<uint8_t>(h >> (56 - 8 * i));
}

struct Conn {
    int client = -1;
    std::unique_ptr<Connection> conn;
    std::mt19937_64 rng;
    std::vector<uint8_t> pending;  // generated, not yet sent
    size_t sent_pos = 0;
    uint32_t generated = 0, received = 0;
    uint64_t next_offset = 0, bytes = 0;
    bool closed = false, ended = false;
};

}  // namespace

int main() {
    std::string missing = missing_kernel_capabilities();
    bool userspace = env_u64("SOCKFRAME_LOAD_USERSPACE", 0) != 0;
    if (!missing.empty() && !userspace) {
        std::printf("SKIPPED: the load test runs the kernel path and needs %s (run as root)\n", missing.c_str());
        return 77;
    }
    bool full = env_u64("SOCKFRAME_LOAD_FULL", 0) != 0;
    uint32_t nconn = static_cast<uint32_t>(env_u64("SOCKFRAME_LOAD_CONNS", full ? 1000 : 200));
    uint32_t nmsg = static_cast<uint32_t>(env_u64("SOCKFRAME_LOAD_MESSAGES", full ? 10000 : 1000));
    uint64_t seed = env_u64("SOCKFRAME_LOAD_SEED", 20261127);
    unsigned limit = static_cast<unsigned>(env_u64("SOCKFRAME_LOAD_TIMEOUT", full ? 3000 : 110));
    alarm(limit);  // hard bound: a stall kills the run
    signal(SIGPIPE, SIG_IGN);
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    std::string marks_before = kernel_log_marks();

    Description d = parse_description(
        "name = \"load\"\nsummary = \"load test frames\"\nmax_message = 32768\n"
        "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\nmin_message = 20\n",
        "load.toml");
    ReceiverOptions o;
    o.mode = userspace ? Mode::userspace : Mode::kernel;
    o.load.max_connections = std::max<uint32_t>(1024, nconn + 16);
    auto receiver = open_receiver(d, o);
    std::printf("load: %u connections x %u messages, sizes %u..%u, seed %llu, %s path\n", nconn, nmsg, kHeader,
                kMaxMessage, static_cast<unsigned long long>(seed), receiver->mode());

    Listener l;
    std::vector<Conn> conns(nconn);
    std::mt19937_64 master(seed);
    for (uint32_t i = 0; i < nconn; i++) {
        auto [c, s] = l.pair();
        fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
        conns[i].client = c;
        conns[i].conn = receiver->adopt(s);
        conns[i].conn->set_nonblocking(true);
        conns[i].rng.seed(master());
    }

    auto start = std::chrono::steady_clock::now();
    auto last_progress = start;
    uint64_t total_msgs = 0, total_bytes = 0, sends = 0;
    uint32_t done = 0;
    std::vector<Message> batch;
    std::string failure;
    while (done < nconn && failure.empty()) {
        bool progress = false;
        for (uint32_t i = 0; i < nconn && failure.empty(); i++) {
            Conn& c = conns[i];
            // Send: one random chunk (tiny, small or large) of the generated stream.
            if (!c.closed) {
                while (c.pending.size() - c.sent_pos < kMaxMessage && c.generated < nmsg) {
                    if (c.sent_pos > (1u << 20)) c.pending.erase(c.pending.begin(), c.pending.begin() + c.sent_pos), c.sent_pos = 0;
                    append_message(c.pending, i, c.generated++, c.rng);
                }
                size_t left = c.pending.size() - c.sent_pos;
                uint32_t k = c.rng() % 100;
                size_t chunk = k < 10 ? 1 + c.rng() % 16 : k < 60 ? 1 + c.rng() % 1500 : 1 + c.rng() % 65536;
                chunk = std::min(chunk, left);
                if (chunk) {
                    ssize_t w = send(c.client, c.pending.data() + c.sent_pos, chunk, MSG_NOSIGNAL);
                    if (w > 0) c.sent_pos += static_cast<size_t>(w), sends++, progress = true;
                    else if (w < 0 && errno != EAGAIN && errno != EINTR) failure = "send failed: " + std::string(strerror(errno));
                }
                if (c.generated == nmsg && c.sent_pos == c.pending.size()) {
                    close(c.client);  // end of stream: the receiver must report a clean end after the last message
                    c.closed = true;
                }
            }
            // Receive: every whole message already read.
            if (c.ended) continue;
            for (;;) {
                batch.clear();
                ReceiveStatus st = c.conn->receive_batch(batch, 256);
                if (st == ReceiveStatus::would_block) break;
                progress = true;
                if (st == ReceiveStatus::end) {
                    if (c.received != nmsg) failure = "connection " + std::to_string(i) + " ended after " + std::to_string(c.received) + " messages";
                    c.ended = true;
                    done++;
                    break;
                }
                if (st == ReceiveStatus::error) {
                    failure = "connection " + std::to_string(i) + ": " + c.conn->receive().error->message;
                    break;
                }
                for (const Message& m : batch) {
                    const uint8_t* p = m.bytes.data();
                    size_t n = m.bytes.size();
                    uint64_t h = 0;
                    if (n >= kHeader) {
                        h = fnv1a(p + kHeader, n - kHeader);
                        h = fnv1a(p + 4, 8) ^ h * 31;
                    }
                    uint64_t want_h = 0;
                    for (int b = 0; b < 8 && n >= kHeader; b++) want_h = want_h << 8 | p[12 + b];
                    if (n < kHeader || get32(p) + 4 != n || get32(p + 4) != i || get32(p + 8) != c.received ||
                        h != want_h || m.offset != c.next_offset) {
                        failure = "connection " + std::to_string(i) + " message " + std::to_string(c.received) +
                                  ": wrong bytes (len " + std::to_string(n) + ", conn " +
                                  std::to_string(n >= 8 ? get32(p + 4) : 0) + ", seq " +
                                  std::to_string(n >= 12 ? get32(p + 8) : 0) + ", offset " + std::to_string(m.offset) +
                                  " want " + std::to_string(c.next_offset) + ")";
                        break;
                    }
                    c.received++;
                    c.next_offset += n;
                    c.bytes += n;
                    total_msgs++;
                    total_bytes += n;
                }
                if (!failure.empty()) break;
            }
        }
        auto now = std::chrono::steady_clock::now();
        if (progress) last_progress = now;
        else if (now - last_progress > std::chrono::seconds(20)) {
            uint32_t stuck = 0;
            for (uint32_t i = 0; i < nconn; i++)
                if (!conns[i].ended) stuck = i;
            failure = "no progress for 20 s; connection " + std::to_string(stuck) + " has " +
                      std::to_string(conns[stuck].received) + " of " + std::to_string(nmsg) + " messages";
        } else if (!progress) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("load: %llu messages, %.1f MiB in %.2f s (%.0f msg/s, %.1f MiB/s), %llu sends\n",
                static_cast<unsigned long long>(total_msgs), total_bytes / 1048576.0, secs, total_msgs / secs,
                total_bytes / 1048576.0 / secs, static_cast<unsigned long long>(sends));
    conns.clear();
    receiver.reset();
    int rc = 0;
    if (!failure.empty()) {
        std::printf("FAIL: %s\n", failure.c_str());
        rc = 1;
    } else if (total_msgs != uint64_t(nconn) * nmsg) {
        std::printf("FAIL: %llu messages, want %llu\n", static_cast<unsigned long long>(total_msgs),
                    static_cast<unsigned long long>(uint64_t(nconn) * nmsg));
        rc = 1;
    } else {
        std::printf("load: OK: 0 lost, 0 duplicated, 0 reordered, 0 corrupted\n");
    }
    std::string marks_after = kernel_log_marks();
    if (marks_after != marks_before) {
        std::printf("FAIL: new kernel BUG/WARNING lines in dmesg:\n%s", marks_after.substr(marks_before.size()).c_str());
        rc = 1;
    }
    return rc;
}
