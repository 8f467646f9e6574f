#include "route_probe.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>

namespace sockframe::test {
namespace {

// Mirrors struct probe_state in route_probe.bpf.h.
struct ProbeState {
    uint64_t opaque, avail, pos, count, whole, first_key;
    sf_route route;
    sf_key key;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string source_dir() {
    const char* d = std::getenv("SOCKFRAME_SOURCE_DIR");
    return d ? d : ".";
}

std::string tail(const std::string& s, size_t n) {
    return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

uint32_t verified_insns(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
    return info.verified_insns;
}

}  // namespace

std::string probe_source(const Description& d) {
    std::string c = generate_bpf_c(d);
    const std::string runtime = "#include \"sockframe_runtime.bpf.h\"";
    size_t at = c.find(runtime);
    if (at == std::string::npos) throw std::runtime_error("generated C does not include the runtime");
    return c.substr(0, at) + read_file(source_dir() + "/tests/route/route_probe.bpf.h") + c.substr(at + runtime.size());
}

RouteProbe::RouteProbe(const Description& d) {
    BpfObjectFile file = compile_bpf(probe_source(d));
    std::vector<char> log(1 << 20);
    bpf_object_open_opts opts{};
    opts.sz = sizeof opts;
    opts.object_name = "route_probe";
    opts.kernel_log_buf = log.data();
    opts.kernel_log_size = log.size();
    opts.kernel_log_level = 1;
    obj_ = bpf_object__open_mem(file.bytes.data(), file.bytes.size(), &opts);
    if (!obj_) throw std::runtime_error("bpf_object__open_mem failed: " + std::string(std::strerror(errno)));
    if (int err = bpf_object__load(obj_); err != 0) {
        std::string text(log.data());
        bpf_object__close(obj_);
        obj_ = nullptr;
        throw std::runtime_error("the kernel refused the route probe for " + d.name + " (" + std::strerror(-err) +
                                 "); verifier log ends:\n" + tail(text, 3000));
    }
    bpf_program* parser = bpf_object__find_program_by_name(obj_, "probe_parser");
    bpf_program* filter = bpf_object__find_program_by_name(obj_, "probe_filter");
    bpf_map* state = bpf_object__find_map_by_name(obj_, "probe");
    if (!parser || !filter || !state) throw std::runtime_error("route probe object lacks its programs or map");
    parser_insns_ = verified_insns(bpf_program__fd(parser));
    filter_fd_ = bpf_program__fd(filter);
    filter_insns_ = verified_insns(filter_fd_);
    state_fd_ = bpf_map__fd(state);
}

RouteProbe::~RouteProbe() {
    if (obj_) bpf_object__close(obj_);
}

ProbeResult RouteProbe::run(std::span<const uint8_t> message, bool first_key) {
    if (message.size() > kMaxMessage) throw std::invalid_argument("message too large for BPF_PROG_TEST_RUN");
    uint32_t zero = 0;
    ProbeState st{};
    st.whole = 1;
    st.first_key = first_key ? 1 : 0;
    st.route.key_hash = 0xdeadbeef;  // must be overwritten
    if (bpf_map_update_elem(state_fd_, &zero, &st, BPF_ANY) != 0)
        throw std::runtime_error("probe map update: " + std::string(std::strerror(errno)));
    // test_run takes an Ethernet frame and pulls its header off for socket filters.
    std::vector<uint8_t> frame(ETH_HLEN + message.size());
    frame[12] = 0x88;  // EtherType 0x88b5 (local experimental): not IPv4, so short packets are fine
    frame[13] = 0xb5;
    if (!message.empty()) std::memcpy(frame.data() + ETH_HLEN, message.data(), message.size());
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                .repeat = 1);
    if (bpf_prog_test_run_opts(filter_fd_, &o) != 0)
        throw std::runtime_error("BPF_PROG_TEST_RUN with a " + std::to_string(message.size()) +
                                 "-byte message: " + std::string(std::strerror(errno)));
    if (bpf_map_lookup_elem(state_fd_, &zero, &st) != 0)
        throw std::runtime_error("probe map lookup: " + std::string(std::strerror(errno)));
    if (st.avail != message.size())
        throw std::runtime_error("the probe saw " + std::to_string(st.avail) + " bytes, not " +
                                 std::to_string(message.size()));
    return {st.route, st.key};
}

}  // namespace sockframe::test
