// libFuzzer target: routing. The input picks a description with a [route] (the
// shipped ones, then fixed random route descriptions), a mode and a message; the
// generated sf_route_message / sf_first_message_key (host build, compiled once at
// start-up) must agree with decide_route / find_key (tests/differential/route_diff.hpp),
// and the evaluator must not crash, hang or throw.
//
// Input layout: [0] description, [1] mode: bit 0 = build a message from the key's
// steps with the next 8 bytes as seed, then XOR the rest of the input into it;
// otherwise the rest of the input is the message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/route.hpp>
#include "route_diff.hpp"

using namespace sockframe;
using namespace sockframe::diff;

namespace {

struct Fixture {
    std::vector<Description> descs;
    std::vector<std::string> tomls;
    std::unique_ptr<HostParsers> parsers;
};

std::string source_dir() {
    if (const char* d = std::getenv("SOCKFRAME_SOURCE_DIR")) return d;
    return (std::filesystem::path(__FILE__).parent_path() / ".." / "..").string();
}

Fixture& fixture() {
    static Fixture* f = [] {
        auto* fx = new Fixture;
        for (const char* name : {"dns", "memcached-binary", "modbus-tcp", "tls-records", "postgresql", "mqtt"}) {
            fx->descs.push_back(load_description_file(source_dir() + "/parsers/" + name + ".toml"));
            fx->tomls.push_back(fx->descs.back().source_text);
        }
        std::mt19937_64 rng(1234);  // fixed: the same descriptions in every run
        for (int i = 0; i < 10; i++) {
            fx->tomls.push_back(random_route_toml(rng, "f" + std::to_string(i)));
            fx->descs.push_back(parse_description(fx->tomls.back(), "fuzz.toml"));
        }
        std::vector<std::string> sources;
        for (const auto& d : fx->descs) sources.push_back(generate_bpf_c(d));
        fx->parsers = std::make_unique<HostParsers>(sources);
        return fx;
    }();
    return *f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fixture();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    Fixture& fx = fixture();
    size_t which = data[0] % fx.descs.size();
    const Description& d = fx.descs[which];
    std::vector<uint8_t> m;
    size_t at = 2;
    if (data[1] & 1) {
        uint64_t seed = 0;
        for (; at < 10 && at < size; at++) seed = seed << 8 | data[at];
        std::mt19937_64 rng(seed);
        const RouteKey* key = d.route->key ? &*d.route->key : &*d.route->first_key;
        if (d.route->first_key && (data[1] & 2)) key = &*d.route->first_key;
        m = keyed_message(*key, rng, false);
        for (size_t i = 0; at + i < size; i++) {
            if (i < m.size())
                m[i] ^= data[at + i];
            else
                m.push_back(data[at + i]);
        }
    } else {
        m.assign(data + at, data + size);
    }
    if (m.size() > 65536) m.resize(65536);
    std::mt19937_64 rng(size);
    RouteVerdict v = check_route(d, fx.parsers->route(which), fx.parsers->first_key(which), m, rng);
    if (!v.ok) {
        std::fprintf(stderr, "fuzz_route: MISMATCH on %s: %s\nmessage: %s\ndescription:\n%s\n", d.name.c_str(),
                     v.problem.c_str(), to_hex(m).c_str(), fx.tomls[which].c_str());
        std::abort();
    }
    return 0;
}
