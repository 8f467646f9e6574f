// Build-time tool: writes the index of precompiled parser objects, one
// "<content hash> <name>.bpf.o" line per generated C file given
// (parsers/meson.build). compile_bpf() finds an object by the same hash.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sockframe/bpf_compiler.hpp>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bpf_object_index INDEX NAME.bpf.c...\n");
        return 2;
    }
    std::ofstream index(argv[1], std::ios::binary);
    for (int i = 2; i < argc; i++) {
        std::ifstream in(argv[i], std::ios::binary);
        std::ostringstream c;
        c << in.rdbuf();
        if (!in) {
            std::fprintf(stderr, "bpf_object_index: cannot read %s\n", argv[i]);
            return 1;
        }
        std::string object = std::filesystem::path(argv[i]).filename().replace_extension(".o").string();
        index << sockframe::bpf_object_key(c.str()) << " " << object << "\n";
    }
    return index ? 0 : 1;
}
