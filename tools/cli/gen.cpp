// `sockframe gen`: print the BPF C generated from a description.
#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>
#include <sockframe/sender.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    write_output(a.value("-o"), a.flag("--send") ? generate_bpf_send_c(d) : generate_bpf_c(d));
    if (a.flag("--headers")) write_bpf_headers(a.value("--headers"));
    return 0;
}

}  // namespace

const Command gen_command{"gen",
                          "DESCRIPTION [-o FILE] [--headers DIR] [--send]",
                          "print the generated BPF C (readable, deterministic)",
                          {
                              {"-o", "FILE", "write it to FILE instead of stdout"},
                              {"--headers", "DIR", "also write the headers it includes into DIR"},
                              {"--send", "", "the send-side program (SK_MSG) instead of the parser"},
                          },
                          run};

}  // namespace sockframe::cli
