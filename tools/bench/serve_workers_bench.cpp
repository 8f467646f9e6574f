// sockframe-serve-bench: messages/s that `sockframe serve` frames with 1, 2, ... workers
// (docs/steering.md). Hand-run; as root it works inside a private network namespace, so
// the steering it attaches touches nothing else on the host.
//
//   sockframe-serve-bench [--workers 1,2] [--seconds 3] [--connections 4] [--size 64]
//                         [--listen 127.0.0.1:7000-7063] [--userspace] [--sockframe PATH]
//
// For each worker count it starts `sockframe serve dns --quiet`, opens the client
// connections (spread over the ports of the range), writes length-prefixed messages
// (64 per write) for the given time, stops the server with SIGTERM and divides the
// messages it reports by the time it ran.
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
};

Server start_server(const Options& o, unsigned workers) {
    int p[2];
    if (pipe(p) != 0) fail("pipe");
    Server s;
    s.pid = fork();
    if (s.pid == 0) {
        dup2(p[1], 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);  // --quiet still prints each connection's end
        close(p[0]);
        std::string w = std::to_string(workers);
        std::vector<const char*> argv{o.sockframe.c_str(), "serve",     "dns",     "--listen",
                                      o.listen.c_str(),    "--workers", w.c_str(), "--quiet"};
        if (o.userspace) argv.push_back("--userspace");
        argv.push_back(nullptr);
        execv(argv[0], const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    close(p[1]);
    s.err = fdopen(p[0], "r");
    char line[1024];
    while (std::fgets(line, sizeof line, s.err)) {
        std::fputs(line, stderr);
        if (std::strstr(line, "sockframe: serving")) return s;
    }
    fail("the server did not start (" + o.sockframe + ")");
}

unsigned long long stop_server(Server& s) {
    kill(s.pid, SIGTERM);
    unsigned long long messages = 0;
    char line[1024];
    while (std::fgets(line, sizeof line, s.err))
        if (std::sscanf(line, "sockframe: stopped after %llu messages", &messages) == 1) break;
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

void client(const std::string& host, unsigned port, const std::string& batch, size_t message_size,
            Clock::time_point until) {
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

    std::printf("%-8s %-10s %12s %14s\n", "workers", "path", "messages", "messages/s");
    for (unsigned w : o.workers) {
        Server s = start_server(o, w);
        auto start = Clock::now();
        auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
        std::vector<std::thread> clients;
        for (unsigned c = 0; c < o.connections; c++)
            clients.emplace_back(client, host, low + (c * 7) % (high - low + 1), batch, o.size, until);
        for (auto& t : clients) t.join();
        double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        unsigned long long messages = stop_server(s);
        std::printf("%-8u %-10s %12llu %14.0f\n", w, o.userspace ? "userspace" : "auto", messages, messages / elapsed);
        std::fflush(stdout);
    }
    return 0;
}
