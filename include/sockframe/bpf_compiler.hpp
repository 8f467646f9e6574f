// Compiles generated parser C into a BPF object with clang (-target bpf, BTF),
// caching objects by a hash of everything that goes into them. A host without a
// compiler uses the objects the build compiled for the shipped descriptions
// (installed in $libdir/sockframe/bpf), found by the same hash.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

class BpfCompileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct BpfObjectFile {
    std::vector<uint8_t> bytes;
    std::string cache_path;  // where it is cached ("" if caching is off), or the precompiled object
    bool from_cache = false;  // no compiler ran: from the cache or precompiled
    bool precompiled = false;  // one of the objects installed with sockframe
    double compile_ms = 0;
};

struct CompileOptions {
    bool use_cache = true;  // false: always compile (neither precompiled objects nor the cache)
    std::string clang;  // default: $SOCKFRAME_CLANG, else clang on PATH
};

BpfObjectFile compile_bpf(const std::string& c_source, const CompileOptions& options = {});

// The content hash an object is cached and found under: the generated C, the runtime
// headers it includes and the clang flags (16 hex digits).
std::string bpf_object_key(const std::string& c_source);

// Read-only directories of precompiled objects, each with an `index` of "<key> <file>"
// lines: $SOCKFRAME_BPF_OBJECTS_DIR (':'-separated) when set; else the installed
// $libdir/sockframe/bpf, or the build's parsers/ for a program run from the build directory.
std::vector<std::string> precompiled_object_directories();

// Writes the headers a generated parser includes (sockframe_*.h) into `dir`.
void write_bpf_headers(const std::string& dir);

// $SOCKFRAME_CACHE_DIR, else $XDG_CACHE_HOME/sockframe, else ~/.cache/sockframe.
std::string cache_directory();

}  // namespace sockframe

#pragma GCC visibility pop
