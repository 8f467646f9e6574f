#include "load/parser_program.hpp"

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>

namespace sockframe {

ParserProgram::ParserProgram(std::span<const uint8_t> object, const std::string& name, const LoadOptions& options)
    : object_(ObjectSpec{
          object,
          name,
          "parser",
          {{SF_MAP_SOCKETS, options.max_connections},
           {SF_MAP_TARGETS, options.max_connections},
           {SF_MAP_CONNS, options.max_connections},
           {SF_MAP_CONSUMED, options.max_connections},
           {SF_MAP_HANDOFF, options.max_connections}},
          {ObjectSetting::of<uint32_t>("sf_batch_max_msgs", options.batch_max_msgs),
           ObjectSetting::of<uint32_t>("sf_batch_max_bytes", options.batch_max_bytes),
           ObjectSetting::of<uint64_t>("sf_in_flight_max", options.in_flight_max)},
          options.verifier_log_path,
      }),
      options_(options) {
    verified_insns_ = object_.verified_insns(SF_PROG_PARSER);
    parser_id_ = object_.program_id(SF_PROG_PARSER);
    verdict_id_ = object_.program_id(SF_PROG_VERDICT);
    // A parser without a verdict never runs: both, parser first.
    object_.attach_to_map(SF_PROG_PARSER, SF_MAP_SOCKETS, BPF_SK_SKB_STREAM_PARSER);
    object_.attach_to_map(SF_PROG_VERDICT, SF_MAP_SOCKETS, BPF_SK_SKB_STREAM_VERDICT);
}

SocketMap<uint64_t> ParserProgram::sockets() const {
    return object_.socket_map<uint64_t>(SF_MAP_SOCKETS);
}
SocketMap<uint64_t> ParserProgram::targets() const {
    return object_.socket_map<uint64_t>(SF_MAP_TARGETS);
}
BpfMap<uint64_t, sf_conn> ParserProgram::conns() const {
    return object_.map<uint64_t, sf_conn>(SF_MAP_CONNS);
}
BpfMap<uint64_t, uint64_t> ParserProgram::consumed() const {
    return object_.map<uint64_t, uint64_t>(SF_MAP_CONSUMED);
}
BpfMap<uint64_t, uint32_t> ParserProgram::handoff() const {
    return object_.map<uint64_t, uint32_t>(SF_MAP_HANDOFF);
}

std::string ParserProgram::attachment_problem() const {
    const struct {
        bpf_attach_type type;
        uint32_t ours;
        const char* role;
    } roles[] = {{BPF_SK_SKB_STREAM_PARSER, parser_id_, "stream parser"},
                 {BPF_SK_SKB_STREAM_VERDICT, verdict_id_, "stream verdict"}};
    for (const auto& r : roles) {
        auto ids = object_.attached_to_map(SF_MAP_SOCKETS, r.type);
        // A kernel that can't answer: carry on; the stall watchdog still catches a
        // socket whose parser never runs.
        if (!ids) return {};
        if (ids->empty()) return std::string("our ") + r.role + " was detached from the sockmap by another program";
        if (ids->front() != r.ours)
            return std::string("our ") + r.role + " was replaced on the sockmap by program id " +
                   std::to_string(ids->front()) + " (another program attached it)";
    }
    return {};
}

uint64_t largest_message_limit(const Description& d) {
    uint64_t first = !d.first ? 0 : d.first->length ? d.first->max_message : d.first->preface.size();
    return std::max(d.max_message, first);
}

LoadOptions resolve_load_options(const Description& d, LoadOptions options) {
    // How far the kernel may run ahead of the application: room for a few of the
    // largest messages, so a briefly busy application stays on the kernel path.
    if (!options.in_flight_max) options.in_flight_max = std::max<uint64_t>(8 << 20, 4 * largest_message_limit(d));
    return options;
}

std::shared_ptr<const ParserProgram> load_parser(const Description& d, const LoadOptions& options,
                                                 const std::string& object_path, ParserBuildInfo* info) {
    std::vector<uint8_t> object;
    ParserBuildInfo built;
    if (!object_path.empty()) {
        std::ifstream in(object_path, std::ios::binary);
        if (!in) throw BpfLoadError("cannot read BPF object " + object_path, ENOENT);
        object.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
        auto start = std::chrono::steady_clock::now();
        BpfObjectFile obj = compile_bpf(generate_bpf_c(d));
        built.from_cache = obj.from_cache;
        if (!obj.from_cache)
            built.generate_compile_ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        object = std::move(obj.bytes);
    }
    if (info) *info = built;
    return std::make_shared<const ParserProgram>(object, d.symbol(), resolve_load_options(d, options));
}

}  // namespace sockframe
