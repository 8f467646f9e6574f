#include <sockframe/receiver.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include "receive/delivery_probe.hpp"
#include "receive/kernel_receiver.hpp"

namespace sockframe {
namespace {

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

}  // namespace

std::unique_ptr<Receiver> open_receiver(const Description& d, const ReceiverOptions& o, ReceiverTimings* timings) {
    auto desc = std::make_shared<const Description>(d);
    if (o.mode == Mode::userspace) return make_userspace_receiver(desc);
    ReceiverTimings t;
    try {
        check_kernel_path_fits(d, o.load);
        ParserBuildInfo built;
        auto program = load_parser(d, o.load, o.object_path, &built);
        t.generate_compile_ms = built.generate_compile_ms;
        t.from_cache = built.from_cache;
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
        return make_userspace_receiver(desc);
    }
}

}  // namespace sockframe
