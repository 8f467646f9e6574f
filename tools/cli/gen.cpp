// `sockframe gen`: print the BPF C generated from a description.
#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    write_output(a.value("-o"), generate_bpf_c(d));
    if (a.flag("--headers")) write_bpf_headers(a.value("--headers"));
    return 0;
}

}  // namespace

const Command gen_command{"gen",
                          "DESCRIPTION [-o FILE] [--headers DIR]",
                          "print the generated BPF C (readable, deterministic)",
                          {
                              {"-o", "FILE", "write it to FILE instead of stdout"},
                              {"--headers", "DIR", "also write the headers it includes into DIR"},
                          },
                          run};

}  // namespace sockframe::cli
