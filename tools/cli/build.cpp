// `sockframe build`: compile a description's parser into a BPF object.
#include <cstdio>
#include <string>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>

#include "command.hpp"

namespace sockframe::cli {
namespace {

int run(const Args& a) {
    Description d = a.description();
    std::string out = a.value("-o");
    if (out.empty()) usage_error(a.command(), "build needs -o FILE.bpf.o");
    BpfObjectFile obj = compile_bpf(generate_bpf_c(d));
    write_output(out, std::string_view(reinterpret_cast<const char*>(obj.bytes.data()), obj.bytes.size()));
    std::fprintf(stderr, "wrote %s (%zu bytes, %s)\n", out.c_str(), obj.bytes.size(),
                 obj.from_cache ? "from cache"
                                : ("compiled in " + std::to_string(static_cast<int>(obj.compile_ms)) + " ms").c_str());
    return 0;
}

}  // namespace

const Command build_command{"build",
                            "DESCRIPTION -o FILE.bpf.o",
                            "compile the parser with clang -target bpf (with BTF)",
                            {{"-o", "FILE", "the BPF object to write (load it with serve --object)"}},
                            run};

}  // namespace sockframe::cli
