// libFuzzer target: the differential check. The input picks one of a few fixed
// descriptions, the batch caps, the chunking and the stream; the host-compiled
// generated parser (built once at start-up) runs under the strparser model and
// must agree with the userspace framer (tests/differential/diff_lib.hpp).
// Descriptions 10-14 use the description language v2 features.
// A mismatch prints a pasteable reproduction and aborts.
//
// Input layout: [0] description, [1] mode and batch_max_msgs, [2] batch_max_bytes,
// [3] n = number of chunk sizes (mod 32), [4, 4+n) chunk sizes (cycled; 0 = 1),
// then the stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/description.hpp>
#include "diff_lib.hpp"

using namespace sockframe;
using namespace sockframe::diff;

namespace {

const char* const kDescriptions[] = {
    "name = \"l-dns\"\nmax_message = 300\n[length]\nwidth = 2\nheader = 2\nmin_message = 6\n",
    "name = \"l-whole\"\nmax_message = 5000\n[length]\noffset = 4\nwidth = 4\nbyte_order = \"little\"\nheader = 0\n"
    "min_message = 8\n",
    "name = \"l-masked\"\nmax_message = 1000\n[length]\nwidth = 3\nmask = 0x3fff00\nshift = 8\n",
    "name = \"l-w8-scaled\"\nmax_message = 4096\n[length]\nwidth = 8\nbyte_order = \"little\"\nscale = 4\n",
    "name = \"l-byte\"\nmax_message = 200\n[length]\noffset = 1\nwidth = 1\nheader = 3\n",
    "name = \"d-crlf\"\nmax_message = 200\n[delimiter]\ntext = \"\\r\\n\"\n",
    "name = \"d-aab\"\nmax_message = 50\n[delimiter]\ntext = \"aab\"\n",
    "name = \"d-nl\"\nmax_message = 20\n[delimiter]\ntext = \"\\n\"\n",
    "name = \"d-long\"\nmax_message = 300\n[delimiter]\nhex = \"00ff00ff00ff\"\n",
    "name = \"d-16\"\nmax_message = 100\n[delimiter]\ntext = \"abababababababab\"\n",
    // The description language v2: variable-length fields, magic, trailers, first messages.
    "name = \"v-netstring\"\nmax_message = 300\n[length]\nencoding = \"ascii-decimal\"\nterminator = \":\"\n"
    "width = 4\nadjust = 1\n[trailer]\ntext = \",\"\n",
    "name = \"v-pkt\"\nmax_message = 400\n[length]\nencoding = \"ascii-hex\"\ndigits = 4\nadjust = -4\n"
    "special_values = [0, 1]\nspecial_total = 4\n",
    "name = \"v-leb\"\nmax_message = 1000\n[length]\nencoding = \"leb128\"\noffset = 1\n[preface]\ntext = \"HELLO\\r\\n\"\n",
    "name = \"v-ber\"\nmax_message = 2000\n[length]\nencoding = \"ber\"\noffset = 1\n[[magic]]\noffset = 0\nhex = \"30\"\n",
    "name = \"v-first\"\nmax_message = 200\n[delimiter]\ntext = \"\\r\\n\"\n[first_length]\nwidth = 2\nheader = 0\n"
    "min_message = 4\nmax_message = 100\n",
};
constexpr size_t kCount = sizeof kDescriptions / sizeof kDescriptions[0];

struct Fixture {
    std::vector<Description> descs;
    std::unique_ptr<HostParsers> parsers;
};

Fixture& fixture() {
    static Fixture* f = [] {
        auto* fx = new Fixture;
        std::vector<std::string> sources;
        for (const char* t : kDescriptions) {
            fx->descs.push_back(parse_description(t, "fuzz.toml"));
            sources.push_back(generate_bpf_c(fx->descs.back()));
        }
        fx->parsers = std::make_unique<HostParsers>(sources);
        return fx;
    }();
    return *f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fixture();  // compile the parsers once, before the first input
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    Fixture& fx = fixture();
    size_t which = data[0] % kCount;
    static const uint32_t kMsgs[] = {1, 0, 2, 3, 4, 256, 4096, 5000};
    static const uint32_t kBytes[] = {65536, 1, 2, 7, 16, 64, 300, 1 << 20};
    Case c;
    c.caps.max_msgs = kMsgs[data[1] & 7];
    c.caps.max_bytes = (data[1] & 8) ? kBytes[data[2] & 7] : 1u + data[2];
    size_t n = data[3] % 32;
    if (4 + n > size) return 0;
    std::vector<size_t> sizes(data + 4, data + 4 + n);
    c.stream.assign(data + 4 + n, data + size);
    for (size_t left = c.stream.size(), k = 0; left; k++) {
        size_t s = sizes.empty() ? left : std::max<size_t>(1, sizes[k % sizes.size()]);
        s = std::min(s, left);
        c.chunks.push_back(s);
        left -= s;
    }
    const Description& d = fx.descs[which];
    Verdict v = check_case(d, fx.parsers->parser(which), c);
    if (!v.ok) {
        Case small = shrink(d, fx.parsers->parser(which), c);
        Verdict sv = check_case(d, fx.parsers->parser(which), small);
        std::fprintf(stderr, "fuzz_differential: MISMATCH %s: %s\nminimal reproduction:\n%s\n", v.category.c_str(),
                     v.problem.c_str(), format_repro(d.name + "-fuzz", kDescriptions[which], small, sv).c_str());
        std::abort();
    }
    return 0;
}
