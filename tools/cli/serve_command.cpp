// `sockframe serve`: its options, turned into ServeOptions.
#include <algorithm>
#include <thread>

#include "command.hpp"
#include "serve.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    ServeOptions o;
    if (!a.values("--listen").empty()) o.listen = a.values("--listen");
    o.workers = static_cast<unsigned>(a.number("--workers", std::max(1u, std::thread::hardware_concurrency())));
    if (o.workers == 0) usage_error(a.command(), "--workers must be at least 1");
    o.take_over = a.flag("--take-over");
    o.format = a.format();
    o.echo = a.flag("--echo");
    o.quiet = a.flag("--quiet");
    o.max_connections = static_cast<unsigned>(a.number("--max-connections", 1024));
    if (o.max_connections == 0) usage_error(a.command(), "--max-connections must be at least 1");
    o.exit_after = a.number("--exit-after", 0);
    if (a.flag("--userspace") && a.flag("--require-kernel"))
        usage_error(a.command(), "--userspace and --require-kernel exclude each other");
    o.receiver.mode = a.flag("--userspace")        ? Mode::userspace
                      : a.flag("--require-kernel") ? Mode::kernel
                                                   : Mode::automatic;
    o.receiver.object_path = a.value("--object");
    if (a.flag("--per-message")) o.receiver.load.batch_max_msgs = 1;
    o.receiver.load.in_flight_max = a.number("--max-in-flight", 0);
    o.receiver.load.stall_timeout_ms = static_cast<uint32_t>(a.number("--stall-timeout", 1000));
    o.message_timeout_ms = static_cast<unsigned>(a.number("--message-timeout", 0));
    return serve(d, o);
}

}  // namespace

const Command serve_command{
    "serve",
    "DESCRIPTION [options]",
    "frame every connection and print each message",
    {
        {"--listen", "HOST:PORT|HOST[/PREFIX]:LOW-HIGH",
         "default 127.0.0.1:5353; IPv6 as [::1]:PORT. One HOST:PORT is\nbound (SO_REUSEPORT per worker); ranges, prefixes and\nseveral entries are steered with sk_lookup (CAP_BPF,\nCAP_NET_ADMIN)",
         true},
        {"--workers", "N", "threads, each with its own listener (default: CPUs)"},
        {"--take-over", "", "steer ports another socket already listens on"},
        {"--format", "text|jsonl", "one line per message (jsonl: conn, offset, len, hex)"},
        {"--echo", "", "send each whole message back to its sender"},
        {"--max-connections", "N", "default 1024 (also the sockmap size)"},
        {"--userspace", "", "use the userspace framer instead of the kernel"},
        {"--require-kernel", "", "fail instead of falling back to userspace"},
        {"--object", "FILE.bpf.o", "load a parser made by `sockframe build`"},
        {"--per-message", "", "one message per parser call (no batching)"},
        {"--max-in-flight", "BYTES",
         "kernel path: how far the kernel may run ahead of the\nreader before the connection moves to userspace "
         "framing\n(default 4 x max_message, at least 8 MiB)"},
        {"--stall-timeout", "MS",
         "kernel path: move a stalled connection to userspace\nframing after MS ms (default 1000; 0 = never)"},
        {"--message-timeout", "MS",
         "close a peer that sends part of a message and then\nnothing for MS ms, with a `stalled` error (default 0: "
         "wait)"},
        {"--exit-after", "N", "stop after N messages"},
        {"--quiet", "", "print no per-message lines"},
    },
    run};

}  // namespace sockframe::cli
