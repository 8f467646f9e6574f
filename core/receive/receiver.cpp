#include <sockframe/receiver.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>

#include "receive/delivery_probe.hpp"
#include "receive/kernel_receiver.hpp"
#include "receive/uring_probe.hpp"
#include "receive/uring_receiver.hpp"

namespace sockframe {
namespace {

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

// The userspace path with the engine the options ask for.
std::unique_ptr<Receiver> userspace_receiver(std::shared_ptr<const Description> d, Engine engine) {
    if (engine == Engine::epoll) return make_userspace_receiver(std::move(d));
    const std::string& why = uring_unavailable_reason();
    if (why.empty()) return make_uring_receiver(std::move(d), engine == Engine::io_uring);
    if (engine == Engine::io_uring) throw std::runtime_error("sockframe: io_uring engine unavailable: " + why);
    return make_userspace_receiver(std::move(d));  // automatic: epoll, the reason in io_uring_unavailable()
}

}  // namespace

const std::string& io_uring_unavailable() {
    return uring_unavailable_reason();
}

std::unique_ptr<Receiver> open_receiver(const Description& d, const ReceiverOptions& o, ReceiverTimings* timings) {
    auto desc = std::make_shared<const Description>(d);
    if (o.mode == Mode::userspace) return userspace_receiver(desc, o.engine);
    ReceiverTimings t;
    try {
        check_kernel_path_fits(d, o.load);
        ParserBuildInfo built;
        auto program = load_parser(d, o.load, o.object_path, &built);
        t.generate_compile_ms = built.generate_compile_ms;
        t.from_cache = built.from_cache;
        t.precompiled = built.precompiled;
        t.load_ms = program->load_ms();
        t.verified_insns = program->verified_insns();
        auto r = make_kernel_receiver(desc, program, [warn = o.warn](const std::string& line) {
            if (warn)
                warn(line);
            else
                std::cerr << line << std::endl;
        });
        if (o.probe) {
            auto start = std::chrono::steady_clock::now();
            std::string failed = probe_kernel_delivery(*r, *desc);
            t.probe_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            if (!failed.empty())
                throw BpfLoadError("the kernel path failed its start-up probe on this kernel: " + failed, EIO);
        }
        if (timings) *timings = t;
        return r;
    } catch (const std::exception& e) {
        if (o.mode == Mode::kernel) throw;
        std::string line =
            "sockframe: warning: kernel framing unavailable, using the userspace framer: " + first_line(e.what());
        if (o.warn)
            o.warn(line);
        else
            std::cerr << line << std::endl;
        if (timings) *timings = t;
        return userspace_receiver(desc, o.engine);
    }
}

}  // namespace sockframe
