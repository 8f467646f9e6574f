// Shared plumbing for kernel-path tests: privilege check (SKIPPED, exit 77),
// loopback socket pairs, deadline-bounded receiving and the dmesg check.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "load/parser_program.hpp"
#include "support.hpp"
#include <sockframe/connection.hpp>
#include <sockframe/receiver.hpp>

namespace sockframe::testing {

inline std::string kernel_log_marks() {
    FILE* p = popen("dmesg 2>/dev/null | grep -E 'kernel BUG|WARNING: CPU|seq # bug|BUG: |Oops'", "r");
    std::string out;
    if (!p) return out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

// Runs `run` (the doctest cases) and fails the run when dmesg gained BUG/WARNING lines
// meanwhile: a kernel that complained is a failure even if every check passed.
inline int with_kernel_log_check(const char* during, const std::function<int()>& run) {
    std::string before = kernel_log_marks();
    int rc = run();
    std::string after = kernel_log_marks();
    if (after != before) {
        std::printf("FAIL: new kernel BUG/WARNING lines in dmesg during %s:\n%s", during,
                    after.substr(std::min(before.size(), after.size())).c_str());
        rc = 1;
    }
    return rc;
}

struct Got {
    std::vector<std::vector<uint8_t>> messages;
    std::vector<uint64_t> offsets;
    std::string error;   // FramingError::message if one ended the stream
    bool ended = false;  // clean end
    bool timed_out = false;
};

// How receive_until waits after would_block. `retrying` polls for at most 200 ms at a time,
// so a wake-up the connection fails to signal only costs time; `level_triggered` says so
// to the connection (set_level_triggered) and waits on poll_fd() for as long as is left,
// so a missed wake-up ends the call with timed_out.
enum class Waiting { retrying, level_triggered };

// Receives (non-blocking + poll) until `want` messages, an error/end, or the deadline.
inline void receive_until(Connection& c, Got& got, size_t want, double seconds, bool until_end = false,
                          Waiting waiting = Waiting::retrying) {
    c.set_nonblocking(true);
    if (waiting == Waiting::level_triggered) c.set_level_triggered(true);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        Received r = c.receive();
        if (r.status == ReceiveStatus::message) {
            got.messages.emplace_back(r.message.bytes.begin(), r.message.bytes.end());
            got.offsets.push_back(r.message.offset);
            if (!until_end && got.messages.size() >= want) return;
            continue;
        }
        if (r.status == ReceiveStatus::error) {
            got.error = r.error->message;
            return;
        }
        if (r.status == ReceiveStatus::end) {
            got.ended = true;
            return;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            got.timed_out = true;
            return;
        }
        pollfd p{c.poll_fd(), POLLIN, 0};
        if (waiting == Waiting::retrying) {
            poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 200)));
        } else if (poll(&p, 1, static_cast<int>(left.count())) == 0) {
            got.timed_out = true;
            return;
        }
    }
}

}  // namespace sockframe::testing
