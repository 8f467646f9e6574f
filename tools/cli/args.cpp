#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "command.hpp"

namespace sockframe::cli {
namespace {

const Option* find_option(const Command& c, const std::string& name) {
    for (const Option& o : c.options)
        if (o.name == name) return &o;
    return nullptr;
}

}  // namespace

std::string usage_of(const Command& c) {
    std::string out =
        "usage: sockframe " + c.name + (c.operands.empty() ? "" : " " + c.operands) + "\n\n" + c.summary + "\n";
    if (!c.options.empty()) out += "\noptions:\n";
    for (const Option& o : c.options) {
        std::string head = "  " + o.name + (o.value.empty() ? "" : " " + o.value);
        std::string help = o.help + (o.repeatable ? " (may be repeated)" : "");
        if (head.size() < 27)
            head.resize(28, ' ');
        else
            head += "\n" + std::string(28, ' ');
        for (size_t pos = 0, nl; pos <= help.size(); pos = nl + 1) {
            nl = help.find('\n', pos);
            if (nl == std::string::npos) nl = help.size();
            out += (pos ? std::string(28, ' ') : head) + help.substr(pos, nl - pos) + "\n";
        }
    }
    return out;
}

void usage_error(const Command& c, const std::string& what) {
    std::fprintf(stderr, "sockframe %s: %s\n\n%s", c.name.c_str(), what.c_str(), usage_of(c).c_str());
    std::exit(2);
}

Args::Args(const Command& c, int argc, char** argv, int from) : command_(&c) {
    for (int i = from; i < argc; i++) {
        std::string s = argv[i];
        if (s == "-h" || s == "--help") {
            std::fputs(usage_of(c).c_str(), stdout);
            std::exit(0);
        }
        if (s.size() > 1 && s[0] == '-') {
            const Option* o = find_option(c, s);
            if (!o) usage_error(c, "unknown option " + s);
            if (o->value.empty()) {
                options_.emplace_back(s, "");
            } else {
                if (i + 1 >= argc) usage_error(c, s + " needs a value (" + o->value + ")");
                options_.emplace_back(s, argv[++i]);
            }
        } else {
            positional_.push_back(s);
        }
    }
}

bool Args::flag(const std::string& name) const {
    return std::any_of(options_.begin(), options_.end(), [&](const auto& kv) { return kv.first == name; });
}

std::string Args::value(const std::string& name, const std::string& fallback) const {
    std::string out = fallback;
    for (const auto& [k, v] : options_)
        if (k == name) out = v;
    return out;
}

std::vector<std::string> Args::values(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : options_)
        if (k == name) out.push_back(v);
    return out;
}

unsigned long long Args::number(const std::string& name, unsigned long long fallback) const {
    std::string v = value(name);
    if (v.empty()) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (!end || *end || v[0] == '-') usage_error(*command_, name + " wants a number, not \"" + v + "\"");
    return n;
}

Format Args::format() const {
    std::string f = value("--format", "text");
    if (f == "text") return Format::text;
    if (f == "jsonl") return Format::jsonl;
    usage_error(*command_, "--format must be text or jsonl, not \"" + f + "\"");
}

Description Args::description() const {
    if (positional_.empty()) usage_error(*command_, "missing DESCRIPTION");
    return load_description_file(positional_[0]);
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

}  // namespace sockframe::cli
