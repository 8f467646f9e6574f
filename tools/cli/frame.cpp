// `sockframe frame`: frame a captured byte stream offline with the userspace framer.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <sockframe/userspace_framer.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    Format f = a.format();
    std::string path = a.positional().size() > 1 ? a.positional()[1] : "-";
    FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    UserspaceFramer framer(d);
    unsigned long long count = 0;
    const FramingError* error = nullptr;
    std::optional<FramingError> tail;
    for (;;) {
        auto space = framer.write_space(64 * 1024);
        size_t n = std::fread(space.data(), 1, space.size(), in);
        framer.commit(n);
        for (;;) {
            auto r = framer.next();
            if (r.status == UserspaceFramer::Status::message) {
                print_message(stdout, f, -1, r.message.offset, r.message.bytes);
                count++;
                continue;
            }
            if (r.status == UserspaceFramer::Status::error) error = r.error;
            break;
        }
        if (error || n == 0) break;
    }
    if (in != stdin) std::fclose(in);
    if (!error) {
        tail = framer.finish();
        if (tail) error = &*tail;
    }
    if (error) print_error(stdout, f, -1, *error);
    if (f == Format::jsonl)
        std::printf("{\"summary\":{\"messages\":%llu,\"bytes\":%llu,\"ok\":%s}}\n", count,
                    static_cast<unsigned long long>(framer.stream_offset()), error ? "false" : "true");
    else
        std::printf("%llu messages, %llu bytes framed%s\n", count,
                    static_cast<unsigned long long>(framer.stream_offset()),
                    error ? ", stopped by a framing error" : "");
    return error ? 1 : 0;
}

}  // namespace

const Command frame_command{"frame",
                            "DESCRIPTION [FILE|-]",
                            "frame a captured byte stream offline (userspace framer)",
                            {{"--format", "text|jsonl", "one line per message"}},
                            run};

}  // namespace sockframe::cli
