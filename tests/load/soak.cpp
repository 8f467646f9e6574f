// Soak (issue 7 item 5; a documented command, not in CI): connections churning through
// one receiver for a bounded time. Each round opens a batch of connections, sends each a
// random number of numbered, checksummed messages in random chunkings (coalesced, 1-byte
// drips, large up to max_message), verifies every message on the server side and closes
// them in a mix of ways: client first, server first, client reset (SO_LINGER 0) after or
// mid-stream, abandoned mid-message by the client or by the server. Every ~10 s one line:
// elapsed, connections, messages, RSS, open fds, sockmap entries. At the end (everything
// closed, short settle) fds and entries of this process's sf_sockets/sf_conns maps must be
// back at the baseline taken before the first connection, RSS after malloc_trim within
// +16 MiB of it (malloc's heap in use within +1 MiB), and
// dmesg must show no new BUG/WARNING lines. Message format as in test_load.cpp.
//
//   soak [seconds=600] [--userspace]        (docs/faults.md, "Soak")
#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "../kernel/kernel_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kHeader = 4 + 4 + 4 + 8;  // length, connection, sequence, checksum
constexpr uint32_t kMaxMessage = 32768;       // = max_message of the description
constexpr uint32_t kBatch = 50;
// RSS (after malloc_trim) may stay above the baseline by what the first batches touched
// and the allocator keeps (arena tops, fragmentation): ~14 MiB untrimmed in 30 s runs.
// Bytes still handed out by malloc must be back within 1 MiB (caches of the library).
constexpr long kRssToleranceKiB = 16 * 1024;
constexpr long kHeapToleranceKiB = 1024;

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint64_t checksum(const uint8_t* m, size_t size) { return fnv1a(m + 4, 8) ^ fnv1a(m + kHeader, size - kHeader) * 31; }

// ---- process and kernel accounting ----

long rss_kib() {
    long pages = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Calls f(fd number, link target) for every open fd except the directory's own.
template <class F>
void each_fd(F f) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return;
    int self = dirfd(d);
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        int fd = std::atoi(e->d_name);
        if (fd == self) continue;
        char link[256] = {};
        std::string path = std::string("/proc/self/fd/") + e->d_name;
        ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
        f(fd, std::string(link, n > 0 ? static_cast<size_t>(n) : 0));
    }
    closedir(d);
}

// Bytes malloc has handed out and not got back: grows with a leak, not with fragmentation.
long heap_in_use_kib() {
    struct mallinfo2 m = mallinfo2();
    return static_cast<long>((m.uordblks + m.hblkhd) / 1024);
}

int open_fds() {
    int n = 0;
    each_fd([&](int, const std::string&) { n++; });
    return n;
}

size_t count_keys(int fd, uint32_t key_size, uint32_t max_entries) {
    std::vector<uint8_t> key(key_size), next(key_size);
    size_t n = 0;
    const void* prev = nullptr;
    while (n <= size_t(max_entries) * 2 && bpf_map_get_next_key(fd, prev, next.data()) == 0) {
        n++;
        key.swap(next);
        prev = key.data();
    }
    return n;
}

bool sf_map(const bpf_map_info& info) {
    return std::string(info.name) == "sf_sockets" || std::string(info.name) == "sf_conns";
}

struct MapCounts {
    size_t own_sockets = 0, own_conns = 0;  // maps this process holds open (its receiver)
    size_t all_sockets = 0, all_conns = 0;  // every sf_* map on the machine (other runs too)
    int own_maps = 0, all_maps = 0;
    size_t own() const { return own_sockets + own_conns; }
};

MapCounts map_counts() {
    MapCounts c;
    std::set<uint32_t> own_ids;
    each_fd([&](int fd, const std::string& link) {
        if (link != "anon_inode:bpf-map") return;
        bpf_map_info info{};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && sf_map(info)) own_ids.insert(info.id);
    });
    for (uint32_t id = 0; bpf_map_get_next_id(id, &id) == 0;) {
        int fd = bpf_map_get_fd_by_id(id);
        if (fd < 0) continue;
        bpf_map_info info{};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && sf_map(info)) {
            size_t n = count_keys(fd, info.key_size, info.max_entries);
            bool sockets = std::string(info.name) == "sf_sockets";
            (sockets ? c.all_sockets : c.all_conns) += n;
            c.all_maps++;
            if (own_ids.count(id)) {
                (sockets ? c.own_sockets : c.own_conns) += n;
                c.own_maps++;
            }
        }
        close(fd);
    }
    return c;
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// ---- one connection of a batch ----

enum class Close {
    client_first,    // client sends everything, closes; server sees every message, then the end
    server_first,    // server reads every message, closes; client waits for EOF, closes
    reset_after,     // server reads every message; client resets (SO_LINGER 0)
    reset_mid,       // client sends k whole messages + part of one, resets: server sees a prefix of the k
    abandon_client,  // client sends k whole messages + part of one, closes: exactly k, then an error
    abandon_server,  // client sends k whole messages + part of one, stays; server reads k, closes
    count
};
const char* close_name(Close c) {
    static const char* n[] = {"client_first", "server_first", "reset_after", "reset_mid", "abandon_client",
                              "abandon_server"};
    return n[static_cast<int>(c)];
}

enum class Chunking { random, coalesced, drip, large, count };

struct Conn {
    uint32_t id = 0;
    Close how{};
    Chunking chunking{};
    std::mt19937_64 rng;
    int client = -1;
    std::unique_ptr<Connection> conn;
    std::vector<uint8_t> pending;  // generated stream from `base` on
    uint64_t base = 0, sent = 0;   // absolute stream positions
    uint64_t limit = UINT64_MAX;   // bytes to send in all (mid-message modes: inside the last message)
    uint32_t nmsg = 0, whole = 0;  // messages generated; whole messages the server must see
    uint32_t generated = 0, received = 0;
    uint64_t next_offset = 0;
    bool client_done = false;  // closed, reset, or (abandon_server) everything sent
    bool server_done = false;
    bool client_closed = false;
    Clock::time_point last_progress;
};

uint32_t message_size(Conn& c) {
    uint32_t k = c.rng() % 100;
    if (c.chunking == Chunking::large) return k < 20 ? kMaxMessage : 8192 + c.rng() % (kMaxMessage - 8192 + 1);
    if (c.chunking == Chunking::drip) return kHeader + c.rng() % 40;
    if (k < 70) return kHeader + c.rng() % 240;
    if (k < 95) return 256 + c.rng() % 3840;
    if (k < 98) return kMaxMessage;
    return 4096 + c.rng() % (kMaxMessage - 4096 + 1);
}

void generate(Conn& c) {
    while (c.generated < c.nmsg && c.base + c.pending.size() - c.sent < 2 * kMaxMessage) {
        uint32_t size = message_size(c);
        size_t at = c.pending.size();
        c.pending.resize(at + size);
        uint8_t* m = c.pending.data() + at;
        put32(m, size - 4);
        put32(m + 4, c.id);
        put32(m + 8, c.generated);
        for (uint32_t i = kHeader; i < size; i++) m[i] = static_cast<uint8_t>(c.rng());
        uint64_t h = checksum(m, size);
        for (int i = 0; i < 8; i++) m[12 + i] = static_cast<uint8_t>(h >> (56 - 8 * i));
        c.generated++;
        // Mid-message modes stop somewhere inside the last message (at least one byte of it).
        if (c.generated == c.nmsg && c.limit == UINT64_MAX && c.whole < c.nmsg)
            c.limit = c.base + at + 1 + c.rng() % (size - 1);
    }
    if (c.generated == c.nmsg && c.limit == UINT64_MAX) c.limit = c.base + c.pending.size();
}

void reset_close(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

struct Totals {
    uint64_t conns = 0, messages = 0, bytes = 0, rounds = 0, handed_off = 0, reset_lost = 0;
    uint64_t by_close[static_cast<int>(Close::count)] = {};
};

// Sends the next chunk; true if anything moved.
bool send_some(Conn& c, std::string& failure) {
    if (c.client_done) return false;
    generate(c);
    if (c.sent - c.base > 65536) {
        c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<long>(c.sent - c.base));
        c.base = c.sent;
    }
    uint64_t left = std::min<uint64_t>(c.base + c.pending.size(), c.limit) - c.sent;
    bool moved = false;
    if (left) {
        size_t chunk;
        uint32_t k = c.rng() % 100;
        switch (c.chunking) {
            case Chunking::coalesced: chunk = left; break;
            case Chunking::drip: chunk = 1; break;
            case Chunking::large: chunk = k < 50 ? left : 1 + c.rng() % 65536; break;
            default: chunk = k < 10 ? 1 + c.rng() % 16 : k < 60 ? 1 + c.rng() % 1500 : 1 + c.rng() % 65536;
        }
        chunk = std::min<uint64_t>(chunk, left);
        // Drips: up to 32 one-byte sends per turn, each its own segment (TCP_NODELAY).
        int sends = c.chunking == Chunking::drip ? 32 : 1;
        for (int s = 0; s < sends && chunk; s++) {
            ssize_t w = send(c.client, c.pending.data() + (c.sent - c.base), chunk, MSG_NOSIGNAL);
            if (w > 0) {
                c.sent += static_cast<uint64_t>(w);
                moved = true;
                chunk = std::min<uint64_t>(chunk, std::min<uint64_t>(c.base + c.pending.size(), c.limit) - c.sent);
            } else {
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                    failure = "connection " + std::to_string(c.id) + ": send failed: " + std::strerror(errno);
                break;
            }
        }
    }
    if (c.generated == c.nmsg && c.sent == c.limit) {
        switch (c.how) {
            case Close::client_first:
            case Close::abandon_client:
                close(c.client);
                c.client_closed = true;
                break;
            case Close::reset_mid:
                reset_close(c.client);
                c.client_closed = true;
                break;
            default: break;  // reset_after: after the server has everything; others: the server closes
        }
        c.client_done = true;
        moved = true;
    }
    return moved;
}

bool verify(Conn& c, const Message& m, std::string& failure) {
    const uint8_t* p = m.bytes.data();
    size_t n = m.bytes.size();
    uint64_t want_h = 0;
    for (int b = 0; b < 8 && n >= kHeader; b++) want_h = want_h << 8 | p[12 + b];
    if (n < kHeader || get32(p) + 4 != n || get32(p + 4) != c.id || get32(p + 8) != c.received ||
        checksum(p, n) != want_h || m.offset != c.next_offset || c.received >= c.whole) {
        failure = "connection " + std::to_string(c.id) + " (" + close_name(c.how) + ") message " +
                  std::to_string(c.received) + " of " + std::to_string(c.whole) + ": wrong bytes (len " +
                  std::to_string(n) + ", conn " + std::to_string(n >= 8 ? get32(p + 4) : 0) + ", seq " +
                  std::to_string(n >= 12 ? get32(p + 8) : 0) + ", offset " + std::to_string(m.offset) + " want " +
                  std::to_string(c.next_offset) + ")";
        return false;
    }
    c.received++;
    c.next_offset += n;
    return true;
}

void finish_server(Conn& c, Totals& t) {
    if (std::string(c.conn->mode()) == "handed-off") t.handed_off++;
    c.conn.reset();
    c.server_done = true;
}

// Reads every whole message already there; ends the server side when its part is over.
bool receive_some(Conn& c, std::vector<Message>& batch, Totals& t, std::string& failure) {
    if (c.server_done) return false;
    bool moved = false;
    for (;;) {
        batch.clear();
        ReceiveStatus st = c.conn->receive_batch(batch, 256);
        if (st == ReceiveStatus::would_block) break;
        moved = true;
        if (st == ReceiveStatus::message) {
            for (const Message& m : batch) {
                if (!verify(c, m, failure)) return true;
                t.messages++;
                t.bytes += m.bytes.size();
            }
            continue;
        }
        // end or error: the stream is over; was everything there?
        std::string what = st == ReceiveStatus::end ? "a clean end" : "error: " + c.conn->receive().error->message;
        bool ok;
        switch (c.how) {
            case Close::client_first: ok = st == ReceiveStatus::end && c.received == c.whole; break;
            case Close::abandon_client: ok = st == ReceiveStatus::error && c.received == c.whole; break;
            case Close::reset_after: ok = c.received == c.whole && c.client_closed; break;
            case Close::reset_mid:
                ok = c.client_closed && c.received <= c.whole;
                t.reset_lost += c.whole - std::min(c.received, c.whole);
                break;
            default: ok = false;  // the server closes these itself; the client never closes first
        }
        if (!ok)
            failure = "connection " + std::to_string(c.id) + " (" + close_name(c.how) + "): " + what + " after " +
                      std::to_string(c.received) + " of " + std::to_string(c.whole) + " messages";
        finish_server(c, t);
        return true;
    }
    if (c.received == c.whole && c.client_done) {
        switch (c.how) {
            case Close::server_first:
            case Close::abandon_server: finish_server(c, t); return true;
            case Close::reset_after:
                if (!c.client_closed) {
                    reset_close(c.client);
                    c.client_closed = true;
                    return true;
                }
                break;
            default: break;
        }
    }
    return moved;
}

// The client of a server-closed connection: wait for the FIN, then close.
bool client_after_server(Conn& c) {
    if (c.client_closed || !c.server_done) return false;
    char buf[256];
    ssize_t n = recv(c.client, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return n > 0;
    close(c.client);  // EOF (or an error): done
    c.client_closed = true;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    unsigned seconds = 600;
    bool userspace = false;
    for (int i = 1; i < argc; i++) {
        if (std::string(argv[i]) == "--userspace") userspace = true;
        else seconds = static_cast<unsigned>(std::strtoul(argv[i], nullptr, 10));
    }
    alarm(seconds + 120);  // hard bound: a stall kills the run
    signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty() && !userspace) {
        std::printf("SKIPPED: the soak runs the kernel path and needs %s (run as root)\n", missing.c_str());
        return 77;
    }
    std::string marks_before = kernel_log_marks();

    Description d = parse_description(
        "name = \"soak\"\nsummary = \"soak frames\"\nmax_message = 32768\n"
        "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\nmin_message = 20\n",
        "soak.toml");
    ReceiverOptions o;
    o.mode = userspace ? Mode::userspace : Mode::kernel;
    auto receiver = open_receiver(d, o);
    Listener l;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the start-up probe's connection settles

    long rss0 = rss_kib(), heap0 = heap_in_use_kib();
    int fds0 = open_fds();
    MapCounts maps0 = map_counts();
    std::printf("soak: %u s, %s path, batches of %u connections, messages %u..%u B, seed from /dev/urandom\n",
                seconds, receiver->mode(), kBatch, kHeader, kMaxMessage);
    std::printf("baseline: rss %ld KiB (heap in use %ld), fds %d, own sf maps %d (sf_sockets %zu, sf_conns %zu entries), "
                "all sf maps on the machine %d (%zu + %zu entries), dmesg marks %zu\n",
                rss0, heap0, fds0, maps0.own_maps, maps0.own_sockets, maps0.own_conns, maps0.all_maps, maps0.all_sockets,
                maps0.all_conns, count_lines(marks_before));
    if (!userspace && maps0.own_maps != 2)
        std::printf("note: expected this process to hold 2 sf maps, found %d\n", maps0.own_maps);

    uint64_t seed = std::random_device{}();
    seed = seed << 32 | std::random_device{}();
    std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
    std::mt19937_64 master(seed);
    Totals t;
    std::string failure;
    auto start = Clock::now();
    auto end_at = start + std::chrono::seconds(seconds);
    auto next_report = start + std::chrono::seconds(10);
    long rss_max = rss0;
    auto report = [&](const char* tag) {
        long rss = rss_kib();
        rss_max = std::max(rss_max, rss);
        MapCounts m = map_counts();
        std::printf("%s %6.1f s: %llu connections, %llu messages verified (%.1f MiB), rss %ld KiB (heap in use %ld), fds %d, "
                    "own sf_sockets %zu sf_conns %zu (all %zu/%zu), handed-off %llu\n",
                    tag, std::chrono::duration<double>(Clock::now() - start).count(),
                    static_cast<unsigned long long>(t.conns), static_cast<unsigned long long>(t.messages),
                    t.bytes / 1048576.0, rss, heap_in_use_kib(), open_fds(), m.own_sockets, m.own_conns, m.all_sockets, m.all_conns,
                    static_cast<unsigned long long>(t.handed_off));
    };

    std::vector<Message> batch;
    uint32_t next_id = 0;
    while (Clock::now() < end_at && failure.empty()) {
        // Open a batch.
        std::vector<Conn> conns(kBatch);
        for (Conn& c : conns) {
            c.id = next_id++;
            c.rng.seed(master());
            uint32_t h = c.rng() % 100;
            c.how = h < 30 ? Close::client_first : h < 50 ? Close::server_first : h < 65 ? Close::reset_after
                  : h < 75 ? Close::reset_mid : h < 90 ? Close::abandon_client : Close::abandon_server;
            c.chunking = static_cast<Chunking>(c.rng() % static_cast<int>(Chunking::count));
            uint32_t k = c.rng() % 100;
            c.nmsg = k < 5 ? 0 : k < 15 ? 1 : k < 85 ? 2 + c.rng() % 100 : 100 + c.rng() % 900;
            if (c.chunking == Chunking::drip) c.nmsg = std::min<uint32_t>(c.nmsg, 20);
            if (c.chunking == Chunking::large) c.nmsg = std::min<uint32_t>(c.nmsg, 100);
            bool mid = c.how == Close::reset_mid || c.how == Close::abandon_client || c.how == Close::abandon_server;
            if (mid && c.nmsg == 0) c.nmsg = 1;
            c.whole = mid ? c.nmsg - 1 : c.nmsg;
            auto [cl, s] = l.pair();
            fcntl(cl, F_SETFL, fcntl(cl, F_GETFL) | O_NONBLOCK);
            c.client = cl;
            c.conn = receiver->adopt(s);
            c.conn->set_nonblocking(true);
            c.last_progress = Clock::now();
            t.conns++;
            t.by_close[static_cast<int>(c.how)]++;
        }
        t.rounds++;
        // Run it until every connection is closed on both sides.
        size_t open = conns.size();
        while (open && failure.empty()) {
            bool any = false;
            auto now = Clock::now();
            for (Conn& c : conns) {
                if (c.server_done && c.client_closed) continue;
                bool moved = send_some(c, failure);
                moved |= receive_some(c, batch, t, failure);
                moved |= client_after_server(c);
                if (c.server_done && c.client_closed) open--;
                if (moved) c.last_progress = now, any = true;
                else if (now - c.last_progress > std::chrono::seconds(20))
                    failure = "connection " + std::to_string(c.id) + " (" + close_name(c.how) +
                              "): no progress for 20 s with " + std::to_string(c.received) + " of " +
                              std::to_string(c.whole) + " messages, " + std::to_string(c.sent) + " bytes sent";
                if (!failure.empty()) break;
            }
            if (!any && failure.empty()) {
                // Nothing moved: wait on the receive side (and writable clients), briefly:
                // the kernel path's poll_fd() does not signal every outcome.
                std::vector<pollfd> p;
                for (Conn& c : conns) {
                    if (!c.server_done) p.push_back({c.conn->poll_fd(), POLLIN, 0});
                    if (!c.client_done && !c.client_closed) p.push_back({c.client, POLLOUT, 0});
                }
                poll(p.data(), p.size(), 10);
            }
            if (Clock::now() >= next_report) {
                report("soak");
                next_report += std::chrono::seconds(10);
            }
        }
        // On failure: close whatever is left (the leak check still runs).
        for (Conn& c : conns) {
            if (!c.client_closed) close(c.client);
            c.conn.reset();
        }
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();

    // Settle: entries and fds of closed connections should be gone at once; allow 5 s.
    auto settle_start = Clock::now();
    MapCounts maps1;
    int fds1 = 0;
    for (;;) {
        maps1 = map_counts();
        fds1 = open_fds();
        if ((maps1.own() == maps0.own() && fds1 == fds0) || Clock::now() - settle_start > std::chrono::seconds(5)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    double settle_ms = std::chrono::duration<double, std::milli>(Clock::now() - settle_start).count();
    // RSS as is, then after malloc_trim(0): the allocator keeps freed memory resident (per
    // arena; the kernel path's watchdog thread has its own), trimming returns only free
    // memory, so what a leak holds stays in the trimmed figure.
    long rss_raw = rss_kib(), heap1 = heap_in_use_kib();
    malloc_trim(0);
    long rss1 = rss_kib();
    report("final");
    std::string marks_after = kernel_log_marks();
    size_t new_marks = count_lines(marks_after) > count_lines(marks_before)
                           ? count_lines(marks_after) - count_lines(marks_before)
                           : 0;

    std::printf("summary: %.1f s, %llu rounds, %llu connections (", secs, static_cast<unsigned long long>(t.rounds),
                static_cast<unsigned long long>(t.conns));
    for (int i = 0; i < static_cast<int>(Close::count); i++)
        std::printf("%s%s %llu", i ? ", " : "", close_name(static_cast<Close>(i)),
                    static_cast<unsigned long long>(t.by_close[i]));
    std::printf("), %llu messages verified (%.1f MiB), %llu messages cut off by a mid-stream reset, %llu handed-off\n",
                static_cast<unsigned long long>(t.messages), t.bytes / 1048576.0,
                static_cast<unsigned long long>(t.reset_lost), static_cast<unsigned long long>(t.handed_off));
    std::printf("summary: rss %ld -> %ld KiB, after malloc_trim %ld KiB (%+ld KiB, tolerance +%ld; max seen %ld), heap in use %ld -> %ld KiB, fds %d -> %d, "
                "own sf_sockets %zu -> %zu, sf_conns %zu -> %zu (settled in %.0f ms), "
                "all sf maps %zu/%zu -> %zu/%zu, new dmesg marks %zu\n",
                rss0, rss_raw, rss1, rss1 - rss0, kRssToleranceKiB, rss_max, heap0, heap1, fds0, fds1, maps0.own_sockets, maps1.own_sockets,
                maps0.own_conns, maps1.own_conns, settle_ms, maps0.all_sockets, maps0.all_conns, maps1.all_sockets,
                maps1.all_conns, new_marks);
    int rc = 0;
    auto fail = [&](const std::string& why) {
        std::printf("FAIL: %s\n", why.c_str());
        rc = 1;
    };
    if (!failure.empty()) fail(failure);
    if (fds1 != fds0) fail("open fds " + std::to_string(fds0) + " -> " + std::to_string(fds1));
    if (maps1.own_sockets != maps0.own_sockets || maps1.own_conns != maps0.own_conns)
        fail("sockmap entries not back to baseline");
    if (!userspace && maps1.own_maps != maps0.own_maps) fail("this process's sf maps changed");
    if (rss1 - rss0 > kRssToleranceKiB) fail("RSS (trimmed) grew by " + std::to_string(rss1 - rss0) + " KiB");
    if (heap1 - heap0 > kHeapToleranceKiB) fail("heap in use grew by " + std::to_string(heap1 - heap0) + " KiB");
    if (new_marks) fail("new kernel BUG/WARNING lines in dmesg:\n" + marks_after.substr(marks_before.size()));
    if (t.conns == 0 || t.messages == 0) fail("nothing was exercised");
    if (!rc) std::printf("soak: OK\n");
    receiver.reset();
    return rc;
}
