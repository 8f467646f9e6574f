// Verifier cost of every shipped parser against a checked-in budget
// (insn_budget.txt): loads each one (batched and per-message), prints the table, and
// fails when a parser verifies with noticeably more instructions than its budget
// (more than 10% and 20 instructions), or when the table and parsers/ disagree.
// A parser that grows on purpose: `meson compile -C build insn-budget-update` rewrites
// the table; review the diff. Needs CAP_BPF + CAP_NET_ADMIN (exit 77 = SKIP otherwise).
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>

#include "load/parser_program.hpp"
#include "support.hpp"

using namespace sockframe;
using namespace sockframe::testing;
namespace fs = std::filesystem;

namespace {

std::string kernel_release() {
    utsname u{};
    uname(&u);
    return u.release;
}

}  // namespace

int main(int argc, char** argv) {
    const bool write = argc > 1 && !std::strcmp(argv[1], "--write");
    require_kernel_or_skip("verifier budgets");
    const fs::path table = fs::path(source_dir()) / "tests" / "codegen" / "insn_budget.txt";

    std::map<std::string, uint32_t> budget;
    std::string measured_on;
    {
        std::ifstream in(table);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("# kernel ", 0) == 0) measured_on = line.substr(9);
            if (line.empty() || line[0] == '#') continue;
            std::istringstream f(line);
            std::string name;
            uint32_t n = 0;
            if (f >> name >> n) budget[name] = n;
        }
    }

    std::map<std::string, uint32_t> now;
    int failures = 0;
    for (const auto& e : fs::directory_iterator(fs::path(source_dir()) / "parsers")) {
        if (e.path().extension() != ".toml") continue;
        const std::string name = e.path().stem().string();
        try {
            Description d = load_description_file(e.path().string());
            BpfObjectFile obj = compile_bpf(generate_bpf_c(d));
            for (uint32_t batch : {256u, 1u}) {
                LoadOptions o;
                o.batch_max_msgs = batch;
                ParserProgram p(obj.bytes, d.symbol(), resolve_load_options(d, o));
                if (!p.attachment_problem().empty()) throw std::runtime_error(p.attachment_problem());
                if (batch == 256) now[name] = p.verified_insns();
            }
        } catch (const std::exception& ex) {
            std::printf("%s: FAILED to load: %s\n", name.c_str(), ex.what());
            failures++;
        }
    }

    std::printf("verified instructions per shipped parser (batched; kernel %s, budget measured on %s)\n",
                kernel_release().c_str(), measured_on.empty() ? "?" : measured_on.c_str());
    std::printf("%-24s %9s %9s %8s\n", "parser", "verified", "budget", "change");
    for (const auto& [name, n] : now) {
        auto it = budget.find(name);
        if (it == budget.end()) {
            std::printf("%-24s %9u %9s %8s  NOT IN THE BUDGET TABLE\n", name.c_str(), n, "-", "-");
            if (!write) failures++;
            continue;
        }
        double change = 100.0 * (static_cast<double>(n) - it->second) / it->second;
        bool over = n > it->second + 20 && change > 10.0;
        std::printf("%-24s %9u %9u %+7.1f%%%s\n", name.c_str(), n, it->second, change,
                    over             ? "  OVER BUDGET"
                    : change < -25.0 ? "  (well under: lower the budget?)"
                                     : "");
        if (over && !write) failures++;
    }
    for (const auto& [name, n] : budget)
        if (!now.count(name) && !write) {
            std::printf("%-24s %9s %9u  in the budget table but not in parsers/\n", name.c_str(), "-", n);
            failures++;
        }

    if (write) {
        std::ofstream out(table);
        out << "# Verified instructions per shipped parser (batched), checked by tests/codegen/test_insn_budget.cpp.\n"
               "# Regenerate after a deliberate change: meson compile -C build insn-budget-update\n"
               "# kernel "
            << kernel_release() << "\n";
        for (const auto& [name, n] : now) out << name << " " << n << "\n";
        std::printf("wrote %s\n", table.c_str());
        return failures && now.empty() ? 1 : 0;
    }
    if (failures)
        std::printf("%d problem(s); if a parser grew on purpose: meson compile -C build insn-budget-update\n",
                    failures);
    return failures ? 1 : 0;
}
