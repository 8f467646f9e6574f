// The sockframe command line: check, gen, build, serve, frame, list.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "serve.hpp"
#include <sockframe/sockframe.hpp>

namespace fs = std::filesystem;
using namespace sockframe;

namespace {

const char* kUsage = R"(usage: sockframe COMMAND [options]

  check DESCRIPTION.toml            validate; say in words how it frames
  gen   DESCRIPTION.toml [-o FILE]  print the generated BPF C (readable, deterministic)
        [--headers DIR]             also write the headers it includes into DIR
  build DESCRIPTION.toml -o FILE    compile the parser with clang -target bpf (with BTF)
  serve DESCRIPTION.toml [options]  frame every connection and print each message
        --listen HOST:PORT          default 127.0.0.1:5353
        --format text|jsonl         one line per message (jsonl: conn, offset, len, hex)
        --echo                      send each whole message back to its sender
        --max-connections N         default 1024 (also the sockmap size)
        --userspace                 use the userspace framer instead of the kernel
        --require-kernel            fail instead of falling back to userspace
        --object FILE.bpf.o         load a parser made by `sockframe build`
        --per-message               one message per parser call (no batching)
        --max-in-flight BYTES       kernel path: how far the kernel may run ahead of the
                                    reader before the connection moves to userspace framing
                                    (default 4 x max_message, at least 8 MiB)
        --stall-timeout MS          kernel path: move a stalled connection to userspace
                                    framing after MS ms (default 1000; 0 = never)
        --message-timeout MS        close a peer that sends part of a message and then
                                    nothing for MS ms, with a `stalled` error (default 0: wait)
        --exit-after N              stop after N messages
        --quiet                     print no per-message lines
  frame DESCRIPTION.toml [FILE|-]   frame a captured byte stream offline
        --format text|jsonl
  list  [DIR]                       the shipped protocol descriptions
)";

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "sockframe: %s\n\n%s", what.c_str(), kUsage);
    std::exit(2);
}

struct Args {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> options;

    bool flag(const std::string& name) const {
        for (auto& [k, v] : options) if (k == name) return true;
        return false;
    }
    std::string value(const std::string& name, const std::string& fallback = "") const {
        std::string out = fallback;
        for (auto& [k, v] : options) if (k == name) out = v;
        return out;
    }
};

Args parse_args(int argc, char** argv, int from, const std::vector<std::string>& with_value,
                const std::vector<std::string>& flags) {
    Args a;
    for (int i = from; i < argc; i++) {
        std::string s = argv[i];
        if (s.size() > 1 && s[0] == '-') {
            auto known = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), s) != v.end(); };
            if (known(with_value)) {
                if (i + 1 >= argc) usage_error(s + " needs a value");
                a.options.emplace_back(s, argv[++i]);
            } else if (known(flags)) {
                a.options.emplace_back(s, "");
            } else {
                usage_error("unknown option " + s);
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

cli::Format format_of(const Args& a) {
    std::string f = a.value("--format", "text");
    if (f == "text") return cli::Format::text;
    if (f == "jsonl") return cli::Format::jsonl;
    usage_error("--format must be text or jsonl, not \"" + f + "\"");
}

unsigned long long number_of(const Args& a, const std::string& name, unsigned long long fallback) {
    std::string v = a.value(name);
    if (v.empty()) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (!end || *end || v[0] == '-') usage_error(name + " wants a number, not \"" + v + "\"");
    return n;
}

Description description_arg(const Args& a) {
    if (a.positional.empty()) usage_error("missing DESCRIPTION.toml");
    return load_description_file(a.positional[0]);
}

void write_output(const std::string& path, std::string_view data) {
    if (path.empty() || path == "-") {
        std::fwrite(data.data(), 1, data.size(), stdout);
        return;
    }
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

int cmd_check(const Args& a) {
    Description d = description_arg(a);
    std::printf("%s: OK\n%s", d.source_name.c_str(), explain(d).c_str());
    return 0;
}

int cmd_gen(const Args& a) {
    Description d = description_arg(a);
    write_output(a.value("-o"), generate_bpf_c(d));
    if (a.flag("--headers")) write_bpf_headers(a.value("--headers"));
    return 0;
}

int cmd_build(const Args& a) {
    Description d = description_arg(a);
    std::string out = a.value("-o");
    if (out.empty()) usage_error("build needs -o FILE.bpf.o");
    BpfObjectFile obj = compile_bpf(generate_bpf_c(d));
    write_output(out, std::string_view(reinterpret_cast<const char*>(obj.bytes.data()), obj.bytes.size()));
    std::fprintf(stderr, "wrote %s (%zu bytes, %s)\n", out.c_str(), obj.bytes.size(),
                 obj.from_cache ? "from cache" : ("compiled in " + std::to_string(static_cast<int>(obj.compile_ms)) + " ms").c_str());
    return 0;
}

int cmd_serve(const Args& a) {
    Description d = description_arg(a);
    cli::ServeOptions o;
    o.listen = a.value("--listen", o.listen);
    o.format = format_of(a);
    o.echo = a.flag("--echo");
    o.quiet = a.flag("--quiet");
    o.max_connections = static_cast<unsigned>(number_of(a, "--max-connections", 1024));
    if (o.max_connections == 0) usage_error("--max-connections must be at least 1");
    o.exit_after = number_of(a, "--exit-after", 0);
    if (a.flag("--userspace") && a.flag("--require-kernel")) usage_error("--userspace and --require-kernel exclude each other");
    o.receiver.mode = a.flag("--userspace") ? Mode::userspace : a.flag("--require-kernel") ? Mode::kernel : Mode::automatic;
    o.receiver.object_path = a.value("--object");
    if (a.flag("--per-message")) o.receiver.load.batch_max_msgs = 1;
    o.receiver.load.in_flight_max = number_of(a, "--max-in-flight", 0);
    o.receiver.load.stall_timeout_ms = static_cast<uint32_t>(number_of(a, "--stall-timeout", 1000));
    o.message_timeout_ms = static_cast<unsigned>(number_of(a, "--message-timeout", 0));
    return cli::serve(d, o);
}

int cmd_frame(const Args& a) {
    Description d = description_arg(a);
    cli::Format f = format_of(a);
    std::string path = a.positional.size() > 1 ? a.positional[1] : "-";
    FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    UserspaceFramer framer(d);
    unsigned long long count = 0;
    const FramingError* error = nullptr;
    std::optional<FramingError> tail;
    for (;;) {
        auto space = framer.write_space(64 * 1024);
        size_t n = std::fread(space.data(), 1, space.size(), in);
        framer.commit(n);
        for (;;) {
            auto r = framer.next();
            if (r.status == UserspaceFramer::Status::message) {
                cli::print_message(stdout, f, -1, r.message.offset, r.message.bytes);
                count++;
                continue;
            }
            if (r.status == UserspaceFramer::Status::error) error = r.error;
            break;
        }
        if (error || n == 0) break;
    }
    if (in != stdin) std::fclose(in);
    if (!error) {
        tail = framer.finish();
        if (tail) error = &*tail;
    }
    if (error) cli::print_error(stdout, f, -1, *error);
    if (f == cli::Format::jsonl)
        std::printf("{\"summary\":{\"messages\":%llu,\"bytes\":%llu,\"ok\":%s}}\n", count,
                    static_cast<unsigned long long>(framer.stream_offset()), error ? "false" : "true");
    else
        std::printf("%llu messages, %llu bytes framed%s\n", count, static_cast<unsigned long long>(framer.stream_offset()),
                    error ? ", stopped by a framing error" : "");
    return error ? 1 : 0;
}

std::string default_parsers_dir() {
    if (const char* e = std::getenv("SOCKFRAME_PARSERS_DIR"); e && *e) return e;
    return SOCKFRAME_PARSERS_DIR;
}

int cmd_list(const Args& a) {
    std::string dir = a.positional.empty() ? default_parsers_dir() : a.positional[0];
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    int bad = 0;
    for (const auto& p : files) {
        try {
            Description d = load_description_file(p.string());
            std::string rule = d.is_length()
                ? std::to_string(d.length().width) + "-byte " + (d.length().byte_order == ByteOrder::big ? "BE" : "LE") +
                      " length @" + std::to_string(d.length().offset)
                : "delimiter \"" + escape_bytes(d.delimiter().bytes) + "\"";
            std::printf("%-22s %-26s %-28s %s\n", p.filename().c_str(), d.name.c_str(), rule.c_str(), d.summary.c_str());
        } catch (const std::exception& e) {
            std::printf("%-22s INVALID: %s\n", p.filename().c_str(), e.what());
            bad++;
        }
    }
    return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    try {
        if (cmd == "check") return cmd_check(parse_args(argc, argv, 2, {}, {}));
        if (cmd == "gen") return cmd_gen(parse_args(argc, argv, 2, {"-o", "--headers"}, {}));
        if (cmd == "build") return cmd_build(parse_args(argc, argv, 2, {"-o"}, {}));
        if (cmd == "serve")
            return cmd_serve(parse_args(argc, argv, 2, {"--listen", "--format", "--max-connections", "--object", "--exit-after",
                                                           "--max-in-flight", "--stall-timeout", "--message-timeout"},
                                        {"--echo", "--userspace", "--require-kernel", "--per-message", "--quiet"}));
        if (cmd == "frame") return cmd_frame(parse_args(argc, argv, 2, {"--format"}, {}));
        if (cmd == "list") return cmd_list(parse_args(argc, argv, 2, {}, {}));
        usage_error("unknown command " + cmd);
    } catch (const DescriptionError& e) {
        std::fprintf(stderr, "sockframe: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sockframe: %s\n", e.what());
        return 1;
    }
}
