#include "receive/stall_watchdog.hpp"

#include <bpf/bpf.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>

#include "load/parser_program.hpp"
#include "receive/tcp_counters.hpp"
#include "sockframe_abi.h"

namespace sockframe {

StallWatchdog::StallWatchdog(const ParserProgram& program, std::chrono::milliseconds timeout)
    : program_(program), timeout_(timeout) {
    // The thread is born with every signal blocked: signals stay the application's
    // (a server that reads SIGTERM from a signalfd must not be killed through this thread).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

StallWatchdog::~StallWatchdog() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void StallWatchdog::watch(std::shared_ptr<WatchedSocket> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    sockets_.push_back(std::move(s));
}

void StallWatchdog::forget(WatchedSocket* s) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        std::erase_if(sockets_, [s](const auto& p) { return p.get() == s; });
    }
    std::lock_guard<std::mutex> lock(s->guard);  // waits for a check of s in progress
    s->gone = true;
}

void StallWatchdog::run() {
    std::unordered_map<uint64_t, sf_conn> states;
    std::vector<std::shared_ptr<WatchedSocket>> sweep;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
        wake_.wait_for(lock, timeout_ / 4);
        if (stop_ || sockets_.empty()) continue;
        // Sweep a copy without the list lock, so adopting and closing connections never
        // wait for a whole sweep (milliseconds at thousands of connections).
        sweep = sockets_;
        lock.unlock();
        auto now = std::chrono::steady_clock::now();
        read_states(sweep, states);
        for (auto& s : sweep) {
            std::lock_guard<std::mutex> guard(s->guard);
            auto it = states.find(s->cookie);
            if (!s->gone && !s->forced && it != states.end()) check(*s, it->second, now);
        }
        sweep.clear();
        lock.lock();
    }
}

// Every connection's state in one system call per few thousand entries, instead of one
// lookup per connection (measured: docs/faults.md, "Watchdog cost").
void StallWatchdog::read_states(const std::vector<std::shared_ptr<WatchedSocket>>& sweep,
                                std::unordered_map<uint64_t, sf_conn>& states) {
    states.clear();
    size_t room = sweep.size() + 64;
    keys_.resize(room);
    values_.resize(room);
    if (auto n = program_.conns().lookup_all(keys_, values_)) {
        for (size_t i = 0; i < *n; i++) states.emplace(keys_[i], values_[i]);
        return;
    }
    // No batch operation (or it failed part way): one lookup per connection.
    for (auto& s : sweep)
        if (auto st = program_.conns().lookup(s->cookie)) states[s->cookie] = *st;
}

void StallWatchdog::check(WatchedSocket& s, const sf_conn& st, std::chrono::steady_clock::time_point now) {
    if (st.error || st.handed_off) return;
    uint64_t received = tcp_payload_bytes_received(s.socket);
    if (st.parser_calls != s.calls || st.forwarded != s.forwarded || received != s.received) {
        s.calls = st.parser_calls;
        s.forwarded = st.forwarded;
        s.received = received;
        s.since = now;
        return;
    }
    // Not a stall: the parser has seen every byte (it waits for the peer), or
    // strparser waits for the rest of a message whose length it knows.
    bool unseen = received > st.seen;
    bool waiting_for_rest = st.held && st.need && received < st.forwarded + st.need;
    if (!unseen || waiting_for_rest || now - s.since < timeout_) return;
    if (!s.requested) {
        // Ask the parser to hand off at its next call, and make it run: setting
        // SO_RCVLOWAT signals data-ready when bytes are queued.
        program_.handoff().update(s.cookie, 1);
        int lowat = 1;
        setsockopt(s.socket, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
        s.requested = true;
        s.stalls++;
        s.since = now;
        return;
    }
    // The parser did not run at all: strparser is gone or deaf. Take the socket out
    // of the sockmap; the connection then reads it directly (and reports any bytes
    // strparser had taken and can no longer give back).
    program_.sockets().erase(s.cookie);
    s.forced = true;
    uint64_t n = 1;
    if (write(s.wake_fd, &n, sizeof n) < 0) {
    }
}

}  // namespace sockframe
