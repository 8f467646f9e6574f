// libFuzzer target: the description parser. Any bytes in; it must either return
// a description that keeps its documented invariants or throw DescriptionError,
// never crash, hang or throw anything else. Accepted descriptions are also
// explained, turned into C, and used to build and frame their smallest message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/description.hpp>
#include "description/message_builder.hpp"
#include <sockframe/userspace_framer.hpp>

using namespace sockframe;

namespace {

[[noreturn]] void broken(const char* what, std::string_view input) {
    std::fprintf(stderr, "fuzz_description: %s\ninput:\n%.*s\n", what, static_cast<int>(input.size()), input.data());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    Description d;
    try {
        d = parse_description(text, "fuzz.toml");
    } catch (const DescriptionError& e) {
        if (e.line() == 0 || e.column() == 0) broken("a DescriptionError without a position", text);
        // An empty TOML key ("" = 1) is reported with an empty key name (known, cosmetic:
        // "x.toml:1:1: : unknown key"); every other error must name its key.
        if (e.key().empty() && e.problem().rfind("unknown key", 0) != 0) broken("a DescriptionError without a key", text);
        return 0;
    }
    if (d.max_message < 1 || d.max_message > kMaxMessageLimit) broken("max_message out of range", text);
    if (d.name.empty() || d.name.size() > 48) broken("bad name accepted", text);
    if (d.is_length()) {
        const LengthField& f = d.length();
        if (f.field_end() > d.max_message) broken("the length field ends beyond max_message", text);
        if (f.effective_min() > d.max_message && f.min_message > d.max_message) broken("min_message above max_message", text);
    } else {
        size_t n = d.delimiter().bytes.size();
        if (n < 1 || n > 16 || n > d.max_message) broken("bad delimiter accepted", text);
    }
    std::string explained = explain(d);
    std::string c = generate_bpf_c(d);
    if (c.find("sockframe_runtime.bpf.h") == std::string::npos) broken("generated C without the runtime", text);
    // Everything quoted from the description sits inside comments: no "*/" may leak.
    size_t open = c.find("/*");
    while (open != std::string::npos) {
        size_t close = c.find("*/", open + 2);
        if (close == std::string::npos) broken("unterminated comment in generated C", text);
        open = c.find("/*", close + 2);
    }
    // The smallest message the builder makes frames as exactly that one message
    // (after the description's first message, if it has one).
    uint64_t small = smallest_message(d);
    if (small && small <= 4096 && small <= largest_message(d)) {
        std::mt19937_64 rng(size);
        if (auto m = build_message(d, small, rng)) {
            std::vector<uint8_t> first = build_first_message(d, 16, rng);
            if (d.first && first.empty()) broken("no first message built for a description that has one", text);
            UserspaceFramer f(d);
            f.feed(first);
            f.feed(*m);
            if (!first.empty()) {
                auto r0 = f.next();
                if (r0.status != UserspaceFramer::Status::message || r0.message.bytes.size() != first.size())
                    broken("the framer does not frame the builder's first message as one message", text);
            }
            auto r = f.next();
            if (r.status != UserspaceFramer::Status::message || r.message.bytes.size() != m->size())
                broken("the framer does not frame the builder's smallest message as one message", text);
        }
    }
    // The input itself as a stream: the framer must not crash on it.
    UserspaceFramer f(d);
    f.feed({data, size});
    for (int i = 0; i < 10000; i++)
        if (f.next().status != UserspaceFramer::Status::message) break;
    (void)f.finish();
    return 0;
}
