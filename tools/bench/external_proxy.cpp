// The proxies sockframe-bench runs as child processes for the proxy workload:
// `sockframe proxy` (kernel and userspace path), HAProxy in TCP mode, dnsdist.
// Each gets a fresh configuration in a temporary directory, its output goes to a log
// there (the last lines explain a proxy that did not start), and it dies with the tool.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "proxy_peers.hpp"

namespace sockframe::bench {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// What a proxy that did not start said first (usage errors and alerts come first).
std::string first_line(const std::string& text) {
    std::stringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t") != std::string::npos) return line;
    return "(no output)";
}

uint16_t unused_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), len);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

bool accepts(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

std::string find_program(const std::vector<std::string>& candidates) {
    for (const auto& c : candidates)
        if (!c.empty() && access(c.c_str(), X_OK) == 0) return c;
    return {};
}

std::string sockframe_program() {
    if (const char* env = std::getenv("SOCKFRAME_BIN")) return env;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    return find_program({(self / ".." / "sockframe").string(), (self / "sockframe").string(), "/usr/bin/sockframe",
                         "/usr/local/bin/sockframe"});
}

}  // namespace

ExternalProxy::~ExternalProxy() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        for (int i = 0; i < 100; i++) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    if (!dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

uint64_t ExternalProxy::cpu_ns() const {
    uint64_t sum = 0;
    std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
    if (DIR* d = opendir(tasks.c_str())) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream f(tasks + "/" + e->d_name + "/schedstat");
            uint64_t ns = 0;
            if (f >> ns) sum += ns;
        }
        closedir(d);
    }
    return sum;
}

bool ExternalProxy::make_dir() {
    char tmpl[] = "/tmp/sockframe-bench-proxy-XXXXXX";
    if (!mkdtemp(tmpl)) {
        why_not = std::string("mkdtemp: ") + std::strerror(errno);
        return false;
    }
    dir_ = tmpl;
    return true;
}

// Runs argv with its output in dir_/log until it is ready: `ready_line` in the log (if
// given) and listen_port accepting; else why_not says what it printed first.
void ExternalProxy::launch(std::vector<std::string> argv, const std::string& ready_line, uint16_t listen_port) {
    std::string log = dir_ + "/log";
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> args;
        for (auto& x : argv) args.push_back(x.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid_ = -1;
            why_not = argv[0] + " exited (" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                      "): " + first_line(read_file(log));
            return;
        }
        bool ready = ready_line.empty() ? accepts(listen_port)
                                        : read_file(log).find(ready_line) != std::string::npos && accepts(listen_port);
        if (ready) return;
        if (std::chrono::steady_clock::now() > deadline) {
            why_not = argv[0] + " did not start within 20 s: " + first_line(read_file(log));
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::unique_ptr<ExternalProxy> start_external_proxy(Strategy s, const ProxyProtocol& proto, uint16_t port_a,
                                                    uint16_t port_b, uint16_t& listen_port) {
    auto p = std::make_unique<ExternalProxy>();
    if (!p->make_dir()) return p;
    listen_port = unused_port();
    std::string listen = "127.0.0.1:" + std::to_string(listen_port);
    std::string a = "127.0.0.1:" + std::to_string(port_a), b = "127.0.0.1:" + std::to_string(port_b);
    std::vector<std::string> argv;
    std::string ready_line;  // a line in the log that says it is ready (else: it accepts)
    if (s == Strategy::kernel || s == Strategy::userspace) {
        std::string bin = sockframe_program();
        if (bin.empty()) {
            p->why_not = "no sockframe program (set SOCKFRAME_BIN)";
            return p;
        }
        argv = {bin,
                "proxy",
                proto.name(),
                "--listen",
                listen,
                "--backend",
                a,
                "--backend",
                b,
                "--route",
                "key",
                "--path",
                s == Strategy::kernel ? "kernel" : "userspace"};
        if (s == Strategy::kernel) argv.push_back("--require-kernel");
        ready_line = "sockframe: proxying";
    } else if (s == Strategy::haproxy) {
        std::string bin = find_program({"/usr/sbin/haproxy", "/usr/bin/haproxy"});
        if (bin.empty()) {
            p->why_not = "haproxy is not installed (package haproxy)";
            return p;
        }
        std::ofstream(p->dir_ + "/haproxy.cfg")
            << "global\n  maxconn 4096\ndefaults\n  mode tcp\n  option splice-auto\n  timeout connect 5s\n"
               "  timeout client 60s\n  timeout server 60s\nfrontend bench\n  bind "
            << listen << "\n  default_backend two\nbackend two\n  balance roundrobin\n  server a " << a
            << "\n  server b " << b << "\n";
        argv = {bin, "-db", "-f", p->dir_ + "/haproxy.cfg"};
    } else if (s == Strategy::dnsdist) {
        std::string bin = find_program({"/usr/bin/dnsdist", "/usr/sbin/dnsdist"});
        if (bin.empty()) {
            p->why_not = "dnsdist is not installed (package dnsdist)";
            return p;
        }
        // Consistent hashing of the query name, as `--route key` does; the backends answer
        // TCP only, so both are marked up (no UDP health checks). No maxInFlight: with
        // {maxInFlight=1024} dnsdist 1.7.3 answered a pipelined query twice or stalled
        // (seen with 1 and 8 connections x 16 queries in flight; direct and the handwritten
        // proxy pass the same load), so dnsdist takes a connection's queries one at a time.
        std::ofstream(p->dir_ + "/dnsdist.conf")
            << "setLocal('" << listen << "')\n"
            << "newServer({address='" << a << "', tcpOnly=true, name='a'}):setUp()\n"
            << "newServer({address='" << b << "', tcpOnly=true, name='b'}):setUp()\n"
            << "setServerPolicy(chashed)\nsetSecurityPollSuffix('')\n";
        argv = {bin, "--supervised", "--disable-syslog", "-C", p->dir_ + "/dnsdist.conf"};
    } else {
        p->why_not = std::string("not a proxy strategy: ") + name(s);
        return p;
    }
    p->launch(argv, ready_line, listen_port);
    return p;
}

std::unique_ptr<ExternalProxy> start_sni_proxy(Strategy s, uint16_t port_a, uint16_t port_b, uint16_t& listen_port) {
    auto p = std::make_unique<ExternalProxy>();
    if (!p->make_dir()) return p;
    listen_port = unused_port();
    std::string listen = "127.0.0.1:" + std::to_string(listen_port);
    std::string a = "127.0.0.1:" + std::to_string(port_a), b = "127.0.0.1:" + std::to_string(port_b);
    std::vector<std::string> argv;
    std::string ready_line;
    if (s == Strategy::kernel || s == Strategy::userspace) {
        std::string bin = sockframe_program();
        if (bin.empty()) {
            p->why_not = "no sockframe program (set SOCKFRAME_BIN)";
            return p;
        }
        argv = {bin,
                "proxy",
                "tls-records",
                "--listen",
                listen,
                "--route",
                "first-key",
                "--backend",
                "a.example=" + a,
                "--backend",
                "b.example=" + b,
                "--path",
                s == Strategy::kernel ? "kernel" : "userspace"};
        if (s == Strategy::kernel) argv.push_back("--require-kernel");
        ready_line = "sockframe: proxying";
    } else if (s == Strategy::haproxy) {
        std::string bin = find_program({"/usr/sbin/haproxy", "/usr/bin/haproxy"});
        if (bin.empty()) {
            p->why_not = "haproxy is not installed (package haproxy)";
            return p;
        }
        // HAProxy's documented SNI routing without terminating TLS: wait for the whole
        // ClientHello, then pick the backend by req.ssl_sni; splice where it helps.
        std::ofstream(p->dir_ + "/haproxy.cfg")
            << "global\n  maxconn 4096\ndefaults\n  mode tcp\n  option splice-auto\n  timeout connect 5s\n"
               "  timeout client 60s\n  timeout server 60s\nfrontend sni\n  bind "
            << listen
            << "\n  tcp-request inspect-delay 5s\n  tcp-request content accept if { req_ssl_hello_type 1 }\n"
               "  use_backend a if { req.ssl_sni -i a.example }\n  use_backend b if { req.ssl_sni -i b.example }\n"
               "backend a\n  server a "
            << a << "\nbackend b\n  server b " << b << "\n";
        argv = {bin, "-db", "-f", p->dir_ + "/haproxy.cfg"};
    } else {
        p->why_not = std::string("not an SNI proxy strategy: ") + name(s);
        return p;
    }
    p->launch(argv, ready_line, listen_port);
    return p;
}

}  // namespace sockframe::bench
