// The benchmark's output: the table, JSON lines, the targets of issue 6, the plot.
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "bench.hpp"
#include "support/process.hpp"

namespace sockframe::bench {
namespace {

std::string fmt(const char* f, double v) {
    if (std::isnan(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string rate(double v) {
    if (std::isnan(v)) return "-";
    if (v >= 1e6) return fmt("%.2fM", v / 1e6);
    if (v >= 1e4) return fmt("%.0fK", v / 1e3);
    if (v >= 1e3) return fmt("%.1fK", v / 1e3);
    return fmt("%.0f", v);
}

std::string size_text(uint64_t s) {
    if (s >= (1 << 20) && s % (1 << 20) == 0) return std::to_string(s >> 20) + "M";
    if (s >= 1024 && s % 1024 == 0) return std::to_string(s >> 10) + "K";
    return std::to_string(s);
}

std::string json_num(double v, int digits = 3) {
    if (std::isnan(v) || std::isinf(v)) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20)
            o += fmt("\\u%04x", static_cast<unsigned char>(c));
        else
            o += c;
    }
    return o + "\"";
}

// Cells that ran the same work: only the strategy differs.
using Key = std::tuple<Workload, Framing, uint64_t, uint32_t, uint32_t, std::string>;
Key key_of(const CellSpec& s) {
    return {s.workload, s.framing, s.size, s.connections, s.per_write, s.protocol};
}

const CellResult* find(const std::vector<CellResult>& cells, const Key& k, Strategy s) {
    for (const auto& c : cells)
        if (key_of(c.spec) == k && c.spec.strategy == s && c.skipped.empty()) return &c;
    return nullptr;
}

double vs_handwritten(const std::vector<CellResult>& cells, const CellResult& c) {
    if (!std::isnan(c.vs_handwritten)) return c.vs_handwritten;
    const CellResult* hw = find(cells, key_of(c.spec), Strategy::handwritten);
    if (!hw || !c.skipped.empty() || std::isnan(c.msgs_per_s) || !(hw->msgs_per_s > 0)) return kNone;
    return c.msgs_per_s / hw->msgs_per_s;
}

}  // namespace

void print_table(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup,
                 const Options& o) {
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"strategy", "workload", "framing", "size", "conns", "per write", "msgs/s", "MB/s", "x hw",
                    "rx sc/msg", "srv ns/msg", "total ns/msg", "wake/msg", "p50 us", "p99 us", "errors"});
    for (const auto& c : cells) {
        const CellSpec& s = c.spec;
        std::vector<std::string> r{
            name(s.strategy),
            name(s.workload),
            name(s.framing),
            size_text(s.size),
            std::to_string(s.connections),
            s.workload == Workload::bulk || s.workload == Workload::proxy ? std::to_string(s.per_write) : "-"};
        if (s.workload == Workload::proxy) r[2] = s.protocol;
        if (!c.skipped.empty()) {
            r.push_back("skipped: " + c.skipped);
        } else {
            r.insert(r.end(), {rate(c.msgs_per_s), fmt("%.1f", c.mb_per_s), fmt("%.2f", vs_handwritten(cells, c)),
                               fmt("%.3f", c.syscalls_per_msg), fmt("%.0f", c.cpu_ns_per_msg),
                               fmt("%.0f", c.total_cpu_ns_per_msg), fmt("%.3f", c.wakeups_per_msg),
                               fmt("%.1f", c.p50_us), fmt("%.1f", c.p99_us), std::to_string(c.errors)});
        }
        rows.push_back(std::move(r));
    }
    std::vector<size_t> width;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && (r.size() > 7 || i < 6); i++) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    std::fprintf(out, "# %s\n# %s\n", o.command_line.c_str(), o.machine.c_str());
    for (const auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); i++) {
            std::string cell = r[i];
            bool left = i < 3 || (r.size() <= 7 && i == 6);  // names, and a skip reason
            if (i + 1 < r.size() || !left) {
                size_t w = i < width.size() ? width[i] : cell.size();
                if (cell.size() < w)
                    cell = left ? cell + std::string(w - cell.size(), ' ') : std::string(w - cell.size(), ' ') + cell;
            }
            line += (i ? "  " : "") + cell;
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::fprintf(out, "%s\n", line.c_str());
    }
    std::map<std::string, std::string> errors;
    for (const auto& c : cells)
        if (c.errors && !c.error_detail.empty())
            errors[std::string(name(c.spec.strategy)) + " " + name(c.spec.workload) + " " + name(c.spec.framing) + " " +
                   size_text(c.spec.size) + " x" + std::to_string(c.spec.connections)] = c.error_detail;
    for (const auto& [cell, e] : errors) std::fprintf(out, "error: %s: %s\n", cell.c_str(), e.c_str());

    // Where the kernel path's time goes, beyond the server thread.
    bool any = false;
    for (const auto& c : cells) {
        if (!c.skipped.empty() || std::isnan(c.msgs_per_s)) continue;
        if (!any) {
            std::fprintf(out,
                         "\nCPU per message by place (ns): server thread, client thread, kernel worker threads, their "
                         "total;\nsoftirq (all CPUs, sampled) and the whole machine (other users included); voluntary "
                         "context switches\nof the server; kernel parser calls and redirected batches per message "
                         "(sf_conns)\n");
            std::fprintf(out, "%-18s %-8s %-9s %5s %5s %4s  %8s %8s %8s %8s  %8s %9s  %7s %7s %7s\n", "strategy",
                         "workload", "framing", "size", "conns", "wr", "server", "client", "kthread", "total",
                         "softirq", "machine", "ctxsw", "parse", "batch");
            any = true;
        }
        const CellSpec& s = c.spec;
        std::fprintf(
            out, "%-18s %-8s %-9s %5s %5u %4s  %8s %8s %8s %8s  %8s %9s  %7s %7s %7s\n", name(s.strategy),
            name(s.workload), s.workload == Workload::proxy ? s.protocol.c_str() : name(s.framing),
            size_text(s.size).c_str(), s.connections,
            s.workload == Workload::bulk || s.workload == Workload::proxy ? std::to_string(s.per_write).c_str() : "-",
            fmt("%.0f", c.cpu_ns_per_msg).c_str(), fmt("%.0f", c.client_cpu_ns_per_msg).c_str(),
            fmt("%.0f", c.kthread_ns_per_msg).c_str(), fmt("%.0f", c.total_cpu_ns_per_msg).c_str(),
            fmt("%.0f", c.softirq_ns_per_msg).c_str(), fmt("%.0f", c.all_cpu_ns_per_msg).c_str(),
            fmt("%.3f", c.ctxsw_per_msg).c_str(), fmt("%.4f", c.parser_calls_per_msg).c_str(),
            fmt("%.4f", c.batches_per_msg).c_str());
    }

    if (!setup.empty()) {
        std::fprintf(out,
                     "\nKernel parser setup (median of %u): generate, compile (cold, no cache), load + verify; wall "
                     "clock, and CPU time\n(clang's for compile, the loading thread's for load: the verifier runs in "
                     "its system call)\n",
                     setup.front().rounds);
        std::fprintf(out, "%-9s %-11s %8s %11s %8s %8s %8s %9s %8s %9s\n", "framing", "mode", "gen ms", "compile ms",
                     "cpu ms", "load ms", "cpu ms", "verified", "C bytes", "obj bytes");
        for (const auto& s : setup) {
            std::fprintf(out, "%-9s %-11s %8s %11s %8s %8s %8s %9u %8zu %9zu%s%s\n", name(s.framing), s.mode.c_str(),
                         fmt("%.2f", s.generate_ms).c_str(), fmt("%.0f", s.compile_ms).c_str(),
                         fmt("%.0f", s.compile_cpu_ms).c_str(), fmt("%.1f", s.load_ms).c_str(),
                         fmt("%.1f", s.load_cpu_ms).c_str(), s.verified_insns, s.c_bytes, s.object_bytes,
                         s.skipped.empty() ? "" : "  ", s.skipped.c_str());
        }
    }
}

void print_jsonl(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup) {
    for (const auto& c : cells) {
        const CellSpec& s = c.spec;
        std::string l =
            "{\"strategy\":" + json_str(name(s.strategy)) + ",\"workload\":" + json_str(name(s.workload)) +
            ",\"framing\":" + json_str(name(s.framing)) + ",\"size\":" + std::to_string(s.size) +
            ",\"connections\":" + std::to_string(s.connections) + ",\"per_write\":" +
            (s.workload == Workload::bulk || s.workload == Workload::proxy ? std::to_string(s.per_write) : "null") +
            ",\"msgs_per_s\":" + json_num(c.msgs_per_s, 1) + ",\"mb_per_s\":" + json_num(c.mb_per_s, 2) +
            ",\"syscalls_per_msg\":" + json_num(c.syscalls_per_msg, 4) +
            ",\"reads_per_msg\":" + json_num(c.reads_per_msg, 4) +
            ",\"cpu_ns_per_msg\":" + json_num(c.cpu_ns_per_msg, 1) +
            ",\"client_cpu_ns_per_msg\":" + json_num(c.client_cpu_ns_per_msg, 1) +
            ",\"kthread_ns_per_msg\":" + json_num(c.kthread_ns_per_msg, 1) +
            ",\"softirq_ns_per_msg\":" + json_num(c.softirq_ns_per_msg, 1) +
            ",\"total_cpu_ns_per_msg\":" + json_num(c.total_cpu_ns_per_msg, 1) +
            ",\"all_cpu_ns_per_msg\":" + json_num(c.all_cpu_ns_per_msg, 1) +
            ",\"wakeups_per_msg\":" + json_num(c.wakeups_per_msg, 4) +
            ",\"ctxsw_per_msg\":" + json_num(c.ctxsw_per_msg, 4) + ",\"p50_us\":" + json_num(c.p50_us, 2) +
            ",\"p99_us\":" + json_num(c.p99_us, 2) +
            ",\"parser_calls_per_msg\":" + json_num(c.parser_calls_per_msg, 4) +
            ",\"batches_per_msg\":" + json_num(c.batches_per_msg, 4) +
            ",\"vs_handwritten\":" + json_num(vs_handwritten(cells, c), 3) +
            ",\"messages\":" + std::to_string(c.messages) + ",\"rounds\":" + std::to_string(c.rounds) +
            ",\"msgs_per_s_rounds\":" +
            [&] {
                std::string a = "[";
                for (double v : c.round_msgs_per_s) a += (a.size() > 1 ? "," : "") + json_num(v, 1);
                return a + "]";
            }() +
            ",\"errors\":" + std::to_string(c.errors);
        if (!c.error_detail.empty()) l += ",\"error\":" + json_str(c.error_detail);
        if (!c.skipped.empty()) l += ",\"skipped\":" + json_str(c.skipped);
        if (s.workload == Workload::proxy)  // per_write is the requests in flight per connection
            l += ",\"protocol\":" + json_str(s.protocol) + ",\"pipelined\":" + (s.per_write > 1 ? "true" : "false");
        std::fprintf(out, "%s}\n", l.c_str());
    }
    for (const auto& s : setup) {
        std::string l = "{\"setup\":" + json_str(name(s.framing)) + ",\"mode\":" + json_str(s.mode) +
                        ",\"generate_ms\":" + json_num(s.generate_ms, 3) +
                        ",\"compile_ms\":" + json_num(s.compile_ms, 1) +
                        ",\"compile_cpu_ms\":" + json_num(s.compile_cpu_ms, 1) +
                        ",\"load_ms\":" + json_num(s.load_ms, 2) + ",\"load_cpu_ms\":" + json_num(s.load_cpu_ms, 2) +
                        ",\"verified_insns\":" + std::to_string(s.verified_insns);
        if (!s.skipped.empty()) l += ",\"skipped\":" + json_str(s.skipped);
        std::fprintf(out, "%s}\n", l.c_str());
    }
}

void print_targets(FILE* out, const std::vector<CellResult>& cells, const std::vector<SetupResult>& setup) {
    std::fprintf(out, "\nTargets (issue 6), from this run:\n");
    // Ratios vs handwritten, one line per configuration.
    auto ratio_lines = [&](Strategy s, auto need) {
        std::set<std::tuple<Workload, Framing, uint32_t, uint32_t>> configs;
        for (const auto& c : cells)
            if (c.spec.strategy == s && c.spec.workload != Workload::drip)
                configs.insert({c.spec.workload, c.spec.framing, c.spec.connections, c.spec.per_write});
        for (auto [w, f, conns, pw] : configs) {
            std::string line;
            bool all_met = true, any = false, any_target = false;
            for (const auto& c : cells) {
                if (c.spec.strategy != s || c.spec.workload != w || c.spec.framing != f ||
                    c.spec.connections != conns || c.spec.per_write != pw)
                    continue;
                double r = vs_handwritten(cells, c);
                double want = need(c.spec.size);
                if (std::isnan(r)) continue;
                any = true;
                bool met = std::isnan(want) || r >= want;
                if (!std::isnan(want)) {
                    all_met = all_met && met;
                    any_target = true;
                }
                line += "  " + size_text(c.spec.size) + " " + fmt("%.2fx", r) +
                        (std::isnan(want) ? ""
                         : met            ? ""
                                          : " (<" + fmt("%.1f", want) + ")");
            }
            if (!any) continue;
            std::fprintf(out, "  %-11s vs handwritten, %s %s x%u%s:%s  -> %s\n", name(s), name(w), name(f), conns,
                         w == Workload::bulk ? (", " + std::to_string(pw) + "/write").c_str() : "", line.c_str(),
                         !any_target ? "no target at these sizes"
                         : all_met   ? "met"
                                     : "NOT met");
        }
    };
    ratio_lines(Strategy::userspace, [](uint64_t) { return 1.0; });
    ratio_lines(Strategy::uring, [](uint64_t) { return 1.2; });  // issue 17: 1.2x at 64 and 256 connections
    ratio_lines(Strategy::kernel, [](uint64_t size) {
        return size == 64 ? 0.5 : size == 4096 || size == 65536 ? 0.9 : kNone;
    });

    uint64_t kernel_errors = 0;
    bool kernel_ran = false;
    for (const auto& c : cells)
        if (is_kernel(c.spec.strategy) && c.skipped.empty()) {
            kernel_ran = true;
            kernel_errors += c.errors;
        }
    if (kernel_ran)
        std::fprintf(out, "  kernel path errors/stalls in this run: %llu\n",
                     static_cast<unsigned long long>(kernel_errors));

    for (const auto& c : cells) {
        if (c.spec.workload != Workload::drip || c.spec.strategy != Strategy::kernel || !c.skipped.empty()) continue;
        const CellResult* hw = find(cells, key_of(c.spec), Strategy::handwritten);
        std::fprintf(out, "  drip %s %s x%u: wake-ups/message kernel %s, handwritten %s  -> %s\n", name(c.spec.framing),
                     size_text(c.spec.size).c_str(), c.spec.connections, fmt("%.2f", c.wakeups_per_msg).c_str(),
                     hw ? fmt("%.2f", hw->wakeups_per_msg).c_str() : "-",
                     c.wakeups_per_msg <= 1.0 ? "met (at most one)" : "NOT met");
    }

    // Delimiter framing linear in size: cost per byte at 1 MiB vs 1 KiB.
    for (Strategy s : {Strategy::kernel, Strategy::userspace, Strategy::handwritten}) {
        for (const auto& big : cells) {
            if (big.spec.strategy != s || big.spec.framing != Framing::delimiter || big.spec.size != (1 << 20) ||
                big.spec.workload != Workload::bulk || !big.skipped.empty())
                continue;
            for (const auto& small : cells) {
                if (small.spec.strategy != s || small.spec.framing != Framing::delimiter || small.spec.size != 1024 ||
                    small.spec.workload != Workload::bulk || small.spec.connections != big.spec.connections ||
                    !small.skipped.empty())
                    continue;
                double t = (small.mb_per_s / big.mb_per_s);  // time per byte, 1 MiB / 1 KiB
                double srv = (big.cpu_ns_per_msg / (1 << 20)) / (small.cpu_ns_per_msg / 1024);
                double all = (big.total_cpu_ns_per_msg / (1 << 20)) / (small.total_cpu_ns_per_msg / 1024);
                std::fprintf(out,
                             "  delimiter cost per byte, 1M vs 1K (%s x%u, %u vs %u/write): time %.2fx, server CPU "
                             "%.2fx, total CPU %.2fx  -> %s\n",
                             name(s), big.spec.connections, big.spec.per_write, small.spec.per_write, t, srv, all,
                             std::max(t, all) <= 2.0 ? "met" : "NOT met");
            }
        }
    }
    for (const auto& s : setup) {
        if (std::isnan(s.load_ms) && std::isnan(s.compile_ms)) continue;
        std::fprintf(out,
                     "  setup %s %s: load+verify %s ms, %s ms CPU (< 50: %s), generate+compile %s ms, %s ms CPU "
                     "(< 1000: %s)\n",
                     name(s.framing), s.mode.c_str(), fmt("%.1f", s.load_ms).c_str(),
                     fmt("%.1f", s.load_cpu_ms).c_str(),
                     std::isnan(s.load_ms) ? "-"
                     : s.load_ms < 50      ? "met"
                                           : "NOT met",
                     fmt("%.0f", s.generate_ms + s.compile_ms).c_str(), fmt("%.0f", s.compile_cpu_ms).c_str(),
                     s.generate_ms + s.compile_ms < 1000 ? "met" : "NOT met");
    }
}

std::string draw_plot(const std::string& path, const std::vector<CellResult>& cells) {
    std::string gnuplot = find_in_path("gnuplot");
    if (gnuplot.empty()) return "gnuplot is not installed (apt install gnuplot-nox)";
    char dir_template[] = "/tmp/sockframe-bench-plot.XXXXXX";
    if (!mkdtemp(dir_template)) return "cannot make a temporary directory";
    std::string dir = dir_template;

    // Panels: throughput for bulk (and ping-pong), per framing, at the first connection count
    // and write batch; wake-ups per message for drip.
    struct Panel {
        Workload w;
        Framing f;
        bool wakeups;
        uint32_t conns, pw;
    };
    std::vector<Panel> panels;
    for (Workload w : {Workload::bulk, Workload::pingpong, Workload::drip})
        for (Framing f : {Framing::length, Framing::delimiter}) {
            const CellResult* first = nullptr;
            for (const auto& c : cells)
                if (c.spec.workload == w && c.spec.framing == f && c.skipped.empty() && !first) first = &c;
            if (first) panels.push_back({w, f, w == Workload::drip, first->spec.connections, first->spec.per_write});
        }
    if (panels.empty()) return "no cell produced numbers";

    std::set<uint64_t> sizes;
    for (const auto& c : cells) sizes.insert(c.spec.size);
    std::string xtics;
    for (uint64_t s : sizes) xtics += (xtics.empty() ? "" : ", ") + ("\"" + size_text(s) + "\" " + std::to_string(s));

    int cols = panels.size() > 1 ? 2 : 1;
    int rows = static_cast<int>((panels.size() + 1) / 2);
    std::string script =
        "set terminal pngcairo size " + std::to_string(cols * 760) + "," + std::to_string(rows * 420) +
        " font 'sans,10'\nset output '" + path + "'\nset multiplot layout " + std::to_string(rows) + "," +
        std::to_string(cols) + "\nset logscale x 2\nset xrange [" +
        std::to_string(static_cast<double>(*sizes.begin()) / 1.6) + ":" +
        std::to_string(static_cast<double>(*sizes.rbegin()) * 1.6) + "]\nset xtics (" + xtics +
        ")\nset grid\nset key outside right top vertical font ',9'\nset xlabel 'message size (bytes)'\n";
    int file_no = 0;
    for (const auto& p : panels) {
        std::string plots;
        for (Strategy s : {Strategy::kernel, Strategy::kernel_per_message, Strategy::userspace, Strategy::uring,
                           Strategy::handwritten, Strategy::naive}) {
            std::string data;
            for (const auto& c : cells)
                if (c.spec.strategy == s && c.spec.workload == p.w && c.spec.framing == p.f &&
                    c.spec.connections == p.conns && c.spec.per_write == p.pw && c.skipped.empty()) {
                    // Drip: how often the server thread slept and was woken per message. That is
                    // epoll_wait returns for the epoll loops, and it also counts the naive
                    // server's sleeps inside a blocking recv, which epoll_wait returns miss.
                    double v = p.wakeups ? c.ctxsw_per_msg : c.msgs_per_s;
                    if (!std::isnan(v)) data += std::to_string(c.spec.size) + " " + std::to_string(v) + "\n";
                }
            if (data.empty()) continue;
            std::string file = dir + "/" + std::to_string(file_no++) + ".dat";
            std::ofstream(file) << data;
            plots += (plots.empty() ? "" : ", ") +
                     ("'" + file + "' using 1:2 with linespoints lw 2 title '" + name(s) + "'");
        }
        std::string title = std::string(name(p.w)) + ", " + name(p.f) + " framing, " + std::to_string(p.conns) +
                            (p.conns == 1 ? " connection" : " connections");
        if (p.w == Workload::bulk) title += ", " + std::to_string(p.pw) + " messages/write";
        script += "set title \"" + title + "\"\n";
        if (p.wakeups)
            script +=
                "unset logscale y\nset format y '%g'\n"
                "set ylabel 'server wake-ups per message (voluntary context switches)'\nset yrange [0:*]\n";
        else
            script += "set logscale y 10\nset format y '%.0s%c'\nset ylabel 'messages/s'\nset yrange [*:*]\n";
        script += "plot " + plots + "\n";
    }
    script += "unset multiplot\n";
    std::string script_path = dir + "/plot.gp";
    std::ofstream(script_path) << script;
    ProcessResult r = run_process({gnuplot, script_path});
    for (int k = 0; k < file_no; k++) unlink((dir + "/" + std::to_string(k) + ".dat").c_str());
    unlink(script_path.c_str());
    rmdir(dir.c_str());
    if (r.exit_code != 0) return "gnuplot failed: " + r.output;
    return {};
}

}  // namespace sockframe::bench
