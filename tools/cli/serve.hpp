// `sockframe serve`: accept connections and print (or echo) every framed message.
#pragma once

#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/receiver.hpp>
#include "output.hpp"

namespace sockframe::cli {

struct ServeOptions {
    std::vector<std::string> listen = {"127.0.0.1:5353"};  // HOST:PORT, HOST[/PREFIX]:LOW-HIGH, [V6]:PORT
    unsigned workers = 1;     // threads, each with its own listener and event loop
    bool take_over = false;   // steer ports another socket listens on
    Format format = Format::text;
    bool echo = false;
    bool quiet = false;  // no per-message lines (benchmarks)
    unsigned max_connections = 1024;
    unsigned long long exit_after = 0;  // stop after this many messages (0: run until a signal)
    unsigned message_timeout_ms = 0;    // close a peer silent this long inside a message (0: never)
    ReceiverOptions receiver;
};

int serve(const Description& d, const ServeOptions& o);

}  // namespace sockframe::cli
