// Real first messages from real clients (openssl s_client and gnutls-cli
// ClientHellos, psql's StartupMessage, mosquitto_pub's CONNECT in MQTT 3.1.1 and
// 5), captured at run time on a loopback listener: the shipped first_key finds
// the name the client was given, and the generated C (host build) and the
// kernel (socket-filter twin, when root) find the same bytes.
// With SOCKFRAME_ROUTE_CAPTURE_DIR set, the captures are written there as
// <description>--<what>.bin (how tests/differential/route_corpus was made).
// A client that is not installed is a failure: scripts/client-packages.txt
// installs them all.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/load_options.hpp>
#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>

#include "../differential/route_diff.hpp"
#include "route_probe.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"

extern char** environ;

using namespace sockframe;

namespace {

std::string source_dir() {
    const char* d = std::getenv("SOCKFRAME_SOURCE_DIR");
    return d ? d : ".";
}

// Starts argv with {port} replaced, silenced; the caller kills it.
pid_t spawn_client(std::vector<std::string> argv, uint16_t port) {
    for (auto& a : argv)
        for (size_t at = a.find("{port}"); at != std::string::npos; at = a.find("{port}"))
            a.replace(at, 6, std::to_string(port));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; e++) env_s.push_back(*e);
    env_s.push_back("PGCONNECT_TIMEOUT=10");
    std::vector<char*> env;
    for (auto& e : env_s) env.push_back(e.data());
    env.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0] << ": " << std::strerror(rc));
    return pid;
}

// The first message a client sends, framed by `d` (empty on timeout).
std::vector<uint8_t> capture(const Description& d, const std::vector<std::string>& argv) {
    REQUIRE_MESSAGE(!find_in_path(argv[0]).empty(),
                    argv[0] << " is not installed (scripts/client-packages.txt; bash scripts/setup.sh)");
    sockaddr_in addr{};
    Fd listener = loopback_listener(addr, 4);
    REQUIRE(listener.fd >= 0);
    pid_t pid = spawn_client(argv, ntohs(addr.sin_port));
    std::vector<uint8_t> out;
    pollfd p{listener.fd, POLLIN, 0};
    if (poll(&p, 1, 10000) == 1) {
        Fd conn(accept(listener.fd, nullptr, nullptr));
        UserspaceFramer framer(d);
        uint8_t buf[4096];
        for (;;) {
            pollfd q{conn.fd, POLLIN, 0};
            if (poll(&q, 1, 10000) != 1) break;
            ssize_t n = recv(conn.fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            framer.feed({buf, static_cast<size_t>(n)});
            auto r = framer.next();
            if (r.status == UserspaceFramer::Status::message) {
                out.assign(r.message.bytes.begin(), r.message.bytes.end());
                break;
            }
            if (r.status == UserspaceFramer::Status::error) break;
        }
    }
    kill(pid, SIGKILL);  // our own child, by pid
    int status = 0;
    waitpid(pid, &status, 0);
    return out;
}

struct Client {
    const char* description;  // parsers/<name>.toml
    const char* what;         // capture file name part
    std::vector<std::string> argv;
    const char* key;  // what first_message_key must return
};

const Client kClients[] = {
    {"tls-records",
     "openssl-s-client",
     {"openssl", "s_client", "-connect", "127.0.0.1:{port}", "-servername", "Www.Example.COM", "-quiet"},
     "www.example.com"},
    {"tls-records",
     "openssl-s-client-tls12",
     {"openssl", "s_client", "-connect", "127.0.0.1:{port}", "-servername", "api.example.net", "-tls1_2", "-quiet"},
     "api.example.net"},
    // A 1 KiB ffdhe8192 key share: a ClientHello of ~1.4 KB (what post-quantum shares look like in size).
    {"tls-records",
     "openssl-s-client-ffdhe8192",
     {"openssl", "s_client", "-connect", "127.0.0.1:{port}", "-servername", "big.example.org", "-groups",
      "ffdhe8192:x25519", "-tls1_3", "-quiet"},
     "big.example.org"},
    {"tls-records",
     "gnutls-cli",
     {"gnutls-cli", "--insecure", "-p", "{port}", "--sni-hostname=Mail.Example.ORG", "127.0.0.1"},
     "mail.example.org"},
    {"postgresql",
     "psql",
     {"psql", "host=127.0.0.1 port={port} dbname=Orders user=alice sslmode=disable gssencmode=disable", "-c",
      "select 1"},
     "Orders"},
    {"mqtt",
     "mosquitto-pub-v311",
     {"mosquitto_pub", "-h", "127.0.0.1", "-p", "{port}", "-i", "sensor-17", "-t", "t", "-m", "x", "-V", "mqttv311"},
     "sensor-17"},
    {"mqtt",
     "mosquitto-pub-v5",
     {"mosquitto_pub",
      "-h",
      "127.0.0.1",
      "-p",
      "{port}",
      "-i",
      "sensor-5",
      "-t",
      "t",
      "-m",
      "x",
      "-V",
      "mqttv5",
      "-D",
      "connect",
      "session-expiry-interval",
      "60",
      "-D",
      "connect",
      "user-property",
      "site",
      "north"},
     "sensor-5"},
};

}  // namespace

TEST_CASE("real clients' first messages carry the keys they were given, on every implementation") {
    const char* out_dir = std::getenv("SOCKFRAME_ROUTE_CAPTURE_DIR");
    bool root = missing_kernel_capabilities().empty();
    std::vector<Description> descs;
    std::vector<std::string> sources;
    for (const Client& c : kClients) {
        descs.push_back(load_description_file(source_dir() + "/parsers/" + c.description + ".toml"));
        sources.push_back(generate_bpf_c(descs.back()));
    }
    diff::HostParsers hp(sources);
    std::mt19937_64 rng(3);
    for (size_t i = 0; i < std::size(kClients); i++) {
        const Client& c = kClients[i];
        const Description& d = descs[i];
        CAPTURE(c.what);
        std::vector<uint8_t> m = capture(d, c.argv);
        REQUIRE_MESSAGE(!m.empty(), c.what << ": no whole first message within 10 s");
        KeyLookup k = find_key(*d.route->first_key, m);
        CHECK_MESSAGE(k.found, k.why);
        CHECK(k.bytes == c.key);
        CHECK(first_message_key(d, m) == std::optional<std::string>(c.key));
        diff::RouteVerdict v = diff::check_route(d, hp.route(i), hp.first_key(i), m, rng);
        CHECK_MESSAGE(v.ok, v.problem);
        if (root && m.size() <= test::RouteProbe::kMaxMessage) {
            test::RouteProbe probe(d);
            test::ProbeResult r = probe.run(m, true);
            CHECK(r.key.has_key == 1);
            CHECK(r.key.hash == k.hash);
            CHECK(std::string(reinterpret_cast<const char*>(r.key.bytes), r.key.len) == c.key);
        }
        std::printf("%-28s %5zu bytes, key \"%s\" at byte %llu\n", c.what, m.size(), k.bytes.c_str(),
                    (unsigned long long)k.offset);
        if (out_dir) {
            std::ofstream f(std::string(out_dir) + "/" + d.name + "--" + c.what + ".bin", std::ios::binary);
            f.write(reinterpret_cast<const char*>(m.data()), static_cast<std::streamsize>(m.size()));
        }
    }
}
