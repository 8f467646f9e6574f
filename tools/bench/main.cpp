// sockframe-bench: runs every receive strategy on the same loopback work, side by
// side in one invocation, and prints one table (or JSON lines) and a plot.
// See docs/performance.md for what the numbers mean and a run on this machine.
#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>
#include <sockframe/receiver.hpp>
#include "bench.hpp"
#include "load/parser_program.hpp"
#include "proxy_peers.hpp"

namespace sockframe::bench {

const char* name(Strategy s) {
    switch (s) {
        case Strategy::kernel:
            return "kernel";
        case Strategy::kernel_per_message:
            return "kernel-per-message";
        case Strategy::userspace:
            return "userspace";
        case Strategy::uring:
            return "uring";
        case Strategy::handwritten:
            return "handwritten";
        case Strategy::naive:
            return "naive";
        case Strategy::haproxy:
            return "haproxy";
        case Strategy::dnsdist:
            return "dnsdist";
        case Strategy::direct:
            return "direct";
    }
    return "?";
}
const char* name(Workload w) {
    switch (w) {
        case Workload::bulk:
            return "bulk";
        case Workload::pingpong:
            return "pingpong";
        case Workload::drip:
            return "drip";
        case Workload::proxy:
            return "proxy";
    }
    return "?";
}
const char* name(Framing f) {
    return f == Framing::length ? "length" : "delimiter";
}
bool is_kernel(Strategy s) {
    return s == Strategy::kernel || s == Strategy::kernel_per_message;
}

Description bench_description(Framing f, uint64_t max_message) {
    std::string toml = "name = \"bench-" + std::string(name(f)) + "\"\n" + "summary = \"sockframe-bench workload\"\n" +
                       "max_message = " + std::to_string(max_message) + "\n";
    if (f == Framing::length)
        toml += "[length]\noffset = 0\nwidth = 4\nbyte_order = \"big\"\nheader = 4\n";
    else
        toml += "[delimiter]\ntext = \"\\n\"\n";
    return parse_description(toml, "<sockframe-bench>");
}

SetupResult measure_setup(Framing f, const Description& d, bool per_message) {
    SetupResult s;
    s.framing = f;
    s.mode = per_message ? "per-message" : "batch";
    using Ms = std::chrono::duration<double, std::milli>;
    try {
        auto children_ms = [] {
            rusage ru{};
            getrusage(RUSAGE_CHILDREN, &ru);
            return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
        };
        auto thread_ms = [] {
            timespec t{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
            return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
        };
        auto t0 = std::chrono::steady_clock::now();
        std::string c = generate_bpf_c(d);
        auto t1 = std::chrono::steady_clock::now();
        CompileOptions co;
        co.use_cache = false;  // the cold cost, what a new description pays once
        double clang0 = children_ms(), self0 = thread_ms();
        BpfObjectFile obj = compile_bpf(c, co);
        auto t2 = std::chrono::steady_clock::now();
        s.compile_cpu_ms = children_ms() - clang0 + thread_ms() - self0;
        s.generate_ms = Ms(t1 - t0).count();
        s.compile_ms = Ms(t2 - t1).count();
        s.c_bytes = c.size();
        s.object_bytes = obj.bytes.size();
        std::string missing = missing_kernel_capabilities();
        if (!missing.empty()) {
            s.skipped = "load: needs " + missing;
            return s;
        }
        LoadOptions lo;
        if (per_message) lo.batch_max_msgs = 1;
        double load0 = thread_ms();
        ParserProgram program(obj.bytes, d.symbol(), resolve_load_options(d, lo));
        s.load_cpu_ms = thread_ms() - load0;
        s.load_ms = program.load_ms();
        s.verified_insns = program.verified_insns();
    } catch (const std::exception& e) {
        s.skipped = e.what();
        s.skipped = s.skipped.substr(0, s.skipped.find('\n'));
    }
    return s;
}

namespace {

double median(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return kNone;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

[[noreturn]] void usage(const std::string& problem) {
    if (!problem.empty()) std::fprintf(stderr, "sockframe-bench: %s\n\n", problem.c_str());
    std::fprintf(stderr,
                 "usage: sockframe-bench [options]\n"
                 "  --strategies LIST   kernel,kernel-per-message,userspace,handwritten,naive (default: all);\n"
                 "                      also uring: the userspace framer read through io_uring (userspace is epoll)\n"
                 "                      the proxy workload: kernel,userspace,handwritten,haproxy,dnsdist,direct\n"
                 "  --workload LIST     bulk,pingpong,drip,proxy (default: bulk,pingpong,drip); `--workload send\n"
                 "                      [--seconds S] [--local-delivery]`: the send side against plain send(),\n"
                 "                      64 B - 64 KiB (--local-delivery adds sk_msg ingress redirects);\n"
                 "                      `--workload sni`: TLS routed by server name, sockframe proxy --route\n"
                 "                      first-key vs HAProxy req.ssl_sni (defaults: --sizes 4K,16K --connections 1,16)\n"
                 "  --proxy-protocol LIST  proxy: memcached-binary,dns (default: memcached-binary)\n"
                 "  --proxy-depth LIST  proxy: requests in flight per connection, 1 = ping-pong (default: 1,16)\n"
                 "  --framing LIST      length,delimiter (default: both)\n"
                 "  --sizes LIST        message sizes in bytes, K/M suffixes (default: 64,512,4K,64K)\n"
                 "  --connections LIST  (default: 1,64)\n"
                 "  --per-write LIST    bulk: messages per client write, or 'fit' = as many as fit in 64 KiB\n"
                 "                      (default: 64)\n"
                 "  --duration SECONDS  measured time per cell (default: 1), after a warm-up of up to 0.25 s\n"
                 "  --rounds N          run the matrix N times, report medians (default: 1)\n"
                 "  --format table|jsonl\n"
                 "  --plot FILE.png     messages/s by size per strategy, and wake-ups per message (drip)\n"
                 "  --save FILE.jsonl   also write the JSON lines to FILE (with --format table)\n"
                 "  --drip-pieces N     drip: writes per message (default: 8)\n"
                 "  --drip-gap-us N     drip: microseconds between writes (default: 50)\n"
                 "  --window BYTES      most bytes the client may have unread by the server, over all its\n"
                 "                      connections (default: 8M)\n"
                 "  --stall-timeout S   a cell with no message for S seconds ends with an error (default: 3)\n"
                 "  --cpus SERVER,CLIENT  cores to pin to (default: the first two allowed)\n"
                 "  --no-pin            do not pin the threads\n"
                 "  --quiet             no progress lines on stderr\n");
    std::exit(2);
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    if (out.empty()) usage("empty list: \"" + s + "\"");
    return out;
}

uint64_t parse_size(const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    std::string unit = end;
    uint64_t mult = unit.empty() || unit == "B" ? 1 : unit == "K" || unit == "k" ? 1024 : unit == "M" ? 1 << 20 : 0;
    if (end == s.c_str() || mult == 0 || v <= 0) usage("not a size: \"" + s + "\"");
    return static_cast<uint64_t>(v * static_cast<double>(mult));
}

template <class E>
std::vector<E> parse_enum(const std::string& list, std::initializer_list<E> all, const char* what) {
    std::vector<E> out;
    for (const auto& item : split_list(list)) {
        bool found = false;
        for (E e : all)
            if (item == name(e)) {
                out.push_back(e);
                found = true;
            }
        if (!found) usage(std::string("unknown ") + what + " \"" + item + "\"");
    }
    return out;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 0; i < argc; i++) o.command_line += (i ? " " : "") + std::string(i ? argv[i] : "sockframe-bench");
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        auto number = [&](const std::string& v) {
            char* end = nullptr;
            double d = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end || d < 0) usage(a + ": not a number: \"" + v + "\"");
            return d;
        };
        if (a == "--strategies") {
            o.strategies =
                parse_enum(value(),
                           {Strategy::kernel, Strategy::kernel_per_message, Strategy::userspace, Strategy::uring,
                            Strategy::handwritten, Strategy::naive, Strategy::haproxy, Strategy::dnsdist, Strategy::direct},
                           "strategy");
        } else if (a == "--workload" || a == "--workloads") {
            o.workloads =
                parse_enum(value(), {Workload::bulk, Workload::pingpong, Workload::drip, Workload::proxy}, "workload");
        } else if (a == "--proxy-protocol") {
            o.proxy_protocols = split_list(value());
            for (const auto& p : o.proxy_protocols)
                if (p != "memcached-binary" && p != "dns") usage("--proxy-protocol: memcached-binary or dns");
        } else if (a == "--proxy-depth") {
            o.proxy_depths.clear();
            for (const auto& s : split_list(value())) {
                double n = number(s);
                if (n < 1 || n > 4096) usage("--proxy-depth: 1 to 4096");
                o.proxy_depths.push_back(static_cast<uint32_t>(n));
            }
        } else if (a == "--framing") {
            o.framings = parse_enum(value(), {Framing::length, Framing::delimiter}, "framing");
        } else if (a == "--sizes") {
            o.sizes.clear();
            for (const auto& s : split_list(value())) o.sizes.push_back(parse_size(s));
        } else if (a == "--connections") {
            o.connections.clear();
            for (const auto& s : split_list(value())) {
                double n = number(s);
                if (n < 1 || n > 1000) usage("--connections: 1 to 1000");
                o.connections.push_back(static_cast<uint32_t>(n));
            }
        } else if (a == "--per-write") {
            o.per_write.clear();
            for (const auto& s : split_list(value())) {
                if (s == "fit")
                    o.per_write.push_back(0);
                else if (double n = number(s); n >= 1)
                    o.per_write.push_back(static_cast<uint32_t>(n));
                else
                    usage("--per-write: a count >= 1 or 'fit'");
            }
        } else if (a == "--duration") {
            o.duration = number(value());
            if (o.duration < 0.05) usage("--duration: at least 0.05 s");
        } else if (a == "--rounds") {
            o.rounds = static_cast<uint32_t>(std::max(1.0, number(value())));
        } else if (a == "--format") {
            std::string f = value();
            if (f != "table" && f != "jsonl") usage("--format: table or jsonl");
            o.jsonl = f == "jsonl";
        } else if (a == "--plot") {
            o.plot = value();
        } else if (a == "--save") {
            o.save = value();
        } else if (a == "--drip-pieces") {
            o.drip_pieces = static_cast<uint32_t>(std::max(1.0, number(value())));
        } else if (a == "--drip-gap-us") {
            o.drip_gap_us = static_cast<uint32_t>(number(value()));
        } else if (a == "--window") {
            o.window = std::max<uint64_t>(parse_size(value()), 65536);
        } else if (a == "--stall-timeout") {
            o.stall_timeout = std::max(0.2, number(value()));
        } else if (a == "--cpus") {
            auto l = split_list(value());
            if (l.size() != 2) usage("--cpus SERVER,CLIENT");
            o.server_cpu = static_cast<int>(number(l[0]));
            o.client_cpu = static_cast<int>(number(l[1]));
        } else if (a == "--no-pin") {
            o.pin = false;
        } else if (a == "--quiet") {
            o.quiet = true;
        } else if (a == "-h" || a == "--help") {
            usage("");
        } else {
            usage("unknown option " + a);
        }
    }
    for (uint64_t s : o.sizes)
        if (s < 32 || s > kMaxMessageLimit) usage("sizes: 32 bytes to 1 GiB");
    return o;
}

std::string size_text(uint64_t s) {
    if (s >= (1 << 20) && s % (1 << 20) == 0) return std::to_string(s >> 20) + "M";
    if (s >= 1024 && s % 1024 == 0) return std::to_string(s >> 10) + "K";
    return std::to_string(s);
}

}  // namespace

CellResult median_of(const std::vector<CellResult>& rounds) {
    CellResult m = rounds.front();
    m.rounds = static_cast<uint32_t>(rounds.size());
    for (const auto& r : rounds)
        if (!r.skipped.empty()) return r;
    auto med = [&](double CellResult::*field) {
        std::vector<double> v;
        for (const auto& r : rounds) v.push_back(r.*field);
        m.*field = median(v);
    };
    for (auto f :
         {&CellResult::msgs_per_s, &CellResult::mb_per_s, &CellResult::syscalls_per_msg, &CellResult::reads_per_msg,
          &CellResult::cpu_ns_per_msg, &CellResult::client_cpu_ns_per_msg, &CellResult::all_cpu_ns_per_msg,
          &CellResult::total_cpu_ns_per_msg, &CellResult::kthread_ns_per_msg, &CellResult::softirq_ns_per_msg,
          &CellResult::wakeups_per_msg, &CellResult::ctxsw_per_msg, &CellResult::p50_us, &CellResult::p99_us,
          &CellResult::parser_calls_per_msg, &CellResult::batches_per_msg})
        med(f);
    m.errors = 0;
    m.messages = 0;
    m.error_detail.clear();
    m.round_msgs_per_s.clear();
    for (const auto& r : rounds) {
        m.round_msgs_per_s.push_back(r.msgs_per_s);
        m.errors += r.errors;
        m.messages += r.messages;
        if (m.error_detail.empty()) m.error_detail = r.error_detail;
    }
    return m;
}

}  // namespace sockframe::bench

namespace sockframe::bench {
int run_send_workload(double seconds, const std::vector<size_t>& sizes, bool with_local);  // send_bench.cpp
int run_sni_workload(const Options& o);                                                    // sni_bench.cpp
}

int main(int argc, char** argv) {
    using namespace sockframe::bench;
    // --workload send: the send side against plain send() (send_bench.cpp), its own table.
    for (int i = 1; i + 1 < argc; i++)
        if (std::string(argv[i]) == "--workload" && std::string(argv[i + 1]) == "send") {
            double seconds = 2;
            bool local = false;
            for (int j = 1; j < argc; j++) {
                if (std::string(argv[j]) == "--seconds" && j + 1 < argc) seconds = std::atof(argv[j + 1]);
                if (std::string(argv[j]) == "--local-delivery") local = true;
            }
            return run_send_workload(seconds, {64, 512, 4096, 65536}, local);
        }
    // --workload sni: TLS routed by server name (sni_bench.cpp), its own tables; the usual
    // options, with defaults of its own where none are given.
    for (int i = 1; i + 1 < argc; i++)
        if (std::string(argv[i]) == "--workload" && std::string(argv[i + 1]) == "sni") {
            std::vector<std::string> args;
            auto given = [&](const char* flag) { return std::find(argv, argv + argc, std::string(flag)) != argv + argc; };
            for (int j = 0; j < argc; j++)
                if (j != i && j != i + 1) args.push_back(argv[j]);
            if (!given("--strategies")) args.insert(args.end(), {"--strategies", "kernel,userspace,haproxy,direct"});
            if (!given("--sizes")) args.insert(args.end(), {"--sizes", "4K,16K"});
            if (!given("--connections")) args.insert(args.end(), {"--connections", "1,16"});
            std::vector<char*> ptrs;
            for (auto& a : args) ptrs.push_back(a.data());
            return run_sni_workload(parse_options(static_cast<int>(ptrs.size()), ptrs.data()));
        }
    Options o = parse_options(argc, argv);
    {
        utsname u{};
        uname(&u);
        std::string cpu;
        if (FILE* f = std::fopen("/proc/cpuinfo", "re")) {
            char line[256];
            while (cpu.empty() && std::fgets(line, sizeof line, f))
                if (std::strncmp(line, "model name", 10) == 0 && std::strchr(line, ':'))
                    cpu = std::strchr(line, ':') + 2;
            std::fclose(f);
        }
        if (!cpu.empty() && cpu.back() == '\n') cpu.pop_back();
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        int n = CPU_COUNT(&set);
        o.machine = std::string("Linux ") + u.release + ", " + std::to_string(n) + " CPUs (" + cpu + "), ";
        if (!o.pin || n < 2) {
            o.machine += "threads not pinned";
        } else {
            int first = -1, second = -1;
            for (int c = 0; c < CPU_SETSIZE && second < 0; c++)
                if (CPU_ISSET(c, &set)) (first < 0 ? first : second) = c;
            o.machine += "server on CPU " + std::to_string(o.server_cpu >= 0 ? o.server_cpu : first) +
                         ", client on CPU " + std::to_string(o.client_cpu >= 0 ? o.client_cpu : second);
        }
        o.machine += std::string(", ") + (geteuid() == 0 ? "root" : "not root");
    }
    uint64_t max_size = *std::max_element(o.sizes.begin(), o.sizes.end());
    std::map<Framing, sockframe::Description> desc;
    for (Framing f : o.framings) desc.emplace(f, bench_description(f, std::max<uint64_t>(max_size, 65536)));
    if (!desc.count(Framing::length)) desc.emplace(Framing::length, bench_description(Framing::length, 65536));

    // The matrix: side by side means the strategies of one configuration run back to back.
    std::vector<CellSpec> specs;
    auto proxy_only = [](Strategy s) {
        return s == Strategy::haproxy || s == Strategy::dnsdist || s == Strategy::direct;
    };
    for (Workload w : o.workloads)
        if (w == Workload::proxy)
            for (const auto& proto : o.proxy_protocols)
                for (uint64_t size : o.sizes)
                    for (uint32_t conns : o.connections)
                        for (uint32_t depth : o.proxy_depths)
                            for (Strategy s : o.strategies)
                                if (s != Strategy::kernel_per_message && s != Strategy::naive && s != Strategy::uring)
                                    specs.push_back({s, w, Framing::length, size, conns, depth, proto});
    for (Workload w : o.workloads)
        if (w != Workload::proxy)
            for (Framing f : o.framings)
                for (uint64_t size : o.sizes)
                    for (uint32_t conns : o.connections) {
                        std::vector<uint32_t> writes{1};
                        if (w == Workload::bulk) {
                            writes.clear();
                            for (uint32_t pw : o.per_write) {
                                uint32_t n = pw ? pw : static_cast<uint32_t>(std::max<uint64_t>(1, 65536 / size));
                                if (std::find(writes.begin(), writes.end(), n) == writes.end()) writes.push_back(n);
                            }
                        }
                        for (uint32_t pw : writes)
                            for (Strategy s : o.strategies)
                                if (!proxy_only(s)) specs.push_back({s, w, f, size, conns, pw, {}});
                    }

    std::vector<SetupResult> setup;
    bool any_kernel =
        std::any_of(o.strategies.begin(), o.strategies.end(), is_kernel) &&
        std::any_of(o.workloads.begin(), o.workloads.end(), [](Workload w) { return w != Workload::proxy; });
    if (any_kernel)
        for (Framing f : o.framings)
            for (bool per_message : {false, true}) {
                Strategy s = per_message ? Strategy::kernel_per_message : Strategy::kernel;
                if (std::find(o.strategies.begin(), o.strategies.end(), s) == o.strategies.end()) continue;
                std::vector<SetupResult> runs;
                for (uint32_t r = 0; r < o.rounds; r++) runs.push_back(measure_setup(f, desc.at(f), per_message));
                SetupResult m = runs.front();
                m.rounds = o.rounds;
                for (auto field : {&SetupResult::generate_ms, &SetupResult::compile_ms, &SetupResult::load_ms,
                                   &SetupResult::compile_cpu_ms, &SetupResult::load_cpu_ms}) {
                    std::vector<double> v;
                    for (const auto& r : runs) v.push_back(r.*field);
                    m.*field = median(v);
                }
                setup.push_back(m);
            }

    std::vector<std::vector<CellResult>> results(specs.size());
    size_t total = specs.size() * o.rounds, done = 0;
    for (uint32_t round = 0; round < o.rounds; round++)
        for (size_t k = 0; k < specs.size(); k++) {
            const CellSpec& s = specs[k];
            CellResult r = s.workload == Workload::proxy ? run_proxy_cell(s, o) : run_cell(s, desc.at(s.framing), o);
            results[k].push_back(r);
            done++;
            if (!o.quiet) {
                std::fprintf(stderr, "[%zu/%zu] %-18s %-8s %-9s %5s x%-3u", done, total, name(s.strategy),
                             name(s.workload), s.workload == Workload::proxy ? s.protocol.c_str() : name(s.framing),
                             size_text(s.size).c_str(), s.connections);
                if (!r.skipped.empty())
                    std::fprintf(stderr, " skipped: %s\n", r.skipped.c_str());
                else
                    std::fprintf(stderr, " %12.0f msgs/s  %llu errors%s%s\n", r.msgs_per_s,
                                 static_cast<unsigned long long>(r.errors), r.errors ? ": " : "",
                                 r.error_detail.c_str());
            }
        }

    std::vector<CellResult> cells;
    for (auto& r : results) cells.push_back(median_of(r));
    for (size_t k = 0; k < specs.size(); k++) {
        CellSpec hw = specs[k];
        hw.strategy = Strategy::handwritten;
        for (size_t j = 0; j < specs.size(); j++) {
            const CellSpec& s = specs[j];
            if (s.strategy != hw.strategy || s.workload != hw.workload || s.framing != hw.framing ||
                s.size != hw.size || s.connections != hw.connections || s.per_write != hw.per_write ||
                s.protocol != hw.protocol)
                continue;
            std::vector<double> ratios;
            for (uint32_t r = 0; r < o.rounds; r++) {
                double mine = results[k][r].msgs_per_s, base = results[j][r].msgs_per_s;
                if (results[k][r].skipped.empty() && base > 0 && !std::isnan(mine)) ratios.push_back(mine / base);
            }
            cells[k].vs_handwritten = median(ratios);
        }
    }
    if (o.jsonl) {
        print_jsonl(stdout, cells, setup);
    } else {
        print_table(stdout, cells, setup, o);
        print_targets(stdout, cells, setup);
    }
    std::fflush(stdout);
    if (!o.save.empty()) {
        FILE* f = std::fopen(o.save.c_str(), "we");
        if (!f) {
            std::fprintf(stderr, "sockframe-bench: cannot write %s: %s\n", o.save.c_str(), std::strerror(errno));
            return 1;
        }
        print_jsonl(f, cells, setup);
        std::fclose(f);
    }
    if (!o.plot.empty()) {
        std::string why = draw_plot(o.plot, cells);
        if (!why.empty()) {
            std::fprintf(stderr, "sockframe-bench: no plot: %s\n", why.c_str());
            return 1;
        }
    }
    uint64_t errors = 0;
    for (const auto& c : cells) errors += c.errors;
    return errors ? 1 : 0;
}
