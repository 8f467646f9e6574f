// Differential verification of the generated kernel parser against the
// userspace framer: the generated C is compiled for the host (-DSOCKFRAME_HOST),
// run under a faithful model of the kernel's strparser (net/strparser/strparser.c,
// __strp_recv) and compared, call by call and end to end, with the framer.
//
// Used by the doctest suites in this folder and by the libFuzzer targets in
// tests/fuzz/. See docs/differential.md.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sockframe_abi.h"
#include <sockframe/description.hpp>

namespace sockframe::diff {

// sf_host_parse() of a host-compiled generated parser.
using ParseFn = long (*)(const unsigned char* data, __u64 len, __u64 base, struct sf_conn* st,
                         __u32 batch_max_msgs, __u32 batch_max_bytes);

// sf_host_route() / sf_host_first_key() of a host-compiled parser whose description has a
// [route]: the generated sf_route_message / sf_first_message_key on data[pos, pos + total).
using RouteFn = void (*)(const unsigned char* data, __u64 len, __u64 pos, __u64 total, struct sf_route* out);
using FirstKeyFn = void (*)(const unsigned char* data, __u64 len, __u64 pos, __u64 total, struct sf_key* out);

// A text edit applied before compiling: `file` is "parser" (the generated C)
// or the name of one of the headers write_bpf_headers() writes. Used by the
// mutation tests to break one implementation on purpose.
struct SourcePatch {
    std::string file;
    std::string from, to;
};

// Generated parsers compiled into shared objects and loaded with dlopen().
// One `cc` per group of sources (each renamed sf_host_parse_<i> by a wrapper
// file), groups compiled in parallel.
class HostParsers {
public:
    // Throws std::runtime_error with the compiler's output if anything fails,
    // or if a patch's `from` text is not found.
    HostParsers(const std::vector<std::string>& c_sources, const std::vector<SourcePatch>& patches = {},
                unsigned jobs = 2);
    ~HostParsers();
    HostParsers(const HostParsers&) = delete;
    HostParsers& operator=(const HostParsers&) = delete;

    ParseFn parser(size_t i) const { return fns_.at(i); }
    RouteFn route(size_t i) const { return route_fns_.at(i); }         // nullptr without [route]
    FirstKeyFn first_key(size_t i) const { return first_key_fns_.at(i); }  // nullptr without route.first_key
    size_t size() const { return fns_.size(); }
    const std::string& compiler_output() const { return output_; }  // warnings, if any
    double compile_ms() const { return compile_ms_; }

private:
    std::string dir_;
    std::vector<void*> handles_;
    std::vector<ParseFn> fns_;
    std::vector<RouteFn> route_fns_;
    std::vector<FirstKeyFn> first_key_fns_;
    std::string output_;
    double compile_ms_ = 0;
};

// The host C compiler: $SOCKFRAME_HOST_CC, else $CC, else "cc". Extra flags
// (space-separated) from $SOCKFRAME_HOST_CFLAGS.
std::string host_compiler();

// Batch caps handed to the parser (LoadOptions::batch_max_msgs/bytes).
struct Caps {
    uint32_t max_msgs = 256;  // 1 (or 0): per-message framing
    uint32_t max_bytes = 65536;
};

// One differential case.
struct Case {
    std::vector<uint8_t> stream;
    std::vector<size_t> chunks;  // sizes of the segments the kernel receives (skbs); sum = stream size
    Caps caps;
};

struct Verdict {
    bool ok = true;
    std::string category;  // short class of the mismatch ("per-call", "EPROTO", "messages", ...)
    std::string problem;   // what differs, in words
    uint64_t parser_calls = 0;
    uint64_t messages = 0;
};

// Runs `c` through the host parser under the strparser model and through the
// userspace framer built from `reference`, and compares:
//  - every parser call's return against what the framer says about the same bytes
//    (whole messages available up to the caps, else the first message's full length
//    if known, else 0, else -EBADMSG with the same error kind and value);
//  - strparser's own rules (EPROTO: a length not beyond what it already held;
//    a batch larger than max(max_message, batch_max_bytes));
//  - end to end: batches are whole messages (exactly one each in per-message
//    mode), the same error at the same stream offset, the same truncated tail.
// `reference` is normally the description the parser was generated from; the
// mutation test passes a different one on purpose.
Verdict check_case(const Description& reference, ParseFn parser, const Case& c);

// Tries to make a failing case smaller (fewer bytes, fewer chunks, default caps)
// while it keeps failing with the same category. Bounded work.
Case shrink(const Description& reference, ParseFn parser, Case c, size_t max_checks = 4000);

// A pasteable regression entry (see regressions.inc) plus the problem as a comment.
std::string format_repro(const std::string& name, const std::string& toml, const Case& c, const Verdict& v);

// ---- random generation ---------------------------------------------------------

struct GenLimits {
    uint64_t max_message_cap = kMaxMessageLimit;  // kernel runs keep it small
};

// A random valid description as TOML text (it always parses).
std::string random_description_toml(std::mt19937_64& rng, const std::string& name, const GenLimits& limits = {});
// A random stream for `d`: valid messages (message_builder), truncated, oversize,
// too short, delimiter near-misses and pure garbage, in random mixes.
std::vector<uint8_t> random_stream(const Description& d, std::mt19937_64& rng, size_t max_bytes = 6000);
// Random segment sizes: whole, 1-byte drip, small, large, mixed.
std::vector<size_t> random_chunks(size_t size, std::mt19937_64& rng);
Caps random_caps(std::mt19937_64& rng, bool per_message);

// Short names of the framing features `d` uses ("uint", "leb128", "delimiter",
// "magic", "trailer", "preface", "first_length", "mask", "scale", "special"), for run summaries.
std::vector<std::string> description_features(const Description& d);

std::string to_hex(std::span<const uint8_t> bytes);
std::vector<uint8_t> from_hex(const std::string& hex);

// SOCKFRAME_* integer from the environment, or `fallback`.
uint64_t env_u64(const char* name, uint64_t fallback);

}  // namespace sockframe::diff
