// Steering (sk_lookup + bpf_sk_assign) in the real kernel, inside a private network
// namespace: the outcome table of docs/steering.md, one case per row. Needs root
// (exit 77 = SKIP without); a hard alarm ends a hung run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <set>

#include <sockframe/steering.hpp>

#include "netns_sandbox.hpp"

using namespace sockframe;
using namespace sockframe::steer_test;

namespace {

SteeringOptions options_for(std::vector<std::string> specs, unsigned workers = 1) {
    SteeringOptions o;
    for (const auto& s : specs) o.rules.push_back(parse_steering_rule(s));
    o.workers = workers;
    return o;
}

std::vector<int> listeners_of(const Steering& s) {
    std::vector<int> out;
    for (unsigned i = 0; i < s.workers(); i++) out.push_back(s.listener(i));
    return out;
}

// Connects to address:port, expects the steering to hand it to a worker with the
// dialled port kept, and carries bytes both ways. Returns the worker index or -1.
int steered_worker(const Steering& s, const std::string& address, uint16_t port) {
    int c = connect_to(address, port);
    if (c < 0) return -1;
    auto [worker, server] = accept_any(listeners_of(s));
    bool ok = server >= 0 && local_port(server) == port &&
              round_trip(c, server, "steered to " + address + ":" + std::to_string(port));
    close(c);
    if (server >= 0) close(server);
    return ok ? worker : -1;
}

std::string steering_error(const SteeringOptions& o) {
    try {
        Steering s(o);
    } catch (const SteeringError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("IPv4 and IPv6: a connection lands on a worker with its port kept; ports outside stay refused") {
    Steering s(options_for({"127.0.0.1:31000", "[::1]:31000-31001"}));
    CHECK(steered_worker(s, "127.0.0.1", 31000) == 0);
    CHECK(steered_worker(s, "::1", 31000) == 0);
    CHECK(steered_worker(s, "::1", 31001) == 0);
    CHECK(connect_to("127.0.0.1", 31001) == -ECONNREFUSED);  // IPv4 was given 31000 only
    CHECK(connect_to("::1", 31002) == -ECONNREFUSED);
    CHECK(s.counters().steered == 3);
    CHECK(s.check().empty());
}

TEST_CASE("a 1000-port range, connections to random ports, each answered, spread over two workers") {
    Steering s(options_for({"127.0.0.1:20000-20999"}, 2));
    std::mt19937 rng(7);
    std::set<int> workers_used;
    int answered = 0;
    for (int i = 0; i < 200; i++) {
        uint16_t port = static_cast<uint16_t>(20000 + rng() % 1000);
        int w = steered_worker(s, "127.0.0.1", port);
        if (w >= 0) answered++, workers_used.insert(w);
    }
    CHECK(answered == 200);
    CHECK(workers_used.size() == 2);
    CHECK(connect_to("127.0.0.1", 21000) == -ECONNREFUSED);
    CHECK(connect_to("127.0.0.1", 19999) == -ECONNREFUSED);
}

TEST_CASE("127.0.0.0/8 addresses other than 127.0.0.1, without binding them") {
    Steering s(options_for({"127.0.0.0/8:9000"}));
    for (std::string address : {"127.0.0.2", "127.1.2.3", "127.255.255.254"}) {
        int c = connect_to(address, 9000);
        REQUIRE(c >= 0);
        auto [w, server] = accept_any(listeners_of(s));
        REQUIRE(server >= 0);
        CHECK(local_address(server).find(address) != std::string::npos);  // "::ffff:127.0.0.2" or "127.0.0.2"
        CHECK(round_trip(c, server, "hello " + address));
        close(c);
        close(server);
    }
}

TEST_CASE("the link dies with the process: SIGKILL of the holder, then the ports refuse") {
    Child holder([] {
        static Steering* s = new Steering(options_for({"127.0.0.1:32000-32009"}));
        (void)s;
        return std::string();
    });
    REQUIRE(holder.error() == "");
    // The child accepts nothing, but the handshake completes in its listener's backlog.
    int c = connect_to("127.0.0.1", 32005);
    CHECK(c >= 0);
    if (c >= 0) close(c);
    holder.kill_and_wait();
    CHECK(connect_to("127.0.0.1", 32005) == -ECONNREFUSED);
    uint32_t ids[8], count = 8, flags = 0;
    int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    REQUIRE(bpf_prog_query(ns, BPF_SK_LOOKUP, 0, &flags, ids, &count) == 0);
    CHECK(count == 0);
    close(ns);
}

TEST_CASE("a port in a range already bound by another process: refused, naming the port and the process") {
    Child other([] {
        int l = plain_listener("127.0.0.1", 33007);
        return l >= 0 ? std::string() : std::string("bind: ") + std::strerror(-l);
    });
    REQUIRE(other.error() == "");
    auto o = options_for({"127.0.0.1:33000-33009"});
    std::string e = steering_error(o);
    CHECK(e.find("port 33007") != std::string::npos);
    CHECK(e.find("pid " + std::to_string(other.pid())) != std::string::npos);
    CHECK(e.find("--take-over") != std::string::npos);
    INFO(e);
    // A wildcard listener on the port counts too.
    Child wildcard([] {
        int l = plain_listener("0.0.0.0", 33100);
        return l >= 0 ? std::string() : std::string("bind: ") + std::strerror(-l);
    });
    CHECK(steering_error(options_for({"127.0.0.5:33100"})).find("port 33100") != std::string::npos);

    // Taking over: the new connections to that port go to the steering's worker.
    o.take_over = true;
    Steering s(o);
    CHECK(steered_worker(s, "127.0.0.1", 33007) == 0);
}

TEST_CASE("two instances with overlapping ranges: the second refuses, naming the first") {
    Child first([] {
        static Steering* s = new Steering(options_for({"127.0.0.0/8:34000-34099"}));
        (void)s;
        return std::string();
    });
    REQUIRE(first.error() == "");
    std::string e = steering_error(options_for({"127.0.0.2:34050-34200"}));
    INFO(e);
    CHECK(e.find("pid " + std::to_string(first.pid())) != std::string::npos);
    CHECK(e.find("127.0.0.0/8:34000-34099") != std::string::npos);
    // Not overlapping: both run.
    Steering beside(options_for({"127.0.0.2:34100-34200", "[::1]:34000"}));
    CHECK(steered_worker(beside, "127.0.0.2", 34150) == 0);
}

TEST_CASE("another program detaches the link: check() says so and the ports refuse") {
    Steering s(options_for({"127.0.0.1:35000-35010"}));
    REQUIRE(steered_worker(s, "127.0.0.1", 35003) == 0);
    int link = bpf_link_get_fd_by_id(s.link_id());  // what `bpftool link detach` does
    REQUIRE(link >= 0);
    REQUIRE(bpf_link_detach(link) == 0);
    close(link);
    CHECK(s.check().find("detached") != std::string::npos);
    CHECK(connect_to("127.0.0.1", 35003) == -ECONNREFUSED);
}

// What `BPF_LINK_UPDATE` by another root program does: the link stays attached and
// owned by us, but the kernel runs the new program. Here the new one passes every
// lookup on (SK_PASS without a socket), so the normal lookup decides.
TEST_CASE("another program replaces the link's program: check() names it and the new program decides") {
    Steering s(options_for({"127.0.0.1:35100-35110"}, 2));
    REQUIRE(steered_worker(s, "127.0.0.1", 35105) >= 0);
    bpf_insn pass[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},  // r0 = SK_PASS
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, load, .expected_attach_type = BPF_SK_LOOKUP);
    int prog = bpf_prog_load(BPF_PROG_TYPE_SK_LOOKUP, "other_pass", "GPL", pass, 2, &load);
    REQUIRE(prog >= 0);
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    REQUIRE(bpf_obj_get_info_by_fd(prog, &info, &len) == 0);
    int link = bpf_link_get_fd_by_id(s.link_id());  // what `bpftool link update` would do
    REQUIRE(link >= 0);
    REQUIRE(bpf_link_update(link, prog, nullptr) == 0);
    close(link);
    std::string problem = s.check();
    CHECK(problem.find("now runs program id " + std::to_string(info.id)) != std::string::npos);
    CHECK(problem.find("another program replaced it") != std::string::npos);
    uint64_t steered = s.counters().steered;
    CHECK(connect_to("127.0.0.1", 35105) == -ECONNREFUSED);  // passed on: nothing is bound there
    CHECK(s.counters().steered == steered);                  // our program no longer runs
    // Something bound there now gets the connections: the normal lookup decides.
    int plain = plain_listener("127.0.0.1", 35106);
    REQUIRE(plain >= 0);
    int c = connect_to("127.0.0.1", 35106);
    CHECK(c >= 0);
    auto [worker, server] = accept_any({plain});
    CHECK(worker == 0);
    for (int fd : {c, server, plain, prog})
        if (fd >= 0) close(fd);
}

TEST_CASE("no privilege: the error names CAP_BPF and CAP_NET_ADMIN") {
    Child unprivileged([] {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        if (syscall(SYS_capget, &header, data) != 0) return std::string("capget failed");
        for (int cap : {CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN}) data[cap / 32].effective &= ~(1u << (cap % 32));
        if (syscall(SYS_capset, &header, data) != 0) return std::string("capset failed");
        try {
            Steering s(options_for({"127.0.0.1:36000-36099"}));
        } catch (const SteeringError& e) {
            std::string what = e.what();
            if (e.kind == SteeringError::Kind::unavailable && e.capability.find("CAP_BPF") != std::string::npos &&
                what.find("CAP_NET_ADMIN") != std::string::npos)
                return std::string();
            return "unexpected error: " + what;
        }
        return std::string("steering attached without privilege");
    });
    CHECK(unprivileged.error() == "");
    CHECK(connect_to("127.0.0.1", 36000) == -ECONNREFUSED);
}

int main(int argc, char** argv) {
    enter_private_netns(120);
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
