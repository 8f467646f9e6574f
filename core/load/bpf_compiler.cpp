#include <sockframe/bpf_compiler.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "codegen/embedded_headers.hpp"
#include "support/process.hpp"

#ifndef SOCKFRAME_MULTIARCH
#define SOCKFRAME_MULTIARCH "x86_64-linux-gnu"
#endif

namespace fs = std::filesystem;

namespace sockframe {
namespace {

uint64_t fnv1a(uint64_t h, std::string_view s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

const std::vector<std::string>& clang_flags() {
    static const std::vector<std::string> flags = {
        "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-I/usr/include/" SOCKFRAME_MULTIARCH};
    return flags;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) throw BpfCompileError("cannot write " + p.string());
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "sockframe-build-XXXXXX").string();
        if (!mkdtemp(tmpl.data()))
            throw BpfCompileError("cannot create a temporary directory in " + fs::temp_directory_path().string());
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

std::string cache_directory() {
    if (const char* d = std::getenv("SOCKFRAME_CACHE_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/sockframe";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/sockframe";
    return "/tmp/sockframe-cache-" + std::to_string(getuid());
}

void write_bpf_headers(const std::string& dir) {
    fs::create_directories(dir);
    for (size_t i = 0; i < kBpfHeaderCount; i++) write_file(fs::path(dir) / kBpfHeaders[i].name, kBpfHeaders[i].text);
}

BpfObjectFile compile_bpf(const std::string& c_source, const CompileOptions& options) {
    std::string clang = options.clang;
    if (clang.empty()) {
        const char* env = std::getenv("SOCKFRAME_CLANG");
        clang = env && *env ? env : find_in_path("clang");
    }
    if (!clang.empty() && access(clang.c_str(), X_OK) != 0)
        throw BpfCompileError("clang not found: " + clang +
                              " is not an executable (check SOCKFRAME_CLANG); "
                              "or use the userspace framer (--userspace)");
    if (clang.empty())
        throw BpfCompileError(
            "clang not found on PATH: install it (scripts/setup.sh installs clang), "
            "set SOCKFRAME_CLANG, or use the userspace framer (--userspace)");

    uint64_t h = fnv1a(0xcbf29ce484222325ULL, c_source);
    for (size_t i = 0; i < kBpfHeaderCount; i++) h = fnv1a(fnv1a(h, kBpfHeaders[i].name), kBpfHeaders[i].text);
    for (const auto& f : clang_flags()) h = fnv1a(h, f);
    h = fnv1a(h, clang);
    char key[32];
    std::snprintf(key, sizeof key, "%016llx.bpf.o", static_cast<unsigned long long>(h));

    BpfObjectFile out;
    fs::path cached = fs::path(cache_directory()) / key;
    if (options.use_cache) {
        out.cache_path = cached.string();
        std::error_code ec;
        if (fs::is_regular_file(cached, ec)) {
            out.bytes.clear();
            std::string data = read_file(cached);
            out.bytes.assign(data.begin(), data.end());
            if (!out.bytes.empty()) {
                out.from_cache = true;
                return out;
            }
        }
    }

    auto start = std::chrono::steady_clock::now();
    TempDir tmp;
    write_bpf_headers(tmp.path.string());
    write_file(tmp.path / "parser.bpf.c", c_source);
    std::vector<std::string> argv = {clang};
    argv.insert(argv.end(), clang_flags().begin(), clang_flags().end());
    argv.insert(argv.end(), {"-I" + tmp.path.string(), "-c", (tmp.path / "parser.bpf.c").string(), "-o",
                             (tmp.path / "parser.bpf.o").string()});
    ProcessResult r = run_process(argv);
    if (r.exit_code != 0)
        throw BpfCompileError("clang failed to compile the generated parser (exit " + std::to_string(r.exit_code) +
                              "):\n" + r.output);
    std::string data = read_file(tmp.path / "parser.bpf.o");
    out.bytes.assign(data.begin(), data.end());
    out.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    if (options.use_cache) {
        std::error_code ec;
        fs::create_directories(cached.parent_path(), ec);
        fs::path part = cached;
        part += ".part" + std::to_string(getpid());
        std::ofstream f(part, std::ios::binary);
        f.write(data.data(), static_cast<std::streamsize>(data.size()));
        f.close();
        if (f) fs::rename(part, cached, ec);  // atomic: readers never see half a file
        if (ec || !f) {
            fs::remove(part, ec);
            out.cache_path.clear();
        }
    }
    return out;
}

}  // namespace sockframe
