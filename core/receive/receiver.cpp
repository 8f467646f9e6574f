#include <sockframe/receiver.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>
#include "receive/delivery_probe.hpp"
#include "receive/kernel_receiver.hpp"

namespace sockframe {
namespace {

std::vector<uint8_t> object_for(const Description& d, const ReceiverOptions& o, ReceiverTimings& t) {
    if (!o.object_path.empty()) {
        std::ifstream in(o.object_path, std::ios::binary);
        if (!in) throw BpfLoadError("cannot read BPF object " + o.object_path, ENOENT);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    auto start = std::chrono::steady_clock::now();
    BpfObjectFile obj = compile_bpf(generate_bpf_c(d));
    t.from_cache = obj.from_cache;
    if (!obj.from_cache)
        t.generate_compile_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return std::move(obj.bytes);
}

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

}  // namespace

std::unique_ptr<Receiver> open_receiver(const Description& d, const ReceiverOptions& o, ReceiverTimings* timings) {
    auto desc = std::make_shared<const Description>(d);
    if (o.mode == Mode::userspace) return make_userspace_receiver(desc);
    ReceiverTimings t;
    try {
        std::vector<uint8_t> object = object_for(d, o, t);
        KernelReceiverInfo info;
        auto r = make_kernel_receiver(desc, object, o.load, &info, [warn = o.warn](const std::string& line) {
            if (warn)
                warn(line);
            else
                std::cerr << line << std::endl;
        });
        t.load_ms = info.load_ms;
        t.verified_insns = info.verified_insns;
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
