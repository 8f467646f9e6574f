// The generated kernel parser (compiled for the host) against the userspace
// framer: random descriptions x random streams x random chunkings, in batch and
// per-message mode, under a model of the kernel's strparser. See docs/differential.md.
//
//   SOCKFRAME_DIFF_CASES         total random cases (default 40000)
//   SOCKFRAME_DIFF_DESCRIPTIONS  random descriptions (default 50, or CASES/2000 if larger)
//   SOCKFRAME_DIFF_SEED          seed (default 1)
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/description.hpp>
#include "diff_lib.hpp"

using namespace sockframe;
using namespace sockframe::diff;

namespace {

struct Regression {
    const char* name;
    const char* toml;
    const char* stream_hex;
    std::vector<size_t> chunks;
    uint32_t batch_max_msgs;
    uint32_t batch_max_bytes;
};

// Cases that once failed, or that pin a tricky corner: they must pass forever.
const Regression kRegressions[] = {
#include "regressions.inc"
};

// Runs regression entries; returns the number that fail (and prints them).
size_t run_regressions(const Regression* begin, const Regression* end) {
    std::vector<Description> descs;
    std::vector<std::string> sources;
    for (const Regression* r = begin; r != end; r++) {
        descs.push_back(parse_description(r->toml, std::string(r->name) + ".toml"));
        sources.push_back(generate_bpf_c(descs.back()));
    }
    HostParsers parsers(sources);
    size_t failed = 0;
    for (size_t i = 0; i < descs.size(); i++) {
        const Regression& r = begin[i];
        Case c{from_hex(r.stream_hex), r.chunks, {r.batch_max_msgs, r.batch_max_bytes}};
        size_t sum = 0;
        for (size_t n : c.chunks) sum += n;
        REQUIRE_MESSAGE(sum == c.stream.size(), r.name << ": chunk sizes do not add up to the stream");
        Verdict v = check_case(descs[i], parsers.parser(i), c);
        if (!v.ok) {
            failed++;
            std::printf("regression %s fails:\n%s\n", r.name, format_repro(r.name, r.toml, c, v).c_str());
        }
        CHECK_MESSAGE(v.ok, r.name << ": " << v.category << ": " << v.problem);
    }
    return failed;
}

std::string example_dir() {
    const char* d = std::getenv("SOCKFRAME_SOURCE_DIR");
    return std::string(d ? d : ".") + "/parsers";
}

}  // namespace

TEST_CASE("regressions: pinned cases keep passing") {
    run_regressions(std::begin(kRegressions), std::end(kRegressions));
}

// Cases of the bugs this suite found (docs/differential.md, "Bugs found"), all
// fixed now; they stay as regressions.
const Regression kKnownBugK2[] = {
    // 5 one-byte lines in one skb, cap 256: the scan's bpf_loop bound
    // ((avail - pos) / 64 * 2 + 4 = 4 steps) ends the batch after 4 lines.
    {"k2-delimiter-batch-step-bound", "name = \"lines\"\nmax_message = 1048576\n[delimiter]\ntext = \"\\n\"\n",
     "0a0a0a0a0a", {5}, 256, 65536},
    // 40 ten-byte lines (400 bytes) in one skb: 400 / 64 * 2 + 4 = 16 steps, so 16 lines instead of 40.
    {"k2-delimiter-batch-40-short-lines", "name = \"lines\"\nmax_message = 100\n[delimiter]\ntext = \"\\n\"\n",
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a"
     "6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a6162636465666768690a",
     {400}, 256, 65536},
};
const Regression kKnownBugK3[] = {
    // batch_max_msgs = 2, three CRLF lines available: the delimiter scan returns all three.
    {"k3-delimiter-ignores-batch-max-msgs", "name = \"crlf\"\nmax_message = 64\n[delimiter]\ntext = \"\\r\\n\"\n",
     "0d0a0d0a0d0a", {6}, 2, 65536},
};
const Regression kKnownBugK4[] = {
    // A length field counting the whole message (header = 0) that holds 0: the
    // rule says too_short (value 0); the framer used to wait forever, then say truncated.
    {"k4-framer-zero-total", "name = \"whole\"\nmax_message = 1000\n[length]\nwidth = 4\nbyte_order = \"little\"\nheader = 0\nmin_message = 16\n",
     "1000000000000000000000000000000000000000", {20}, 1, 65536},
    {"k4-framer-zero-total-batch", "name = \"bgp-like\"\nmax_message = 4096\n[length]\noffset = 16\nwidth = 2\nheader = 0\nmin_message = 19\n",
     "000000000000000000000000000000000000", {18}, 256, 65536},
};

// Was known bug K2 (fixed in 46caaf7: a scan step per chunk plus one per message).
TEST_CASE("K2: a delimiter batch holds every whole line up to the caps") {
    CHECK(run_regressions(std::begin(kKnownBugK2), std::end(kKnownBugK2)) == 0);
}
// Was known bug K3 (fixed in 46caaf7: the scan counts messages against batch_max_msgs).
TEST_CASE("K3: a delimiter batch holds at most batch_max_msgs lines") {
    CHECK(run_regressions(std::begin(kKnownBugK3), std::end(kKnownBugK3)) == 0);
}
// Was known bug K4 (fixed in d8ad906: the framer tests the error kind, not its value).
TEST_CASE("K4: the framer reports too_short for a length field giving 0") {
    CHECK(run_regressions(std::begin(kKnownBugK4), std::end(kKnownBugK4)) == 0);
}

// Was known bug K7 (docs/differential.md): the delimiter scan stopped at
// sf_batch_max_msgs but not at SF_BATCH_HARD_MAX (4096), which the length walk
// applies; 4500 one-byte lines with batch_max_msgs = 5000 came back as one batch
// of 4500. Fixed: the delimiter sf_parse clamps like the length walk.
TEST_CASE("K7: a delimiter batch holds at most SF_BATCH_HARD_MAX (4096) messages") {
    std::string lines(9000, '0');
    for (size_t i = 1; i < lines.size(); i += 2) lines[i] = 'a';  // "0a" x 4500
    const Regression k7[] = {{"k7-delimiter-batch-hard-max", "name = \"lines\"\nmax_message = 20\n[delimiter]\ntext = \"\\n\"\n",
                              lines.c_str(), {4500}, 5000, 1048576}};
    CHECK(run_regressions(std::begin(k7), std::end(k7)) == 0);
}

// Was known bug K1 (fixed in d8ad906: sf_total moved into the prelude).
TEST_CASE("K1: length rules using sf_total (scale != 1, width 8) compile") {
    std::vector<std::string> sources;
    for (const char* toml : {"name = \"w8\"\nmax_message = 1000\n[length]\nwidth = 8\n",
                             "name = \"scaled\"\nmax_message = 1000\n[length]\nwidth = 2\nscale = 4\n"})
        sources.push_back(generate_bpf_c(parse_description(toml, "k1.toml")));
    std::string error;
    try {
        HostParsers parsers(sources);
    } catch (const std::exception& e) {
        error = e.what();
    }
    size_t at = error.find("error:");
    CHECK_MESSAGE(error.empty(), "the generated C does not compile: " << error.substr(at == std::string::npos ? 0 : at, 300));
}

TEST_CASE("random descriptions x streams x chunkings: host-compiled parser == userspace framer") {
    const uint64_t total = env_u64("SOCKFRAME_DIFF_CASES", 40000);
    const uint64_t n_desc = env_u64("SOCKFRAME_DIFF_DESCRIPTIONS", std::max<uint64_t>(50, total / 2000));
    const uint64_t seed = env_u64("SOCKFRAME_DIFF_SEED", 1);
    const size_t max_reports = 5;
    std::mt19937_64 rng(seed);
    auto start = std::chrono::steady_clock::now();

    // The shipped examples take part too (they are descriptions like any other).
    std::vector<std::pair<std::string, std::string>> tomls;  // name, text
    std::vector<std::string> examples;
    for (const auto& e : std::filesystem::directory_iterator(example_dir()))
        if (e.path().extension() == ".toml") examples.push_back(e.path().string());
    std::sort(examples.begin(), examples.end());
    for (const auto& path : examples) {
        Description d = load_description_file(path);
        tomls.emplace_back(d.name, d.source_text);
    }
    for (uint64_t i = 0; i < n_desc; i++) {
        std::string name = "diff-" + std::to_string(seed) + "-" + std::to_string(i);
        tomls.emplace_back(name, random_description_toml(rng, name));
    }

    uint64_t cases = 0, messages = 0, calls = 0, mismatches = 0, per_message_cases = 0;
    std::set<std::string> reported;
    std::map<std::string, uint64_t> by_category;
    double compile_ms = 0;
    std::map<std::string, uint64_t> features;  // descriptions per framing feature
    const size_t group = 64;  // descriptions compiled and loaded together
    for (size_t g = 0; g < tomls.size(); g += group) {
        size_t end = std::min(tomls.size(), g + group);
        std::vector<Description> descs;
        std::vector<std::string> sources;
        for (size_t i = g; i < end; i++) {
            descs.push_back(parse_description(tomls[i].second, tomls[i].first + ".toml"));
            sources.push_back(generate_bpf_c(descs.back()));
        }
        HostParsers parsers(sources);
        compile_ms += parsers.compile_ms();
        for (size_t i = 0; i < descs.size(); i++) {
            const Description& d = descs[i];
            for (const auto& f : description_features(d)) features[f]++;
            uint64_t want = total / tomls.size() + (g + i < total % tomls.size() ? 1 : 0);
            for (uint64_t k = 0; k < want; k++) {
                bool per_message = k % 2 == 0;
                Case c;
                if (rng() % 100 == 0) {
                    // Now and then a large stream in coarse chunks: long scans over many
                    // bpf_loop chunks, resumed across calls; messages above the byte cap.
                    c.stream = random_stream(d, rng, 150000);
                    for (size_t left = c.stream.size(); left;) {
                        size_t n = std::min<size_t>(left, 1 + rng() % 32768);
                        c.chunks.push_back(n);
                        left -= n;
                    }
                } else {
                    c.stream = random_stream(d, rng);
                    c.chunks = random_chunks(c.stream.size(), rng);
                }
                c.caps = random_caps(rng, per_message);
                Verdict v = check_case(d, parsers.parser(i), c);
                cases++;
                per_message_cases += per_message;
                messages += v.messages;
                calls += v.parser_calls;
                if (!v.ok) {
                    mismatches++;
                    by_category[v.category]++;
                    if (reported.size() < max_reports && reported.insert(v.category + d.name).second) {
                        Case small = shrink(d, parsers.parser(i), c);
                        Verdict sv = check_case(d, parsers.parser(i), small);
                        std::printf("MISMATCH (description %s, case %llu): %s: %s\nminimal reproduction, paste into "
                                    "tests/differential/regressions.inc:\n%s\n",
                                    d.name.c_str(), (unsigned long long)k, v.category.c_str(), v.problem.c_str(),
                                    format_repro(d.name + "-" + sv.category, tomls[g + i].second, small, sv).c_str());
                    }
                }
            }
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("differential: %llu cases (%llu per-message, %llu batch) over %zu descriptions (%zu shipped examples), "
                "%llu framed messages, %llu parser calls, seed %llu, %.1f s (host compile %.1f s), %llu mismatches\n",
                (unsigned long long)cases, (unsigned long long)per_message_cases,
                (unsigned long long)(cases - per_message_cases), tomls.size(), examples.size(),
                (unsigned long long)messages, (unsigned long long)calls, (unsigned long long)seed, secs,
                compile_ms / 1000, (unsigned long long)mismatches);
    std::printf("  descriptions by feature:");
    for (auto& [f, n] : features) std::printf(" %s=%llu", f.c_str(), (unsigned long long)n);
    std::printf("\n");
    for (auto& [cat, n] : by_category) std::printf("  %s: %llu\n", cat.c_str(), (unsigned long long)n);
    CHECK(mismatches == 0);
}
