// Code generation: golden files for the examples, determinism, safety of what a
// description can put into C, and the verifier accepting every shipped parser.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>
#include "load/parser_program.hpp"
#include <sockframe/description.hpp>

using namespace sockframe;
using sockframe::testing::source_dir;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const char* kExamples[] = {"dns", "kafka", "mongodb", "postgresql-typed", "http2-frames",
                           "mysql", "modbus-tcp", "json-lines", "smtp-commands",
                           "websocket", "proxy-v2-tls", "proxy-v2-smtp", "zmtp-frames", "zmtp",
                           "memcached-binary", "tls-records", "postgresql", "mqtt"};

}  // namespace

TEST_CASE("generated C matches the golden files of the examples") {
    for (std::string name : kExamples) {
        CAPTURE(name);
        Description d = load_description_file(source_dir() + "/parsers/" + name + ".toml");
        std::string golden = read(source_dir() + "/tests/codegen/golden/" + name + ".bpf.c");
        REQUIRE_FALSE(golden.empty());
        // On a mismatch: tests/codegen/update-golden.sh, then review the diff.
        CHECK(generate_bpf_c(d) == golden);
    }
}

TEST_CASE("the same description always gives the same bytes") {
    for (std::string name : kExamples) {
        CAPTURE(name);
        Description a = load_description_file(source_dir() + "/parsers/" + name + ".toml");
        Description b = load_description_file(source_dir() + "/parsers/" + name + ".toml");
        CHECK(generate_bpf_c(a) == generate_bpf_c(b));
        CHECK(generate_bpf_c(a) == generate_bpf_c(a));
    }
}

TEST_CASE("the generated rule states the numbers of the description") {
    Description d = parse_description(
        "name = \"t\"\nmax_message = 4096\n[length]\noffset = 3\nwidth = 3\nbyte_order = \"little\"\n"
        "header = 7\nscale = 4\nmask = 0x0fffff\nshift = 2\nmin_message = 11\n",
        "t.toml");
    std::string c = generate_bpf_c(d);
    CHECK(c.find("#define SF_MAX_MESSAGE 4096ULL") != std::string::npos);
    CHECK(c.find("if (*total < 11ULL) {") != std::string::npos);
    CHECK(c.find("sf_load(cur, pos + 3, f, sizeof(f))") != std::string::npos);
    CHECK(c.find("(__u64)f[2] << 16") != std::string::npos);  // little-endian: last byte is most significant
    CHECK(c.find("v = (v & 0xfffffULL) >> 2;") != std::string::npos);
    CHECK(c.find("*total = sf_total(v, 4, 7, 0);") != std::string::npos);
}

TEST_CASE("description text cannot escape the comment it is quoted in") {
    // Comment terminators, backslashes, quotes and odd bytes in comments and strings.
    std::string toml =
        "# evil */ int injected; /* \\ \" \xc3\xa9\n"
        "name = \"evil\"\nsummary = \"a */ b\"\nreference = \"c \\\\ d /* e\"\nmax_message = 100\n"
        "[delimiter]\ntext = \"*/\"\n";
    Description d = parse_description(toml, "evil*/name.toml");
    std::string c = generate_bpf_c(d);
    // The only comment terminators are the generator's own, each ending a line or
    // following generator text: nothing after "*/" on a quoted line.
    size_t quoted_start = c.find("The description:");
    size_t quoted_end = c.find("#include \"sockframe_prelude.bpf.h\"");
    REQUIRE(quoted_start != std::string::npos);
    std::string quoted = c.substr(quoted_start, quoted_end - quoted_start);
    CHECK(quoted.find("*/") == quoted.rfind("*/"));  // only the closing one
    CHECK(quoted.find("injected") != std::string::npos);  // still shown, harmlessly
    CHECK(c.find("evil*/name") == std::string::npos);
    for (unsigned char ch : c) CHECK((ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f)));
    // and it still compiles to a BPF object
    CHECK_NOTHROW(compile_bpf(c, {false, {}}));
}

// Every shipped parser loading and passing the verifier (batched and per-message):
// test_insn_budget.cpp, which needs privileges and says SKIP without them.
