// Mutation check of the differential suite itself: break one implementation on
// purpose (a patch to the generated C or to a runtime header, or a reference
// framer built from a subtly different description) and require that the
// differential checker reports a mismatch, with a minimal reproduction, while
// the unbroken pair passes the very same cases. See docs/differential.md.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/description.hpp>
#include "codegen/embedded_headers.hpp"
#include "diff_lib.hpp"
#include "route_diff.hpp"

using namespace sockframe;
using namespace sockframe::diff;

namespace {

// A small fixed set: both framing kinds, several widths, mask/shift, overlapping delimiters.
const char* const kLength[] = {
    "name = \"l-dns\"\nmax_message = 300\n[length]\nwidth = 2\nheader = 2\nmin_message = 6\n",
    "name = \"l-whole\"\nmax_message = 5000\n[length]\noffset = 4\nwidth = 4\nbyte_order = \"little\"\nheader = 0\n"
    "min_message = 8\n",
    "name = \"l-masked\"\nmax_message = 1000\n[length]\nwidth = 3\nmask = 0x3fff00\nshift = 8\n",
    "name = \"l-byte\"\nmax_message = 200\n[length]\noffset = 1\nwidth = 1\nheader = 3\n",
};
const char* const kDelimiter[] = {
    "name = \"d-crlf\"\nmax_message = 200\n[delimiter]\ntext = \"\\r\\n\"\n",
    "name = \"d-aab\"\nmax_message = 50\n[delimiter]\ntext = \"aab\"\n",
    "name = \"d-nl\"\nmax_message = 20\n[delimiter]\ntext = \"\\n\"\n",
    "name = \"d-long\"\nmax_message = 300\n[delimiter]\nhex = \"00ff00ff00ff\"\n",
};

enum Kinds { kLen = 1, kDelim = 2 };

// Runs up to `budget` random cases on parsers built with `patches` against
// framers built from `reference_tomls`; returns the first mismatch (shrunk), if any.
struct Found {
    bool found = false;
    uint64_t after = 0;
    std::string repro;
};

Found hunt(int kinds, const std::vector<SourcePatch>& patches, std::string (*mutate_reference)(const std::string&),
           uint64_t budget, uint64_t seed) {
    std::vector<std::string> tomls;
    if (kinds & kLen) tomls.insert(tomls.end(), std::begin(kLength), std::end(kLength));
    if (kinds & kDelim) tomls.insert(tomls.end(), std::begin(kDelimiter), std::end(kDelimiter));
    std::vector<Description> generated, reference;
    std::vector<std::string> sources;
    for (const auto& t : tomls) {
        generated.push_back(parse_description(t, "mutation.toml"));
        sources.push_back(generate_bpf_c(generated.back()));
        std::string ref = mutate_reference ? mutate_reference(t) : t;
        reference.push_back(parse_description(ref, "reference.toml"));
    }
    HostParsers parsers(sources, patches);
    std::mt19937_64 rng(seed);
    Found f;
    for (uint64_t k = 0; k < budget; k++) {
        size_t i = k % tomls.size();
        Case c;
        c.stream = random_stream(generated[i], rng, 3000);
        c.chunks = random_chunks(c.stream.size(), rng);
        c.caps = random_caps(rng, (k / tomls.size()) % 2 == 0);
        Verdict v = check_case(reference[i], parsers.parser(i), c);
        if (!v.ok) {
            Case small = shrink(reference[i], parsers.parser(i), c);
            Verdict sv = check_case(reference[i], parsers.parser(i), small);
            f.found = true;
            f.after = k + 1;
            f.repro = format_repro(generated[i].name, tomls[i], small, sv);
            return f;
        }
    }
    return f;
}

void require_detected(const char* what, int kinds, const std::vector<SourcePatch>& patches,
                      std::string (*mutate_reference)(const std::string&) = nullptr) {
    const uint64_t budget = 20000, seed = 7;
    Found control = hunt(kinds, {}, nullptr, budget / 4, seed);
    INFO("control (unmutated) run: " << control.repro);
    REQUIRE_FALSE(control.found);
    Found m = hunt(kinds, patches, mutate_reference, budget, seed);
    CHECK_MESSAGE(m.found, what << ": the differential checker did not notice the mutation in " << budget << " cases");
    if (m.found)
        std::printf("mutation \"%s\" detected after %llu cases; minimal reproduction:\n%s\n", what,
                    (unsigned long long)m.after, m.repro.c_str());
}

// The runtime header the library embeds contains `text`.
bool runtime_has(const std::string& text) {
    for (size_t i = 0; i < kBpfHeaderCount; i++)
        if (kBpfHeaders[i].name == std::string_view("sockframe_runtime.bpf.h"))
            return kBpfHeaders[i].text.find(text) != std::string_view::npos;
    return false;
}

// "max_message = N" -> N - 1 in the reference description only.
std::string lower_max(const std::string& t) {
    size_t at = t.find("max_message = ");
    size_t end = t.find('\n', at);
    uint64_t n = std::stoull(t.substr(at + 14, end - at - 14));
    return t.substr(0, at + 14) + std::to_string(n - 1) + t.substr(end);
}

// Length descriptions: a larger minimum in the reference only.
std::string raise_min(const std::string& t) {
    size_t at = t.find("min_message = ");
    if (at == std::string::npos) return t + "min_message = 9\n";
    size_t end = t.find('\n', at);
    uint64_t n = std::stoull(t.substr(at + 14, end - at - 14));
    return t.substr(0, at + 14) + std::to_string(n + 1) + t.substr(end);
}

}  // namespace

// ---- the generated C (codegen output) --------------------------------------------
TEST_CASE("mutation: too_long limit off by one in the generated rule") {
    // The anchors are prefixes, so they hold whether the bound is spelled SF_MAX_MESSAGE or a number.
    require_detected("too_long uses >=", kLen, {{"parser", "if (*total > ", "if (*total >= "}});
}
TEST_CASE("mutation: minimum off by one in the generated rule") {
    require_detected("too_short uses <=", kLen, {{"parser", "if (*total < ", "if (*total <= "}});
}
TEST_CASE("mutation: the delimiter's second byte is compared with >=") {
    // sf_is_delim of a 2+ byte delimiter: byte 1 compared with >= instead of ==.
    require_detected("delimiter byte 1 compared with >=", kDelim, {{"parser", "(b)[(j) + 1] ==", "(b)[(j) + 1] >="}});
}

// ---- the runtime header ------------------------------------------------------------
TEST_CASE("mutation: a resumed delimiter scan starts one byte late") {
    require_detected("scan_pos + 1", kDelim,
                     {{"sockframe_runtime.bpf.h", "st->scan_pos = (__u32)st->scratch.pos;",
                       "st->scan_pos = (__u32)st->scratch.pos + 1;"}});
}
TEST_CASE("mutation: the chunked delimiter scan skips one candidate per step") {
    require_detected("pos += j + 1", kDelim, {{"sockframe_runtime.bpf.h", "s->pos += j;", "s->pos += j + 1;"}});
}
TEST_CASE("mutation: the word-at-a-time test misses the last byte of each word") {
    require_detected("SWAR without the top byte", kDelim,
                     {{"sockframe_delim_scan.bpf.h", "& ~x & SF_HIGHS) != 0", "& ~x & (SF_HIGHS >> 8)) != 0"}});
}
TEST_CASE("mutation: the length batch ignores batch_max_bytes") {
    require_detected("byte cap ignored", kLen,
                     {{"sockframe_runtime.bpf.h", "if (i > 0 && w->pos + total > w->maxb)", "if (0)"}});
}
TEST_CASE("mutation: an incomplete message with a known length returns 0") {
    // The runtime's spelling of "the first message's full length" has changed over
    // time; mutate whichever is there.
    std::string from =
        runtime_has("return (long)st->scratch.first;") ? "return (long)st->scratch.first;" : "return (long)w.first;";
    require_detected("need more instead of the full length", kLen, {{"sockframe_runtime.bpf.h", from, "return 0;"}});
}
TEST_CASE("mutation: the parser reads at the skb start, not at strparser's offset") {
    // kernel-facts.md #1: the very bug the runtime's strp.offset read exists for.
    require_detected(
        "strp.offset ignored", kLen | kDelim,
        {{"sockframe_host_shim.h", "memcpy(to, cur->data + cur->base + pos, n);", "memcpy(to, cur->data + pos, n);"}});
}

// ---- the userspace framer (through its description) --------------------------------
TEST_CASE("mutation: the reference framer's max_message is one lower") {
    require_detected("framer max_message - 1", kLen | kDelim, {}, lower_max);
}
TEST_CASE("mutation: the reference framer's minimum is one higher") {
    require_detected("framer min_message + 1", kLen, {}, raise_min);
}

// ---- routing ([route]): generated sf_route_message / sf_first_message_key ----------
namespace {

// Random messages for the shipped description `name` through its generated routing
// with `patches` applied; the first disagreement with the evaluator, if any.
Found hunt_route(const std::string& name, const std::vector<SourcePatch>& patches, uint64_t budget) {
    const char* dir = std::getenv("SOCKFRAME_SOURCE_DIR");
    Description d = load_description_file(std::string(dir ? dir : ".") + "/parsers/" + name + ".toml");
    HostParsers hp({generate_bpf_c(d)}, patches);
    std::mt19937_64 rng(5);
    Found f;
    for (uint64_t k = 0; k < budget; k++) {
        std::vector<uint8_t> m = random_route_message(d, rng);
        RouteVerdict v = check_route(d, hp.route(0), hp.first_key(0), m, rng);
        if (!v.ok) {
            f.found = true;
            f.after = k + 1;
            f.repro = v.problem + "\nmessage: " + to_hex(m);
            return f;
        }
    }
    return f;
}

void require_route_detected(const char* what, const std::string& name, const std::vector<SourcePatch>& patches) {
    const uint64_t budget = 20000;
    Found control = hunt_route(name, {}, budget / 4);
    INFO("control (unmutated) run: " << control.repro);
    REQUIRE_FALSE(control.found);
    Found m = hunt_route(name, patches, budget);
    CHECK_MESSAGE(m.found,
                  what << ": the route differential check did not notice the mutation in " << budget << " cases");
    if (m.found)
        std::printf("mutation \"%s\" detected after %llu cases: %s\n", what, (unsigned long long)m.after,
                    m.repro.c_str());
}

}  // namespace

TEST_CASE("mutation: the DNS key starts one byte late") {
    require_route_detected("dns key offset 15", "dns", {{"parser", "\tpos += 14;", "\tpos += 15;"}});
}
TEST_CASE("mutation: the memcached key skips the extras length of the wrong byte") {
    require_route_detected(
        "extras length read at byte 5", "memcached-binary",
        {{"parser", "sf_route_uint(cur, msg, 4, total, 1,", "sf_route_uint(cur, msg, 5, total, 1,"}});
}
TEST_CASE("mutation: the TLS server name is looked for one byte early") {
    require_route_detected("ClientHello random 33 bytes", "tls-records", {{"parser", "\tpos += 34;", "\tpos += 33;"}});
}
TEST_CASE("mutation: case folding leaves Z alone") {
    require_route_detected("fold A-Y only", "dns",
                           {{"sockframe_hash.h", "(__u8)(b - 'A') < 26", "(__u8)(b - 'A') < 25"}});
}
TEST_CASE("mutation: a DNS name may end past the message") {
    require_route_detected(
        "dns name end unchecked", "dns",
        {{"sockframe_route.bpf.h", "\tif (pos >= w->end || sf_load(w->cur, w->msg + pos, &l, 1) < 0)",
          "\tif (sf_load(w->cur, w->msg + pos, &l, 1) < 0)"}});
}
