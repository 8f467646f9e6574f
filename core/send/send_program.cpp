#include "send/send_program.hpp"

#include <bpf/bpf.h>

#include <sockframe/bpf_compiler.hpp>

namespace sockframe {

SendProgram::SendProgram(std::span<const uint8_t> object, const std::string& name, const SenderOptions& options)
    : object_(ObjectSpec{
          object,
          name,
          "send-side program",
          {{SF_MAP_SEND_SOCKETS, options.max_sockets}},
          {ObjectSetting::of<uint64_t>("sf_cork_max", options.cork_max)},
          options.verifier_log_path,
      }) {
    verified_insns_ = object_.verified_insns(SF_PROG_SEND);
    object_.attach_to_map(SF_PROG_SEND, SF_MAP_SEND_SOCKETS, BPF_SK_MSG_VERDICT);
}

std::shared_ptr<const SendProgram> load_send_program(const Description& d, const SenderOptions& options) {
    BpfObjectFile obj = compile_bpf(generate_bpf_send_c(d));
    return std::make_shared<const SendProgram>(obj.bytes, d.symbol() + "_send", options);
}

}  // namespace sockframe
