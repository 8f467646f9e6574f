// sockframe-serve-bench: messages/s that `sockframe serve` frames (or `sockframe proxy`
// routes) with 1, 2, ... workers (docs/steering.md). Hand-run; as root it works inside a
// private network namespace, so the steering it attaches touches nothing else on the host.
//
//   sockframe-serve-bench [--workers 1,2] [--seconds 3] [--connections 4] [--size 64]
//                         [--listen 127.0.0.1:7000-7063] [--userspace] [--proxy]
//                         [--sockframe PATH]
//
// For each worker count it starts `sockframe serve dns --quiet` (with --proxy:
// `sockframe proxy dns --route connection` in front of two echo backends in this
// process), opens the client connections (spread over the ports of the range), writes
// length-prefixed messages (64 per write) for the given time (with --proxy each client
// also reads the echoed replies), stops the server with SIGTERM and divides the
// messages it reports (serve: framed; proxy: routed to the backends) by the time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::vector<unsigned> workers{1, 2};
    double seconds = 3;
    unsigned connections = 4;
    size_t size = 64;
    std::string listen = "127.0.0.1:7000-7063";
    bool userspace = false;
    bool proxy = false;
    std::string sockframe = SOCKFRAME_CLI;  // this build's CLI
};

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "sockframe-serve-bench: %s\n", what.c_str());
    std::exit(1);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) fail(a + " needs a value");
            return argv[++i];
        };
        if (a == "--workers") {
            o.workers.clear();
            std::string list = next();
            for (size_t p = 0; p < list.size();) {
                o.workers.push_back(static_cast<unsigned>(std::stoul(list.substr(p))));
                p = list.find(',', p);
                p = p == std::string::npos ? list.size() : p + 1;
            }
        } else if (a == "--seconds") {
            o.seconds = std::stod(next());
        } else if (a == "--connections") {
            o.connections = static_cast<unsigned>(std::stoul(next()));
        } else if (a == "--size") {
            o.size = std::stoul(next());
        } else if (a == "--listen") {
            o.listen = next();
        } else if (a == "--userspace") {
            o.userspace = true;
        } else if (a == "--proxy") {
            o.proxy = true;
        } else if (a == "--sockframe") {
            o.sockframe = next();
        } else {
            fail("unknown option " + a + " (see the comment at the top of serve_workers_bench.cpp)");
        }
    }
    if (o.size < 3 || o.size > 65537) fail("--size must be 3 to 65537 (a DNS-over-TCP message)");
    return o;
}

// As root: a private network namespace with lo up.
void private_netns() {
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) return;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
}

struct Server {
    pid_t pid = -1;
    FILE* err = nullptr;  // the server's stderr
    FILE* out = nullptr;  // --proxy: its stdout (the counters, jsonl)
    std::string path;     // from the start line: "kernel" or "userspace"
};

// --proxy: the backends, echoing every byte (whole requests come back as whole replies).
struct EchoBackends {
    int listeners[2];
    uint16_t ports[2];
    std::vector<std::thread> threads;
    EchoBackends() {
        for (int i = 0; i < 2; i++) {
            listeners[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof a;
            if (bind(listeners[i], reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(listeners[i], 512) != 0)
                fail("backend listen");
            getsockname(listeners[i], reinterpret_cast<sockaddr*>(&a), &len);
            ports[i] = ntohs(a.sin_port);
            threads.emplace_back([this, l = listeners[i]] {
                for (int fd; (fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
                    std::thread([fd] {
                        char buf[65536];
                        for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
                            for (ssize_t sent = 0, k; sent < n; sent += k)
                                if ((k = send(fd, buf + sent, n - sent, MSG_NOSIGNAL)) <= 0) {
                                    close(fd);
                                    return;
                                }
                        close(fd);
                    }).detach();  // ends when the proxy closes the connection
            });
        }
    }
    ~EchoBackends() {
        for (int l : listeners) shutdown(l, SHUT_RDWR);  // wakes accept4
        for (auto& t : threads) t.join();
        for (int l : listeners) close(l);
    }
};

Server start_server(const Options& o, unsigned workers, const EchoBackends* backends) {
    int p[2], q[2];
    if (pipe(p) != 0 || pipe(q) != 0) fail("pipe");
    Server s;
    s.pid = fork();
    if (s.pid == 0) {
        dup2(p[1], 2);
        if (backends) {
            dup2(q[1], 1);
        } else {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);  // --quiet still prints each connection's end
        }
        close(p[0]);
        close(q[0]);
        std::string w = std::to_string(workers);
        std::vector<const char*> argv{o.sockframe.c_str(),
                                      backends ? "proxy" : "serve",
                                      "dns",
                                      "--listen",
                                      o.listen.c_str(),
                                      "--workers",
                                      w.c_str()};
        std::string b0, b1;
        if (backends) {
            b0 = "127.0.0.1:" + std::to_string(backends->ports[0]);
            b1 = "127.0.0.1:" + std::to_string(backends->ports[1]);
            for (const char* a :
                 {"--backend", b0.c_str(), "--backend", b1.c_str(), "--route", "connection", "--format", "jsonl"})
                argv.push_back(a);
        } else {
            argv.push_back("--quiet");
        }
        if (o.userspace) argv.push_back("--userspace");
        argv.push_back(nullptr);
        execv(argv[0], const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    close(p[1]);
    close(q[1]);
    s.err = fdopen(p[0], "r");
    if (backends)
        s.out = fdopen(q[0], "r");
    else
        close(q[0]);
    char line[1024];
    while (std::fgets(line, sizeof line, s.err)) {
        std::fputs(line, stderr);
        if (std::strstr(line, "sockframe: serving") || std::strstr(line, "sockframe: proxying")) {
            s.path = std::strstr(line, "kernel path") ? "kernel" : "userspace";
            return s;
        }
    }
    fail("the server did not start (" + o.sockframe + ")");
}

unsigned long long stop_server(Server& s) {
    kill(s.pid, SIGTERM);
    unsigned long long messages = 0;
    char line[1024];
    if (s.out) {  // the proxy's last counters: one jsonl line per backend
        while (std::fgets(line, sizeof line, s.out)) {
            const char* m = std::strstr(line, "\"backend\":") ? std::strstr(line, "\"messages\":") : nullptr;
            if (m) messages += std::strtoull(m + 11, nullptr, 10);
        }
        std::fclose(s.out);
    } else {
        while (std::fgets(line, sizeof line, s.err))
            if (std::sscanf(line, "sockframe: stopped after %llu messages", &messages) == 1) break;
    }
    waitpid(s.pid, nullptr, 0);
    std::fclose(s.err);
    return messages;
}

// The ports of --listen ("HOST:LOW-HIGH" or "HOST:PORT"), IPv4 only.
void ports_of(const std::string& spec, std::string& host, unsigned& low, unsigned& high) {
    auto colon = spec.rfind(':');
    host = spec.substr(0, colon);
    std::string ports = spec.substr(colon + 1);
    low = static_cast<unsigned>(std::stoul(ports));
    auto dash = ports.find('-');
    high = dash == std::string::npos ? low : static_cast<unsigned>(std::stoul(ports.substr(dash + 1)));
}

// When the last client wrote its last message: --proxy's clients then wait for the
// last replies, which the time per message should not include.
std::atomic<Clock::rep> writers_done{0};

void client(const std::string& host, unsigned port, const std::string& batch, size_t message_size,
            Clock::time_point until, bool read_replies) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{0, 200000};  // a blocked send wakes up to look at the clock
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("connect to port " + std::to_string(port));
    // --proxy: the replies are read (and dropped) so the echo never blocks the proxy.
    std::thread reader;
    if (read_replies)
        reader = std::thread([fd] {
            char buf[65536];
            while (recv(fd, buf, sizeof buf, 0) > 0) {
            }
        });
    // Partial sends resume where they stopped; at the end the current message is
    // finished, so the server sees whole messages only.
    size_t pos = 0;
    while (Clock::now() < until || pos % message_size != 0) {
        ssize_t n = send(fd, batch.data() + pos, batch.size() - pos, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) break;
        if (n > 0) pos = (pos + static_cast<size_t>(n)) % batch.size();
        if (Clock::now() >= until && pos % message_size != 0) {
            size_t rest = message_size - pos % message_size;
            n = send(fd, batch.data() + pos, rest, MSG_NOSIGNAL);
            if (n > 0) pos = (pos + static_cast<size_t>(n)) % batch.size();
        }
    }
    for (Clock::rep now = Clock::now().time_since_epoch().count(), seen = writers_done.load();
         seen < now && !writers_done.compare_exchange_weak(seen, now);) {
    }
    if (reader.joinable()) {
        shutdown(fd, SHUT_WR);  // the proxy closes its side after the backend's last reply
        reader.join();
    }
    close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    private_netns();
    std::string host;
    unsigned low, high;
    ports_of(o.listen, host, low, high);
    std::string message(o.size, 'x');
    message[0] = static_cast<char>((o.size - 2) >> 8);
    message[1] = static_cast<char>((o.size - 2) & 0xff);
    std::string batch;
    for (int i = 0; i < 64; i++) batch += message;

    std::unique_ptr<EchoBackends> backends;
    if (o.proxy) backends = std::make_unique<EchoBackends>();
    std::printf("%-8s %-8s %-10s %12s %14s\n", "workers", "server", "path", "messages", "messages/s");
    for (unsigned w : o.workers) {
        Server s = start_server(o, w, backends.get());
        auto start = Clock::now();
        auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
        std::vector<std::thread> clients;
        for (unsigned c = 0; c < o.connections; c++)
            clients.emplace_back(client, host, low + (c * 7) % (high - low + 1), batch, o.size, until, o.proxy);
        for (auto& t : clients) t.join();
        auto end = o.proxy ? Clock::time_point(Clock::duration(writers_done.load())) : Clock::now();
        double elapsed = std::chrono::duration<double>(end - start).count();
        unsigned long long messages = stop_server(s);
        std::printf("%-8u %-8s %-10s %12llu %14.0f\n", w, o.proxy ? "proxy" : "serve", s.path.c_str(), messages,
                    messages / elapsed);
        std::fflush(stdout);
    }
    return 0;
}
