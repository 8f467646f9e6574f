// A generated parser with tests/route/route_probe.bpf.h in place of the runtime,
// loaded into the kernel: the verifier's verdict on the generated routing
// functions called from a bpf_loop callback, and a socket-filter twin that runs
// them on given bytes (BPF_PROG_TEST_RUN). Root only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <sockframe/description.hpp>
#include "sockframe_abi.h"

struct bpf_object;

namespace sockframe::test {

struct ProbeResult {
    sf_route route{};
    sf_key key{};
};

class RouteProbe {
public:
    // Throws std::runtime_error with the verifier log's end if loading fails.
    explicit RouteProbe(const Description& d);
    ~RouteProbe();
    RouteProbe(const RouteProbe&) = delete;
    RouteProbe& operator=(const RouteProbe&) = delete;

    uint32_t parser_verified_insns() const { return parser_insns_; }
    uint32_t filter_verified_insns() const { return filter_insns_; }
    // Runs the socket-filter twin on `message` as one whole message.
    ProbeResult run(std::span<const uint8_t> message, bool first_key);

    static constexpr size_t kMaxMessage = 3000;  // test_run's packet size limit, with room to spare

private:
    bpf_object* obj_ = nullptr;
    int filter_fd_ = -1, state_fd_ = -1;
    uint32_t parser_insns_ = 0, filter_insns_ = 0;
};

// The generated C with the probe runtime, as compiled by RouteProbe.
std::string probe_source(const Description& d);

}  // namespace sockframe::test
