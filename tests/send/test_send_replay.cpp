// `sockframe replay` against a loopback listener: every byte the server receives is
// checked; --raw in 7-byte writes stops at a malformed message with the exact prefix
// delivered, the jsonl error naming the rule and offset, and exit status 1.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <thread>

#include "../kernel/kernel_harness.hpp"
#include "send_harness.hpp"

using namespace sockframe;
using namespace sockframe::testing;

namespace {

struct Run {
    int status = -1;
    std::string out;
    Bytes received;
};

// Runs replay with `args` against a fresh listener and reads everything it sends.
Run replay(const std::string& file, const std::string& args) {
    Listener l;
    Run run;
    std::thread server([&] {
        int fd = accept(l.fd, nullptr, nullptr);
        if (fd < 0) return;
        run.received = read_until(fd, SIZE_MAX, 3000);
        close(fd);
    });
    std::string cmd = std::string(std::getenv("SOCKFRAME_BIN")) + " replay dns " + file +
                      " --connect 127.0.0.1:" + std::to_string(l.port()) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    while (p && std::fgets(buf, sizeof buf, p)) run.out += buf;
    run.status = p ? pclose(p) : -1;
    server.join();
    return run;
}

Bytes capture(size_t n) {
    std::vector<Bytes> msgs;
    for (size_t i = 0; i < n; i++) msgs.push_back(dns_message(14 + (i * 37) % 500, i));
    return concat(msgs);
}

}  // namespace

TEST_CASE("replay --pieces 8: every message arrives, about one segment each") {
    TempDir dir;
    Bytes want = capture(200);
    std::string file = dir.file("cap.bin", std::string(want.begin(), want.end()));
    Run r = replay(file, "--pieces 8 --require-kernel --format jsonl");
    CAPTURE(r.out);
    CHECK(WEXITSTATUS(r.status) == 0);
    CHECK(r.received == want);
    CHECK(r.out.find("\"messages\":200") != std::string::npos);
    auto at = r.out.find("\"segments\":");
    REQUIRE(at != std::string::npos);
    unsigned long segments = std::strtoul(r.out.c_str() + at + 11, nullptr, 10);
    CHECK(segments <= 220);  // <= 1.1 segments per message
}

TEST_CASE("replay --raw --chunk 7 with a malformed message: exact prefix, jsonl error, exit 1") {
    for (const char* mode : {"--require-kernel", "--userspace"}) {
        CAPTURE(mode);
        TempDir dir;
        Bytes good = capture(40);
        Bytes bad = dns_message(20, 1);
        bad[0] = 0, bad[1] = 3;
        Bytes stream = good;
        stream.insert(stream.end(), bad.begin(), bad.end());
        Bytes more = capture(5);
        stream.insert(stream.end(), more.begin(), more.end());
        std::string file = dir.file("bad.bin", std::string(stream.begin(), stream.end()));
        Run r = replay(file, std::string("--raw --chunk 7 --format jsonl ") + mode);
        CAPTURE(r.out);
        CHECK(WEXITSTATUS(r.status) == 1);
        CHECK(r.received == good);
        CHECK(r.out.find("\"rule\":\"too_short\",\"offset\":" + std::to_string(good.size()) + "}") !=
              std::string::npos);
    }
}

int main(int argc, char** argv) {
    require_kernel_or_skip("replay through the kernel send side");
    alarm(120);
    return with_kernel_log_check("the replay tests", [&] { return doctest::Context(argc, argv).run(); });
}
