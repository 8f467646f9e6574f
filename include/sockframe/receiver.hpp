// Choosing the receive path: the kernel parser when it can load, else the
// userspace framer, with one clear line saying why.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <sockframe/load_options.hpp>
#include <sockframe/connection.hpp>
#include <sockframe/description.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

enum class Mode {
    automatic,  // kernel if it loads, else userspace with a warning
    kernel,     // kernel or an exception
    userspace,
};

// How the userspace path (Mode::userspace, or automatic's fallback) reads sockets.
enum class Engine {
    automatic,  // io_uring if io_uring_unavailable() is empty, else epoll
    epoll,      // recv() when poll_fd() (the socket) is readable
    io_uring,   // one ring per connection, a multishot receive into provided buffers; or an exception
};

// "" if the io_uring engine can run in this process (liburing in the build, io_uring
// enabled, multishot receive with a provided buffer ring working: Linux 6.0+), else
// why not, in one line. Checked once, on first call, on a loopback connection.
const std::string& io_uring_unavailable();

struct ReceiverOptions {
    Mode mode = Mode::automatic;
    // The userspace path's; the kernel path ignores it. epoll by default: the io_uring
    // engine measured slower than recv + epoll here (docs/performance.md, lever 4).
    Engine engine = Engine::epoll;
    LoadOptions load;
    std::string object_path;  // a parser built by `sockframe build`; generated and compiled if empty
    std::function<void(const std::string&)> warn;  // the fallback warning (default: stderr)
    // Carry a few messages through the loaded kernel path on a throwaway loopback
    // connection before returning it; a failure counts as "kernel path unavailable".
    bool probe = true;
};

struct ReceiverTimings {
    double generate_compile_ms = 0;  // 0 when the object came from the cache or a file
    bool from_cache = false;
    bool precompiled = false;  // the object installed with sockframe for a shipped description (no compiler ran)
    double load_ms = 0;
    uint32_t verified_insns = 0;
    double probe_ms = 0;  // the start-up delivery probe (0 if not run)
};

std::unique_ptr<Receiver> open_receiver(const Description& d, const ReceiverOptions& options = {},
                                        ReceiverTimings* timings = nullptr);

}  // namespace sockframe

#pragma GCC visibility pop
