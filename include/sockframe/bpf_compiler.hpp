// Compiles generated parser C into a BPF object with clang (-target bpf, BTF),
// caching objects by a hash of everything that goes into them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sockframe {

class BpfCompileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct BpfObjectFile {
    std::vector<uint8_t> bytes;
    std::string cache_path;  // where it is cached ("" if caching is off)
    bool from_cache = false;
    double compile_ms = 0;
};

struct CompileOptions {
    bool use_cache = true;
    std::string clang;  // default: $SOCKFRAME_CLANG, else clang on PATH
};

BpfObjectFile compile_bpf(const std::string& c_source, const CompileOptions& options = {});

// Writes the headers a generated parser includes (sockframe_*.h) into `dir`.
void write_bpf_headers(const std::string& dir);

// $SOCKFRAME_CACHE_DIR, else $XDG_CACHE_HOME/sockframe, else ~/.cache/sockframe.
std::string cache_directory();

}  // namespace sockframe
