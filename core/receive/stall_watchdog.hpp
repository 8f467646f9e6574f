// Stall detection for kernel-path connections. strparser only runs when the
// socket signals data-ready; if that signal is lost (a kernel bug, SO_RCVLOWAT
// raised by someone, the socket removed from the sockmap by another program),
// bytes sit in the socket and the application waits forever. One thread per
// receiver notices a socket with bytes the parser has not seen and no progress
// for `timeout`, asks the parser to hand the connection to userspace framing,
// and if the parser never runs, takes the socket out of the sockmap itself.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sockframe_abi.h"

namespace sockframe {

class ParserProgram;

struct WatchedSocket {
    int socket = -1;
    uint64_t cookie = 0;
    int wake_fd = -1;                 // eventfd in the connection's poll set
    std::atomic<bool> forced{false};  // the watchdog took the socket out of the sockmap
    std::atomic<uint32_t> stalls{0};  // stalls detected on this socket

    // Held while the watchdog uses `socket`/`wake_fd`; `gone` is set under it by forget(),
    // after which the connection may close them.
    std::mutex guard;
    bool gone = false;

    // Watchdog-private progress signature and how long it has not changed.
    uint64_t calls = 0, forwarded = 0, received = UINT64_MAX;
    std::chrono::steady_clock::time_point since{};
    bool requested = false;
};

class StallWatchdog {
public:
    StallWatchdog(const ParserProgram& program, std::chrono::milliseconds timeout);
    ~StallWatchdog();
    StallWatchdog(const StallWatchdog&) = delete;
    StallWatchdog& operator=(const StallWatchdog&) = delete;

    void watch(std::shared_ptr<WatchedSocket> s);
    // On return the watchdog no longer touches s's socket: the caller may close it.
    void forget(WatchedSocket* s);

private:
    void run();
    void read_states(const std::vector<std::shared_ptr<WatchedSocket>>& sweep,
                     std::unordered_map<uint64_t, sf_conn>& states);
    void check(WatchedSocket& s, const sf_conn& st, std::chrono::steady_clock::time_point now);

    const ParserProgram& program_;
    std::chrono::milliseconds timeout_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::vector<std::shared_ptr<WatchedSocket>> sockets_;
    std::vector<uint64_t> keys_;  // batch lookup buffers, reused across sweeps
    std::vector<sf_conn> values_;
    std::thread thread_;
};

}  // namespace sockframe
