// What the steering tests share: a private network namespace for the whole test
// process (nothing on the host sees its sk_lookup links or ports), connections with
// timeouts, accepting on any worker, and child processes that hold a port or a
// Steering until killed.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sockframe/steering.hpp>

namespace sockframe::steer_test {

// Root check (exit 77 = SKIP), then unshare(CLONE_NEWNET), lo up, and a hard alarm.
// Call first in main, before any thread exists.
void enter_private_netns(unsigned alarm_seconds);

// A TCP connection to `address`:`port` ("127.0.0.1", "::1"), blocking with a 2 s
// timeout: the fd, or -errno (ECONNREFUSED when nothing takes it).
int connect_to(const std::string& address, uint16_t port);

// Waits up to 2 s for a connection on any of `listeners`: {which listener, fd}, or {-1, -1}.
std::pair<int, int> accept_any(const std::vector<int>& listeners);

// Sends `text` on `client`, reads it on `server`, and back: true if every byte matched.
bool round_trip(int client, int server, const std::string& text);

// The local port and address family of a connected socket (an IPv4 peer of a
// dual-stack listener shows as AF_INET6 with a v4-mapped address).
uint16_t local_port(int fd);
std::string local_address(int fd);

// A forked child that runs `body` (after which it waits to be killed), signalling
// readiness (or an error text) through a pipe. Killed with SIGKILL when destroyed.
class Child {
public:
    // `body` returns "" when ready, else an error for the parent.
    explicit Child(const std::function<std::string()>& body);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    const std::string& error() const { return error_; }
    void kill_and_wait();

private:
    pid_t pid_ = -1;
    std::string error_;
};

// A plain listener on address:port (SO_REUSEADDR); -errno on failure.
int plain_listener(const std::string& address, uint16_t port);

}  // namespace sockframe::steer_test
