// The generated routing functions in the real kernel: every shipped description
// with a [route] loads with sf_route_message (and sf_first_message_key) called
// from a bpf_loop callback, and the kernel's answers on real and random messages
// equal the userspace evaluator's (socket-filter twin under BPF_PROG_TEST_RUN).
// Needs root (CAP_BPF, CAP_NET_ADMIN): exits 77 (SKIP) without.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <sockframe/load_options.hpp>
#include <sockframe/route.hpp>

#include "../differential/route_diff.hpp"
#include "route_probe.hpp"

using namespace sockframe;
using namespace sockframe::test;
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

}  // namespace

TEST_CASE("every shipped description with a route loads, called from a bpf_loop callback") {
    auto descs = shipped_with_route();
    REQUIRE(descs.size() >= 3);
    for (const Description& d : descs) {
        CAPTURE(d.name);
        RouteProbe probe(d);
        CHECK(probe.parser_verified_insns() > 0);
        CHECK(probe.filter_verified_insns() > 0);
        std::printf("%-20s probe parser %6u verified insns, socket-filter twin %6u\n", d.name.c_str(),
                    probe.parser_verified_insns(), probe.filter_verified_insns());
    }
}

TEST_CASE("the kernel's routing decisions equal the evaluator's, on messages built from the keys and mutated") {
    std::mt19937_64 rng(11);
    for (const Description& d : shipped_with_route()) {
        CAPTURE(d.name);
        RouteProbe probe(d);
        uint64_t cases = 0, keys = 0, failures = 0;
        for (int k = 0; k < 400; k++) {
            std::vector<uint8_t> m = diff::random_route_message(d, rng, RouteProbe::kMaxMessage);
            if (m.empty()) continue;  // the probe decides whole messages of at least one byte
            ProbeResult r = probe.run(m, true);
            RouteDecision want = decide_route(d, m);
            bool same = r.route.has_key == (want.has_key ? 1u : 0u) && r.route.key_hash == want.key_hash &&
                        r.route.action == static_cast<uint32_t>(want.action) && r.route.rule == want.rule &&
                        r.route.group == want.group;
            if (d.route->first_key) {
                KeyLookup k = find_key(*d.route->first_key, m);
                same = same && r.key.has_key == (k.found ? 1u : 0u) &&
                       (!k.found || (r.key.hash == k.hash && r.key.len == k.length && r.key.offset == k.offset));
                keys += k.found;
            }
            keys += want.has_key;
            cases++;
            if (!same && failures++ < 3)
                FAIL_CHECK("kernel: has_key " << r.route.has_key << " hash " << r.route.key_hash << " rule "
                                              << r.route.rule << " first key " << r.key.has_key
                                              << "; evaluator: has_key " << want.has_key << " hash " << want.key_hash
                                              << " rule " << want.rule << "\nmessage: " << diff::to_hex(m));
        }
        std::printf("%-20s %llu messages through the kernel twin, %llu keys found\n", d.name.c_str(),
                    (unsigned long long)cases, (unsigned long long)keys);
        CHECK(failures == 0);
        CHECK(keys * 4 >= cases);
    }
}

TEST_CASE("a delimiter-framed description with a route, every step kind and rules loads and decides as the evaluator") {
    // Every step kind at once, on a line protocol, with rules on a field, the size and the key.
    Description d = parse_description(
        "name = \"lines-routed\"\nmax_message = 4096\n[delimiter]\ntext = \"\\n\"\n[route]\nkey = [\n"
        "  { expect = [0x41, 0x42] },\n  { skip = \"varint\" },\n  { skip = { at = 1, type = \"u8\" } },\n"
        "  { skip_prefixed = \"u8\", when = { at = -1, min = 3 } },\n  { enter_prefixed = \"u16le\" },\n"
        "  { find_tlv = 2, type = \"u8\", length = \"varint\" },\n  { find_name = \"k\" },\n"
        "  { take = \"cstring\", ignore_case = true, max_length = 64 },\n]\n"
        "first_key = [{ skip = \"u24le\" }, { take = \"dns-name\" }]\n"
        "[[route.rule]]\nfield = { at = 0, type = \"u8\", equals = 0x42 }\nhas_key = true\ngroup = \"b\"\n"
        "[[route.rule]]\nsize = { max = 20 }\naction = \"drop\"\n",
        "lines-routed.toml");
    RouteProbe probe(d);
    std::printf("%-20s probe parser %6u verified insns\n", d.name.c_str(), probe.parser_verified_insns());
    std::mt19937_64 rng(12);
    uint64_t keys = 0;
    for (int k = 0; k < 600; k++) {
        std::vector<uint8_t> m = diff::random_route_message(d, rng, RouteProbe::kMaxMessage);
        if (m.empty()) continue;
        ProbeResult r = probe.run(m, true);
        RouteDecision want = decide_route(d, m);
        KeyLookup fk = find_key(*d.route->first_key, m);
        CHECK(r.route.has_key == (want.has_key ? 1u : 0u));
        CHECK(r.route.key_hash == want.key_hash);
        CHECK(r.route.rule == want.rule);
        CHECK(r.route.action == static_cast<uint32_t>(want.action));
        CHECK(r.key.has_key == (fk.found ? 1u : 0u));
        if (fk.found) CHECK(r.key.hash == fk.hash);
        keys += want.has_key + fk.found;
    }
    CHECK(keys > 100);
}

int main(int argc, char** argv) {
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty()) {
        std::printf("SKIP: loading BPF needs %s (run as root)\n", missing.c_str());
        return 77;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
