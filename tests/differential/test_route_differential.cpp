// The generated routing functions (sf_route_message, sf_first_message_key),
// compiled for the host, against the userspace evaluator (decide_route,
// find_key): the shipped descriptions on messages built from their own key
// steps and on real first messages (tests/differential/route_corpus), and random
// route descriptions on random messages. See docs/differential.md.
//
//   SOCKFRAME_ROUTE_CASES         cases per description (default 4000)
//   SOCKFRAME_ROUTE_DESCRIPTIONS  random route descriptions (default 60)
//   SOCKFRAME_ROUTE_SEED          seed (default 1)
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/route.hpp>

#include "route_diff.hpp"

using namespace sockframe;
using namespace sockframe::diff;
namespace fs = std::filesystem;

namespace {

std::string source_dir() {
    const char* d = std::getenv("SOCKFRAME_SOURCE_DIR");
    return d ? d : ".";
}

std::vector<Description> shipped_with_route() {
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(source_dir() + "/parsers"))
        if (e.path().extension() == ".toml") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    std::vector<Description> out;
    for (const auto& p : paths) {
        Description d = load_description_file(p.string());
        if (d.route) out.push_back(std::move(d));
    }
    return out;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Tally {
    uint64_t cases = 0, with_key = 0, failures = 0;
};

void run_cases(const Description& d, const HostParsers& hp, size_t i, uint64_t cases, std::mt19937_64& rng, Tally& t) {
    for (uint64_t k = 0; k < cases; k++) {
        std::vector<uint8_t> m = random_route_message(d, rng);
        RouteVerdict v = check_route(d, hp.route(i), hp.first_key(i), m, rng);
        t.cases++;
        t.with_key += v.has_key;
        if (!v.ok && t.failures++ < 3)
            FAIL_CHECK(d.name << ": " << v.problem << "\nmessage: " << to_hex(m) << "\ndescription:\n"
                              << d.source_text);
    }
}

}  // namespace

TEST_CASE("shipped descriptions: generated routing equals the evaluator") {
    std::vector<Description> descs = shipped_with_route();
    REQUIRE(descs.size() >= 3);
    std::vector<std::string> sources;
    for (const auto& d : descs) sources.push_back(generate_bpf_c(d));
    HostParsers hp(sources);
    const uint64_t cases = env_u64("SOCKFRAME_ROUTE_CASES", 4000);
    std::mt19937_64 rng(env_u64("SOCKFRAME_ROUTE_SEED", 1));
    for (size_t i = 0; i < descs.size(); i++) {
        CAPTURE(descs[i].name);
        REQUIRE(bool(hp.route(i)));
        CHECK(bool(hp.first_key(i)) == descs[i].has_first_message_key());
        Tally t;
        run_cases(descs[i], hp, i, cases, rng, t);
        std::printf("%-20s %6llu cases, %5.1f%% with a key\n", descs[i].name.c_str(), (unsigned long long)t.cases,
                    100.0 * t.with_key / std::max<uint64_t>(t.cases, 1));
        CHECK(t.failures == 0);
        // The generator must reach the keys, or the comparison proves little.
        if (descs[i].route->key) CHECK(t.with_key * 4 >= t.cases);
    }
}

TEST_CASE("real first messages: generated first-message keys equal the evaluator's") {
    std::vector<Description> descs = shipped_with_route();
    std::vector<std::string> sources;
    for (const auto& d : descs) sources.push_back(generate_bpf_c(d));
    HostParsers hp(sources);
    std::mt19937_64 rng(2);
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(source_dir() + "/tests/differential/route_corpus")) {
        if (e.path().extension() != ".bin") continue;
        std::string stem = e.path().stem().string();  // <description name>--<what>
        auto it = std::find_if(descs.begin(), descs.end(),
                               [&](const Description& d) { return stem.rfind(d.name + "--", 0) == 0; });
        REQUIRE_MESSAGE(it != descs.end(), "no shipped description for " << e.path());
        size_t i = static_cast<size_t>(it - descs.begin());
        std::vector<uint8_t> m = read_bytes(e.path());
        CAPTURE(e.path().string());
        for (int rep = 0; rep < 20; rep++) {
            RouteVerdict v = check_route(*it, hp.route(i), hp.first_key(i), m, rng);
            CHECK_MESSAGE(v.ok, v.problem);
        }
        files++;
    }
    CHECK(files >= 1);
}

TEST_CASE("random route descriptions: generated routing equals the evaluator") {
    const uint64_t n = env_u64("SOCKFRAME_ROUTE_DESCRIPTIONS", 60);
    const uint64_t cases = env_u64("SOCKFRAME_ROUTE_CASES", 4000) / 4;
    std::mt19937_64 rng(env_u64("SOCKFRAME_ROUTE_SEED", 1) * 7919);
    std::vector<Description> descs;
    std::vector<std::string> tomls, sources;
    for (uint64_t k = 0; k < n; k++) {
        tomls.push_back(random_route_toml(rng, "r" + std::to_string(k)));
        try {
            descs.push_back(parse_description(tomls.back(), "random.toml"));
        } catch (const DescriptionError& e) {
            FAIL("random_route_toml made a description that does not parse: " << e.what() << "\n" << tomls.back());
        }
        sources.push_back(generate_bpf_c(descs.back()));
    }
    HostParsers hp(sources);
    Tally all;
    for (size_t i = 0; i < descs.size(); i++) {
        CAPTURE(tomls[i]);
        Tally t;
        run_cases(descs[i], hp, i, cases, rng, t);
        all.cases += t.cases;
        all.with_key += t.with_key;
        all.failures += t.failures;
    }
    std::printf("%llu random route descriptions, %llu cases, %.1f%% with a key\n", (unsigned long long)n,
                (unsigned long long)all.cases, 100.0 * all.with_key / std::max<uint64_t>(all.cases, 1));
    CHECK(all.failures == 0);
    CHECK(all.with_key * 10 >= all.cases);
}
