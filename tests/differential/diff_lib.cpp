#include "diff_lib.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <unordered_map>
#include <sstream>
#include <stdexcept>

#include <sockframe/bpf_compiler.hpp>
#include "codegen/embedded_headers.hpp"
#include "description/message_builder.hpp"
#include "sockframe_primitives.h"
#include <sockframe/userspace_framer.hpp>

extern char** environ;

namespace sockframe::diff {

namespace fs = std::filesystem;

// ---- small helpers ---------------------------------------------------------------

uint64_t env_u64(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    unsigned long long x = std::strtoull(v, &end, 10);
    return end && *end == 0 ? x : fallback;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
    auto digit = [](char c) -> int {
        int d = sf_digit(static_cast<uint8_t>(c), 1);
        if (d < 0) throw std::invalid_argument("not a hex digit");
        return d;
    };
    if (hex.size() % 2) throw std::invalid_argument("odd number of hex digits");
    std::vector<uint8_t> out;
    for (size_t i = 0; i < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(digit(hex[i]) * 16 + digit(hex[i + 1])));
    return out;
}

std::string host_compiler() {
    for (const char* name : {"SOCKFRAME_HOST_CC", "CC"})
        if (const char* v = std::getenv(name); v && *v) return v;
    return "cc";
}

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Replaces every occurrence; returns how many.
size_t replace_all(std::string& s, const std::string& from, const std::string& to) {
    size_t n = 0;
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
        n++;
    }
    return n;
}

// Starts argv with stdout and stderr going to `log`; returns the pid.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    return pid;
}

}  // namespace

// ---- host compilation ------------------------------------------------------------

HostParsers::HostParsers(const std::vector<std::string>& c_sources, const std::vector<SourcePatch>& patches,
                         unsigned jobs) {
    auto start = std::chrono::steady_clock::now();
    std::string tmpl = (fs::temp_directory_path() / "sockframe-diff-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    write_bpf_headers(dir_);

    std::vector<size_t> parser_patch_hits(patches.size(), 0);
    for (size_t k = 0; k < patches.size(); k++) {
        const SourcePatch& p = patches[k];
        if (p.file == "parser") continue;
        fs::path path = fs::path(dir_) / p.file;
        if (!fs::exists(path)) throw std::runtime_error("patch: no header named " + p.file);
        std::string text = read_text(path);
        if (replace_all(text, p.from, p.to) == 0)
            throw std::runtime_error("patch: \"" + p.from + "\" not found in " + p.file + " (update the mutation)");
        write_text(path, text);
    }
    for (size_t i = 0; i < c_sources.size(); i++) {
        std::string src = c_sources[i];
        for (size_t k = 0; k < patches.size(); k++)
            if (patches[k].file == "parser") parser_patch_hits[k] += replace_all(src, patches[k].from, patches[k].to);
        write_text(fs::path(dir_) / ("p" + std::to_string(i) + ".c"), src);
        std::string n = std::to_string(i);
        write_text(fs::path(dir_) / ("w" + n + ".c"),
                   "#define sf_host_parse sf_host_parse_" + n + "\n#define sf_host_route sf_host_route_" + n +
                       "\n#define sf_host_first_key sf_host_first_key_" + n + "\n#include \"p" + n + ".c\"\n");
    }
    for (size_t k = 0; k < patches.size(); k++)
        if (patches[k].file == "parser" && parser_patch_hits[k] == 0)
            throw std::runtime_error("patch: \"" + patches[k].from +
                                     "\" not found in any generated parser (update the mutation)");

    jobs = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(c_sources.size())));
    // Built objects are cached by content (sources after patches, headers, compiler,
    // flags) under $SOCKFRAME_CACHE_DIR/diff-host when that is set.
    std::vector<std::string> flags = {"-O1", "-shared", "-fPIC", "-DSOCKFRAME_HOST"};
    if (const char* extra = std::getenv("SOCKFRAME_HOST_CFLAGS")) {  // e.g. coverage for the fuzzer
        std::istringstream words(extra);
        for (std::string w; words >> w;) flags.push_back(w);
    }
    std::string cache;
    if (const char* c = std::getenv("SOCKFRAME_CACHE_DIR"); c && *c && !env_u64("SOCKFRAME_DIFF_NO_CACHE", 0))
        cache = std::string(c) + "/diff-host";
    uint64_t base_hash = 0xcbf29ce484222325ULL;
    auto fnv = [](uint64_t h, std::string_view t) {
        for (unsigned char ch : t) h = (h ^ ch) * 0x100000001b3ULL;
        return h;
    };
    base_hash = fnv(base_hash, host_compiler());
    for (const auto& f : flags) base_hash = fnv(base_hash, f);
    for (size_t i = 0; i < kBpfHeaderCount; i++)
        base_hash = fnv(base_hash, read_text(fs::path(dir_) / std::string(kBpfHeaders[i].name)));

    std::vector<pid_t> pids(jobs, -1);
    std::vector<std::string> libs, logs, cached;
    for (unsigned g = 0; g < jobs; g++) {
        std::vector<std::string> argv = {host_compiler()};
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.push_back("-I" + dir_);
        uint64_t h = fnv(base_hash, std::to_string(g) + "/" + std::to_string(jobs));
        for (size_t i = g; i < c_sources.size(); i += jobs) {
            argv.push_back(dir_ + "/w" + std::to_string(i) + ".c");
            h = fnv(fnv(h, read_text(argv.back())), read_text(fs::path(dir_) / ("p" + std::to_string(i) + ".c")));
        }
        char key[40];
        std::snprintf(key, sizeof key, "%016llx.so", static_cast<unsigned long long>(h));
        cached.push_back(cache.empty() ? "" : cache + "/" + key);
        libs.push_back(dir_ + "/g" + std::to_string(g) + ".so");
        logs.push_back(dir_ + "/g" + std::to_string(g) + ".log");
        std::error_code ec;
        if (!cached.back().empty() && fs::is_regular_file(cached.back(), ec)) {
            libs.back() = cached.back();
            continue;
        }
        argv.insert(argv.end(), {"-o", libs.back()});
        pids[g] = spawn_logged(argv, logs.back());
    }
    bool failed = false;
    for (unsigned g = 0; g < jobs; g++) {
        if (pids[g] < 0) continue;
        int status = 0;
        while (waitpid(pids[g], &status, 0) < 0 && errno == EINTR) {
        }
        output_ += read_text(logs[g]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed = true;
        } else if (!cached[g].empty()) {
            std::error_code ec;
            fs::create_directories(cache, ec);
            std::string part = cached[g] + ".part" + std::to_string(getpid());
            fs::copy_file(libs[g], part, fs::copy_options::overwrite_existing, ec);
            if (!ec) fs::rename(part, cached[g], ec);  // atomic: readers never see half a file
            if (ec) fs::remove(part, ec);
        }
    }
    if (failed) throw std::runtime_error("host compile of generated parsers failed (sources in " + dir_ + "):\n" + output_);
    fns_.resize(c_sources.size());
    route_fns_.resize(c_sources.size());
    first_key_fns_.resize(c_sources.size());
    for (unsigned g = 0; g < jobs; g++) {
        void* h = dlopen(libs[g].c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) throw std::runtime_error(std::string("dlopen: ") + dlerror());
        handles_.push_back(h);
        for (size_t i = g; i < c_sources.size(); i += jobs) {
            void* sym = dlsym(h, ("sf_host_parse_" + std::to_string(i)).c_str());
            if (!sym) throw std::runtime_error("sf_host_parse missing from the host build of parser " + std::to_string(i));
            fns_[i] = reinterpret_cast<ParseFn>(sym);
            // Present when the description has a [route] (and a first_key).
            route_fns_[i] = reinterpret_cast<RouteFn>(dlsym(h, ("sf_host_route_" + std::to_string(i)).c_str()));
            first_key_fns_[i] = reinterpret_cast<FirstKeyFn>(dlsym(h, ("sf_host_first_key_" + std::to_string(i)).c_str()));
        }
    }
    compile_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

HostParsers::~HostParsers() {
    for (void* h : handles_) dlclose(h);
    if (!std::getenv("SOCKFRAME_DIFF_KEEP")) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

// ---- the two implementations under the same eyes ---------------------------------

namespace {

constexpr long kEBadMsg = 74;
constexpr uint32_t kBatchHardMax = 4096;  // SF_BATCH_HARD_MAX: the documented clamp

enum class End { clean, error, truncated };

struct Outcome {
    std::vector<std::pair<uint64_t, uint64_t>> units;  // (offset, length): messages, or the kernel's batches
    End end = End::clean;
    int kind = 0;
    uint64_t value = 0, needed = 0, offset = 0;
};

std::string describe_end(const Outcome& o) {
    char buf[160];
    switch (o.end) {
    case End::clean: return "clean end";
    case End::error:
        std::snprintf(buf, sizeof buf, "error %s value %llu at offset %llu",
                      kind_name(static_cast<FramingErrorKind>(o.kind)), (unsigned long long)o.value,
                      (unsigned long long)o.offset);
        return buf;
    case End::truncated:
        std::snprintf(buf, sizeof buf, "truncated: %llu bytes held (needed %llu) at offset %llu",
                      (unsigned long long)o.value, (unsigned long long)o.needed, (unsigned long long)o.offset);
        return buf;
    }
    return "?";
}

// The userspace framer fed in the given segments.
Outcome run_framer(const Description& d, std::span<const uint8_t> stream, std::span<const size_t> chunks) {
    Outcome o;
    UserspaceFramer f(d);
    size_t pos = 0;
    for (size_t n : chunks) {
        f.feed(stream.subspan(pos, n));
        pos += n;
        for (;;) {
            auto r = f.next();
            if (r.status == UserspaceFramer::Status::message) {
                o.units.emplace_back(r.message.offset, r.message.bytes.size());
                continue;
            }
            if (r.status == UserspaceFramer::Status::error) {
                o.end = End::error;
                o.kind = static_cast<int>(r.error->kind);
                o.value = r.error->value;
                o.offset = r.error->offset;
                return o;
            }
            break;
        }
    }
    if (auto e = f.finish()) {
        o.end = End::truncated;
        o.value = e->value;
        o.needed = e->needed;
        o.offset = e->offset;
    }
    return o;
}

// What the parser must return when called with `bytes` available from the
// message start, according to the framer.
struct CallExpect {
    long ret = 0;
    int error = 0;
    uint64_t error_value = 0;
    uint32_t batch_msgs = 0;
    std::vector<uint64_t> lengths;  // every whole message available, caps ignored
};

// `f` is the reference framer positioned at the message start (it has consumed
// every message before it, so stream-level state such as the first message is
// right); `alone`: the stream's first message (preface / first_length), which the
// runtime returns on its own; `zero_until_whole`: the runtime returns 0 rather
// than the full length for an incomplete message (first message, trailers), so
// that the whole message is checked before it is delivered.
CallExpect expected_call(UserspaceFramer f, std::span<const uint8_t> bytes, Caps caps, bool alone, bool zero_until_whole) {
    f.feed(bytes);
    uint32_t maxn = alone ? 1 : std::clamp<uint32_t>(caps.max_msgs, 1, kBatchHardMax);
    CallExpect e;
    uint64_t sum = 0;
    uint32_t n = 0;
    bool capped = false;
    for (;;) {
        auto r = f.next();
        if (r.status == UserspaceFramer::Status::message) {
            uint64_t len = r.message.bytes.size();
            e.lengths.push_back(len);
            if (capped || (n > 0 && sum + len > caps.max_bytes)) {
                capped = true;
                continue;
            }
            sum += len;
            if (++n >= maxn) capped = true;
            continue;
        }
        if (n == 0) {
            if (r.status == UserspaceFramer::Status::error) {
                e.ret = -kEBadMsg;
                e.error = static_cast<int>(r.error->kind);
                e.error_value = r.error->value;
                return e;
            }
            auto t = f.finish();
            e.ret = t && !zero_until_whole ? static_cast<long>(t->needed) : 0;
            return e;
        }
        break;
    }
    e.ret = static_cast<long>(sum);
    e.batch_msgs = n;
    return e;
}

// printf into a string; every argument is passed as (unsigned) long long.
template <class... A>
std::string fmt(const char* f, A... a) {
    char buf[400];
    std::snprintf(buf, sizeof buf, f, a...);
    return buf;
}
using ull = unsigned long long;
using ll = long long;

}  // namespace

Verdict check_case(const Description& ref, ParseFn parser, const Case& c) {
    Verdict v;
    auto fail = [&](const std::string& category, const std::string& problem) {
        if (v.ok) {
            v.ok = false;
            v.category = category;
            v.problem = problem;
        }
    };
    const uint8_t* s = c.stream.data();
    bool per_message = c.caps.max_msgs <= 1;
    // The most one parser call may return: a batch (the first message always, more up
    // to batch_max_bytes), or the stream's first message up to its own limit.
    uint64_t largest_batch = std::max<uint64_t>(ref.max_message, c.caps.max_bytes);
    if (ref.first) largest_batch = std::max<uint64_t>(largest_batch, ref.first->length ? ref.first->max_message
                                                                                      : ref.first->preface.size());

    // The kernel side: strparser's __strp_recv over one skb per chunk.
    Outcome k;
    sf_conn st{};
    // The reference framer for a message start: the framer's only stream-level
    // state is whether the description's first message (preface / first_length) is
    // behind, so a fresh framer serves the stream's start and one that has taken
    // just the first message serves every later start (cheap to copy per call).
    // If the first delivery is not exactly that message (reported end to end
    // below), per-call checks stop.
    const bool has_first = ref.first.has_value();
    const bool has_trailer = ref.is_length() && !ref.trailer.empty();
    UserspaceFramer fresh(ref), after_first(ref);
    bool positioned = true;
    bool have_head = false, stopped = false;
    uint64_t head_skb = 0, msg_start = 0, full_len = 0, c0 = 0;
    for (size_t n : c.chunks) {
        if (stopped) break;
        uint64_t c1 = c0 + n, p = c0;
        while (p < c1 && !stopped) {
            uint64_t held_before = 0;
            if (!have_head) {
                have_head = true;
                head_skb = c0;
                msg_start = p;
                full_len = 0;
            } else {
                held_before = c0 - msg_start;
            }
            if (full_len == 0) {
                v.parser_calls++;
                long r = parser(s + head_skb, c1 - head_skb, msg_start - head_skb, &st, c.caps.max_msgs, c.caps.max_bytes);
                r = static_cast<int>(r);  // sk_psock_strp_parse keeps an int
                bool first = has_first && msg_start == 0;
                CallExpect want = positioned ? expected_call(msg_start == 0 || !has_first ? fresh : after_first,
                                                             {s + msg_start, c1 - msg_start}, c.caps, first,
                                                             first || has_trailer)
                                             : CallExpect{r, st.error, st.error_value, 0, {}};
                if (r != want.ret)
                    fail("per-call", fmt("parser call %llu for the message at offset %llu with %llu bytes available "
                                         "returned %lld, the framer says %lld",
                                         ull(v.parser_calls), ull(msg_start), ull(c1 - msg_start), ll(r), ll(want.ret)) +
                                         (want.batch_msgs ? fmt(" (%llu whole messages within the caps)", ull(want.batch_msgs))
                                                          : std::string()));
                if (r < 0) {
                    if (r != -kEBadMsg) fail("per-call", fmt("parser returned %lld, not -EBADMSG", ll(r)));
                    if (st.error != want.error || (want.error && st.error_value != want.error_value))
                        fail("per-call", fmt("parser recorded error %lld value %llu, the framer says error %lld value %llu",
                                             ll(st.error), ull(st.error_value), ll(want.error), ull(want.error_value)));
                    k.end = End::error;
                    k.kind = st.error;
                    k.value = st.error_value;
                    k.offset = msg_start;
                    stopped = true;
                    break;
                }
                if (st.error) fail("per-call", fmt("parser left error %lld recorded but returned %lld", ll(st.error), ll(r)));
                if (r == 0) {  // need more: strparser keeps the skb and calls again on the next one
                    p = c1;
                    break;
                }
                if (static_cast<uint64_t>(r) > largest_batch)
                    fail("EMSGSIZE", fmt("parser returned %lld, above max(max_message, first message limit, batch_max_bytes) = %llu: "
                                         "strparser fails with EMSGSIZE once that exceeds the receive buffer",
                                         ll(r), ull(largest_batch)));
                if (static_cast<uint64_t>(r) <= held_before) {
                    fail("EPROTO", fmt("parser returned %lld for the message at offset %llu although strparser already held "
                                       "%llu of its bytes before this skb: the kernel fails with EPROTO",
                                       ll(r), ull(msg_start), ull(held_before)));
                    k.end = End::error;
                    k.kind = -1;
                    k.offset = msg_start;
                    stopped = true;
                    break;
                }
                full_len = static_cast<uint64_t>(r);
            }
            if (msg_start + full_len > c1) {  // strparser waits for the rest without asking again
                p = c1;
                break;
            }
            k.units.emplace_back(msg_start, full_len);
            if (has_first && msg_start == 0) {
                after_first.feed({s, full_len});
                auto r = after_first.next();
                positioned = r.status == UserspaceFramer::Status::message && r.message.bytes.size() == full_len;
            }
            p = msg_start + full_len;
            have_head = false;
        }
        c0 = c1;
    }
    if (st.parser_calls != v.parser_calls)
        fail("state", fmt("sf_conn.parser_calls is %llu after %llu calls", ull(st.parser_calls), ull(v.parser_calls)));
    uint64_t forwarded = 0;
    for (auto& [off, len] : k.units) forwarded += len;
    if (!stopped && forwarded < c.stream.size()) {
        k.end = End::truncated;
        k.value = c.stream.size() - forwarded;
        k.needed = st.need;
        k.offset = forwarded;
    }

    // The userspace side, and its own consistency: the chunking must not matter.
    Outcome u = run_framer(ref, c.stream, c.chunks);
    size_t whole[1] = {c.stream.size()};
    Outcome u1 = run_framer(ref, c.stream, c.stream.empty() ? std::span<const size_t>() : std::span<const size_t>(whole));
    if (u.units != u1.units || describe_end(u) != describe_end(u1))
        fail("framer-chunking", "the userspace framer gives a different result when fed the stream at once: " +
                                    describe_end(u) + " vs " + describe_end(u1) +
                                    fmt(", %llu vs %llu messages", ull(u.units.size()), ull(u1.units.size())));
    v.messages = u.units.size();

    // Messages: batches are runs of whole messages (exactly one in per-message mode).
    size_t mi = 0;
    for (size_t b = 0; b < k.units.size() && v.ok; b++) {
        auto [off, len] = k.units[b];
        uint64_t sum = 0;
        size_t first = mi;
        while (mi < u.units.size() && sum < len && u.units[mi].first == off + sum) sum += u.units[mi++].second;
        if (mi == first || sum != len || (per_message && mi - first != 1))
            fail("messages", fmt("kernel batch %llu [%llu, +%llu) is not ", ull(b), ull(off), ull(len)) +
                                 (per_message ? "exactly one" : "a run") +
                                 fmt(" of the framer's messages (framer message %llu starts there)", ull(first)) +
                                 (first < u.units.size() ? fmt(" with length %llu", ull(u.units[first].second)) : std::string(" (none)")));
    }
    if (v.ok && mi != u.units.size())
        fail("messages", fmt("the kernel delivered %llu of the framer's %llu messages; then: ",
                             ull(mi), ull(u.units.size())) + describe_end(k));
    if (v.ok &&
        (k.end != u.end || k.kind != u.kind || k.value != u.value || k.offset != u.offset || k.needed != u.needed)) {
        std::string cat = k.end == End::truncated || u.end == End::truncated ? "truncation" : "error";
        if (k.kind == -1) cat = "EPROTO";
        fail(cat, "kernel: " + describe_end(k) + "; framer: " + describe_end(u));
    }
    return v;
}

// ---- shrinking and reproductions -------------------------------------------------

namespace {

std::vector<uint64_t> cuts_of(const Case& c) {
    std::vector<uint64_t> cuts;
    uint64_t at = 0;
    for (size_t i = 0; i + 1 < c.chunks.size(); i++) cuts.push_back(at += c.chunks[i]);
    return cuts;
}

void set_cuts(Case& c, std::vector<uint64_t> cuts) {
    std::set<uint64_t> uniq;
    for (auto x : cuts)
        if (x > 0 && x < c.stream.size()) uniq.insert(x);
    c.chunks.clear();
    uint64_t prev = 0;
    for (auto x : uniq) {
        c.chunks.push_back(x - prev);
        prev = x;
    }
    if (prev < c.stream.size()) c.chunks.push_back(c.stream.size() - prev);
}

Case without_range(const Case& c, size_t pos, size_t len) {
    Case t = c;
    t.stream.erase(t.stream.begin() + static_cast<long>(pos), t.stream.begin() + static_cast<long>(pos + len));
    std::vector<uint64_t> cuts;
    for (auto x : cuts_of(c)) cuts.push_back(x <= pos ? x : x >= pos + len ? x - len : pos);
    set_cuts(t, cuts);
    return t;
}

}  // namespace

Case shrink(const Description& ref, ParseFn parser, Case c, size_t max_checks) {
    Verdict v0 = check_case(ref, parser, c);
    if (v0.ok) return c;
    size_t checks = 0;
    auto still = [&](const Case& t) {
        checks++;
        Verdict v = check_case(ref, parser, t);
        return !v.ok && v.category == v0.category;
    };
    // Whole messages first (as the framer sees them), from the back.
    {
        Outcome u = run_framer(ref, c.stream, c.chunks);
        for (size_t i = u.units.size(); i-- > 0 && checks < max_checks;) {
            Case t = without_range(c, u.units[i].first, u.units[i].second);
            if (still(t)) c = std::move(t);
        }
    }
    for (Caps simpler : {Caps{256, 65536}, Caps{1, 65536}, Caps{2, 65536}})
        if (c.caps.max_msgs != simpler.max_msgs || c.caps.max_bytes != simpler.max_bytes) {
            Case t = c;
            t.caps = simpler;
            if (still(t)) {
                c = t;
                break;
            }
        }
    bool progress = true;
    while (progress && checks < max_checks) {
        progress = false;
        for (size_t len = std::max<size_t>(1, c.stream.size() / 2); len >= 1 && checks < max_checks; len /= 2) {
            for (size_t pos = 0; pos + len <= c.stream.size() && checks < max_checks;) {
                Case t = without_range(c, pos, len);
                if (still(t)) {
                    c = std::move(t);
                    progress = true;
                } else {
                    pos += len;
                }
            }
            if (len == 1) break;
        }
        auto cuts = cuts_of(c);
        for (size_t i = 0; i < cuts.size() && checks < max_checks;) {
            auto fewer = cuts;
            fewer.erase(fewer.begin() + static_cast<long>(i));
            Case t = c;
            set_cuts(t, fewer);
            if (still(t)) {
                c = std::move(t);
                cuts = std::move(fewer);
                progress = true;
            } else {
                i++;
            }
        }
    }
    return c;
}

std::string format_repro(const std::string& name, const std::string& toml, const Case& c, const Verdict& v) {
    std::ostringstream o;
    o << "// " << v.category << ": " << v.problem << "\n";
    o << "{\"" << name << "\", R\"toml(\n" << toml;
    if (!toml.empty() && toml.back() != '\n') o << "\n";
    o << ")toml\",\n \"" << to_hex(c.stream) << "\", {";
    for (size_t i = 0; i < c.chunks.size(); i++) o << (i ? ", " : "") << c.chunks[i];
    o << "}, " << c.caps.max_msgs << ", " << c.caps.max_bytes << "},\n";
    return o.str();
}

// ---- random generation -----------------------------------------------------------

namespace {

uint64_t uni(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
}
bool chance(std::mt19937_64& rng, unsigned percent) { return uni(rng, 0, 99) < percent; }

std::string toml_basic_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        switch (ch) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                out += buf;
            } else {
                out += static_cast<char>(ch);
            }
        }
    }
    return out + "\"";
}

uint64_t pick_max(std::mt19937_64& rng, uint64_t lo, uint64_t cap) {
    uint64_t m;
    switch (uni(rng, 0, 9)) {
    case 0: m = lo; break;
    case 1: case 2: m = lo + uni(rng, 0, 16); break;
    case 3: case 4: m = lo + uni(rng, 0, 300); break;
    case 5: case 6: m = lo + uni(rng, 0, 4000); break;
    case 7: m = 65535 + uni(rng, 0, 2); break;
    case 8: m = uint64_t{1} << uni(rng, 16, 22); break;
    default: m = chance(rng, 50) ? kMaxMessageLimit : uni(rng, lo, kMaxMessageLimit); break;
    }
    return std::max(lo, std::min(m, cap));
}

}  // namespace

namespace {
std::string random_description_once(std::mt19937_64& rng, const std::string& name, const GenLimits& limits);
}

// Draws until the description language accepts the text: the generator stays
// simple, and whatever the language refuses (now or after future tightening) is
// simply not generated.
std::string random_description_toml(std::mt19937_64& rng, const std::string& name, const GenLimits& limits) {
    std::string last_error;
    for (int tries = 0; tries < 1000; tries++) {
        std::string t = random_description_once(rng, name, limits);
        try {
            parse_description(t, name + ".toml");
            return t;
        } catch (const DescriptionError& e) {
            last_error = e.what();
        }
    }
    throw std::runtime_error("random_description_toml: 1000 drafts refused, the last: " + last_error);
}

namespace {

std::string random_description_once(std::mt19937_64& rng, const std::string& name, const GenLimits& limits) {
    std::ostringstream o;
    o << "name = \"" << name << "\"\n";
    bool length = chance(rng, 50);
    std::string extra;  // tables after the framing table: [[magic]], [trailer], [preface], [first_length]
    if (chance(rng, 12)) {
        // The stream's first message: a fixed preface, or a length rule of its own.
        if (chance(rng, 55)) {
            std::string pre;
            for (uint64_t n = uni(rng, 1, 24); n; n--) pre += static_cast<char>(chance(rng, 70) ? uni(rng, 0x20, 0x7e) : uni(rng, 0, 255));
            extra += "\n[preface]\nhex = \"" + to_hex({reinterpret_cast<const uint8_t*>(pre.data()), pre.size()}) + "\"\n";
        } else {
            uint64_t w = std::vector<uint64_t>{1, 2, 4}[uni(rng, 0, 2)];
            uint64_t first_offset = chance(rng, 50) ? uni(rng, 0, 4) : 0;
            extra += "\n[first_length]\nwidth = " + std::to_string(w) + "\n";
            if (first_offset || chance(rng, 20)) extra += "offset = " + std::to_string(first_offset) + "\n";
            if (chance(rng, 50)) extra += "header = 0\n";
            extra += "max_message = " + std::to_string(uni(rng, 8, 600)) + "\n";
            if (first_offset && chance(rng, 60)) {  // checked on the first message only (PROXY v2's signature)
                uint64_t at = uni(rng, 0, first_offset - 1), n = uni(rng, 1, std::min<uint64_t>(4, first_offset - at));
                std::string m;
                for (uint64_t i = 0; i < n; i++) m += static_cast<char>(uni(rng, 0, 255));
                extra += "[[first_length.magic]]\noffset = " + std::to_string(at) + "\nhex = \"" +
                         to_hex({reinterpret_cast<const uint8_t*>(m.data()), m.size()}) + "\"\n";
            }
        }
    }
    if (length && chance(rng, 40)) {
        // The variable-length encodings of the description language v2.
        static const char* const encodings[] = {"leb128", "mqtt", "ber", "ascii-decimal", "ascii-hex"};
        static const uint64_t max_width[] = {10, 4, 9, 18, 15};
        size_t e = uni(rng, 0, 4);
        bool ascii = e >= 3;
        uint64_t offset = chance(rng, 50) ? 0 : uni(rng, 1, 8);
        uint64_t width = chance(rng, 50) ? 0 : uni(rng, 1, max_width[e]);
        uint64_t digits = ascii && chance(rng, 50) ? uni(rng, 1, std::min<uint64_t>(max_width[e], 6)) : 0;
        uint64_t fe = offset + (ascii ? (digits ? digits : 2) : 1);
        o << "max_message = " << pick_max(rng, fe + 16, std::max(fe + 16, limits.max_message_cap)) << "\n\n[length]\n";
        o << "encoding = \"" << encodings[e] << "\"\n";
        if (offset || chance(rng, 30)) o << "offset = " << offset << "\n";
        if (digits) {
            o << "digits = " << digits << "\n";
        } else {
            if (width) o << "width = " << width << "\n";
            if (ascii) {
                static const char terminators[] = {':', ' ', '\n', ',', 'x', '\r'};
                o << "terminator = " << toml_basic_string(std::string(1, terminators[uni(rng, 0, 5)])) << "\n";
            }
        }
        if (chance(rng, 40)) o << "adjust = " << static_cast<int64_t>(uni(rng, 0, 80)) - 40 << "\n";
        if (chance(rng, 15)) o << "scale = " << std::vector<uint64_t>{2, 4, 8, 3}[uni(rng, 0, 3)] << "\n";
        if (chance(rng, 25)) o << "min_message = " << uni(rng, 0, fe + 20) << "\n";
        if (chance(rng, 10)) o << "special_values = [" << uni(rng, 0, 3) << "]\nspecial_total = " << fe + uni(rng, 0, 8) << "\n";
        if (chance(rng, 15)) {
            uint64_t n = uni(rng, 1, 4);
            std::string t;
            for (uint64_t i = 0; i < n; i++) t += static_cast<char>(uni(rng, 0, 255));
            extra += "\n[trailer]\nhex = \"" + to_hex({reinterpret_cast<const uint8_t*>(t.data()), t.size()}) + "\"\n";
        }
        return o.str() + extra;
    }
    if (length) {
        // length framing
        static const uint32_t widths[] = {1, 2, 3, 4, 8};
        uint32_t width = widths[uni(rng, 0, 4)];
        uint64_t offset = chance(rng, 50) ? 0 : chance(rng, 80) ? uni(rng, 1, 8) : uni(rng, 9, 64);
        uint64_t fe = offset + width;
        uint64_t bits = width * 8;
        uint64_t all = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
        uint64_t max = pick_max(rng, fe, std::max(fe, limits.max_message_cap));
        o << "max_message = " << max << "\n\n[length]\n";
        if (offset || chance(rng, 30)) o << "offset = " << offset << "\n";
        o << "width = " << width << "\n";
        if (chance(rng, 70)) o << "byte_order = \"" << (chance(rng, 50) ? "big" : "little") << "\"\n";
        // escape / flag_width / extra (WebSocket, ZMTP): the header must cover the field
        bool conditional = chance(rng, 20);
        if (conditional) {
            o << "header = " << fe + (chance(rng, 50) ? 0 : uni(rng, 1, 8)) << "\n";
        } else {
            switch (uni(rng, 0, 9)) {
            case 0: case 1: case 2: o << "header = 0\n"; break;
            case 3: case 4: case 5: o << "header = " << uni(rng, 0, fe + 16) << "\n"; break;
            case 6: o << "header = " << fe << "\n"; break;
            default: break;  // default: offset + width
            }
        }
        if (chance(rng, 30)) {
            static const uint64_t scales[] = {1, 2, 3, 4, 8, 16, 255, 1000};
            o << "scale = " << (chance(rng, 80) ? scales[uni(rng, 0, 7)] : uni(rng, 1, 1 << 20)) << "\n";
        }
        if (chance(rng, 30)) {
            uint64_t mask;
            if (chance(rng, 60)) {  // contiguous bits
                uint64_t lo = uni(rng, 0, bits - 1), hi = uni(rng, lo, bits - 1);
                mask = (hi - lo + 1 == 64 ? ~0ULL : ((1ULL << (hi - lo + 1)) - 1)) << lo;
            } else {
                do mask = rng() & all; while (mask == 0);
            }
            // TOML integers are signed 64-bit: keep masks of 8-byte fields below 2^63.
            if (mask > static_cast<uint64_t>(INT64_MAX)) mask &= static_cast<uint64_t>(INT64_MAX);
            if (mask == 0) mask = 1;
            o << "mask = 0x" << std::hex << mask << std::dec << "\n";
        }
        if (chance(rng, 30)) o << "shift = " << uni(rng, 0, bits - 1) << "\n";
        if (chance(rng, 30)) o << "min_message = " << uni(rng, 0, std::min<uint64_t>(max, fe + 100)) << "\n";
        if (conditional) {
            static const uint32_t wide[] = {1, 2, 4, 8};
            if (chance(rng, 60)) {
                for (uint64_t n = uni(rng, 1, 2); n; n--)
                    o << "[[length.escape]]\nvalue = " << (chance(rng, 50) ? uni(rng, 0, 3) : uni(rng, 124, 255))
                      << "\nwidth = " << wide[uni(rng, 0, 3)] << "\n";
            } else if (chance(rng, 70)) {
                uint32_t w = wide[uni(rng, 0, 3)];
                o << "[length.flag_width]\nbyte = " << uni(rng, 0, fe - 1) << "\nmask = " << (1u << uni(rng, 0, 7))
                  << "\nwidth = " << w << "\n";
                if (chance(rng, 50)) o << "header = " << offset + w + uni(rng, 0, 8) << "\n";
            }
            if (chance(rng, 60))
                for (uint64_t n = uni(rng, 1, 2); n; n--)
                    o << "[[length.extra]]\nbyte = " << uni(rng, 0, fe - 1) << "\nmask = " << uni(rng, 1, 255)
                      << "\nbytes = " << uni(rng, 1, 16) << "\n";
        }
        if (chance(rng, 15)) {  // constant bytes inside the head, checked with the length
            uint64_t at = uni(rng, 0, fe - 1), n = uni(rng, 1, std::min<uint64_t>(4, fe - at));
            std::string m;
            for (uint64_t i = 0; i < n; i++) m += static_cast<char>(uni(rng, 0, 255));
            extra += "\n[[magic]]\noffset = " + std::to_string(at) + "\nhex = \"" +
                     to_hex({reinterpret_cast<const uint8_t*>(m.data()), m.size()}) + "\"\n";
        }
        if (chance(rng, 10)) {
            uint64_t n = uni(rng, 1, 4);
            std::string t;
            for (uint64_t i = 0; i < n; i++) t += static_cast<char>(uni(rng, 0, 255));
            extra += "\n[trailer]\nhex = \"" + to_hex({reinterpret_cast<const uint8_t*>(t.data()), t.size()}) + "\"\n";
        }
    } else {
        // delimiter framing: small alphabets make repeated and self-overlapping delimiters
        size_t len;
        switch (uni(rng, 0, 9)) {
        case 0: case 1: case 2: case 3: len = 1; break;
        case 4: case 5: len = 2; break;
        case 6: case 7: len = uni(rng, 3, 4); break;
        default: len = uni(rng, 5, 16); break;
        }
        std::string alphabet;
        switch (uni(rng, 0, 4)) {
        case 0: alphabet = "ab"; break;
        case 1: alphabet = "\r\n"; break;
        case 2: alphabet = std::string(1, static_cast<char>(uni(rng, 1, 255))); break;
        case 3: alphabet = "a"; alphabet += static_cast<char>(uni(rng, 0, 255)); break;
        default: for (int i = 0; i < 4; i++) alphabet += static_cast<char>(uni(rng, 0, 255)); break;
        }
        std::string bytes;
        for (size_t i = 0; i < len; i++) bytes += alphabet[uni(rng, 0, alphabet.size() - 1)];
        uint64_t max = pick_max(rng, len, std::max<uint64_t>(len, limits.max_message_cap));
        o << "max_message = " << max << "\n\n[delimiter]\n";
        bool text_ok = std::all_of(bytes.begin(), bytes.end(), [](char ch) {
            return ch != 0 && static_cast<unsigned char>(ch) <= 0x7f;
        });
        if (text_ok && chance(rng, 50)) o << "text = " << toml_basic_string(bytes) << "\n";
        else o << "hex = \"" << to_hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}) << "\"\n";
    }
    return o.str() + extra;
}

}  // namespace

namespace {

// Writes `value` into the length field of message bytes `m` (bits outside the mask kept).
void put_field(uint32_t offset, const UintLength& f, uint8_t* m, uint64_t value) {
    uint64_t field = sf_uint(m + offset, f.width, f.byte_order == ByteOrder::big);
    field = (field & ~f.mask) | ((value << f.shift) & f.mask);
    for (uint32_t i = 0; i < f.width; i++) {
        uint32_t idx = f.byte_order == ByteOrder::big ? f.width - 1 - i : i;
        m[offset + idx] = static_cast<uint8_t>(field >> (8 * i));
    }
}

void append(std::vector<uint8_t>& s, const std::vector<uint8_t>& m) { s.insert(s.end(), m.begin(), m.end()); }

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
}

// Legal message sizes of a description, asked of message_builder once per
// description (its size search is linear and costly for sparse rules): the
// smallest and largest, and sizes near a spread of targets up to 3000 bytes
// above the smallest. `dense`: every size in between is legal (no search needed).
struct LegalSizes {
    uint64_t lo = 0, hi = 0;
    bool dense = false;
    std::vector<uint64_t> sizes;
};

const LegalSizes& legal_sizes(const Description& d) {
    static std::unordered_map<std::string, LegalSizes> cache;
    std::string key = d.name + '\n' + d.source_text;
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    if (cache.size() > 4096) cache.clear();
    LegalSizes l;
    l.lo = smallest_message(d);
    l.hi = largest_message(d);
    if (l.lo && l.lo <= l.hi && l.lo <= d.max_message) {
        std::set<uint64_t> found = {l.lo, l.hi};
        uint64_t span = std::min(l.hi, l.lo + 3000) - l.lo;
        l.dense = true;  // until a target turns out not to be legal itself
        auto sample = [&](uint64_t target) {
            uint64_t got = legal_size_near(d, target);
            found.insert(got);
            if (got != target) l.dense = false;
        };
        for (uint64_t k = 1; k <= 40 && k <= span; k++) sample(l.lo + k);
        for (uint64_t k = 1; k < 16; k++) sample(l.lo + span * k / 16);
        l.sizes.assign(found.begin(), found.end());
    }
    return cache.emplace(key, std::move(l)).first->second;
}

// A valid message of a random size, if the description allows any within `room`.
bool valid_message(const Description& d, std::mt19937_64& rng, size_t room, std::vector<uint8_t>& out) {
    const LegalSizes& l = legal_sizes(d);
    uint64_t lo = l.lo, hi = std::min<uint64_t>(l.hi, room);
    if (l.sizes.empty() || lo > hi) return false;
    uint64_t size;
    if (l.dense) {
        switch (uni(rng, 0, 9)) {
        case 0: size = lo; break;
        case 1: size = hi; break;
        case 2: case 3: size = uni(rng, lo, std::min(hi, lo + 3000)); break;
        default: size = uni(rng, lo, std::min(hi, lo + 40)); break;
        }
    } else {
        size = l.sizes[uni(rng, 0, l.sizes.size() - 1)];
        if (size > room) size = lo;
    }
    auto m = build_message(d, size, rng);
    if (!m && l.dense) m = build_message(d, legal_size_near(d, size), rng);
    if (!m) return false;
    out = std::move(*m);
    return true;
}

}  // namespace

std::vector<uint8_t> random_stream(const Description& d, std::mt19937_64& rng, size_t max_bytes) {
    std::vector<uint8_t> s;
    if (chance(rng, 4)) return random_bytes(rng, uni(rng, 0, std::min<size_t>(max_bytes, 200)));  // pure garbage
    size_t budget = uni(rng, 0, max_bytes);
    size_t segments = uni(rng, 0, 14);
    if (d.first && chance(rng, 85)) {  // the stream's first message: mostly valid, sometimes one byte off
        s = build_first_message(d, uni(rng, 1, 300), rng);
        if (!s.empty() && chance(rng, 15)) s[uni(rng, 0, s.size() - 1)] ^= static_cast<uint8_t>(uni(rng, 1, 255));
    }
    for (size_t i = 0; i < segments && s.size() < budget; i++) {
        size_t room = budget - s.size();
        unsigned kind = static_cast<unsigned>(uni(rng, 0, 99));
        std::vector<uint8_t> m;
        if (d.is_length()) {
            const LengthField& f = d.length();
            const UintLength* u = f.as_uint();
            uint64_t fe = f.field_end();
            uint64_t maxv = u ? u->max_value() : ~0ULL >> 8;
            // A message head whose length field holds `value` (then `tail` random bytes),
            // with the description's magic bytes in place most of the time.
            auto head_with = [&](uint64_t value, size_t tail) {
                std::vector<uint8_t> m;
                if (u) {
                    m = random_bytes(rng, fe + tail);
                    put_field(f.offset, *u, m.data(), std::min(value, maxv));
                } else if (auto field = encode_length_field(f, value)) {
                    m = random_bytes(rng, f.offset);
                    m.insert(m.end(), field->begin(), field->end());
                    append(m, random_bytes(rng, tail));
                } else {
                    m = random_bytes(rng, fe + tail);
                }
                for (const Magic& mg : d.magic)
                    if (chance(rng, 85) && mg.offset + mg.bytes.size() <= m.size())
                        std::copy(mg.bytes.begin(), mg.bytes.end(), m.begin() + mg.offset);
                return m;
            };
            uint64_t above = u ? (d.max_message >= u->header ? (d.max_message - u->header) / f.scale : 0) + 1
                               : d.max_message / f.scale + 1;
            if (kind < 60) {
                if (!valid_message(d, rng, room, m)) m = random_bytes(rng, uni(rng, 0, std::min<size_t>(room, 20)));
            } else if (kind < 68) {  // too long: total just above max_message, or far above
                uint64_t v = above + (chance(rng, 50) ? 0 : uni(rng, 0, 1000));
                if (chance(rng, 30)) v = maxv;
                m = head_with(v, uni(rng, 0, 40));
            } else if (kind < 75) {  // too short
                uint64_t emin = f.effective_min();
                uint64_t v = u && u->header < emin ? uni(rng, 0, (emin - u->header - 1) / f.scale) : uni(rng, 0, 3);
                m = head_with(v, uni(rng, 0, 8));
            } else if (kind < 81) {  // a valid message with one head byte changed: magic, field digits, ...
                if (valid_message(d, rng, room, m) && !m.empty())
                    m[uni(rng, 0, std::min<uint64_t>(m.size(), fe + 2) - 1)] ^= static_cast<uint8_t>(uni(rng, 1, 255));
            } else if (kind < 85) {  // a valid message with its last byte changed (the trailer)
                if (valid_message(d, rng, room, m) && !m.empty()) m.back() ^= static_cast<uint8_t>(uni(rng, 1, 255));
            } else if (kind < 88 && !f.special_values.empty()) {  // a special value: a fixed-size message
                m = head_with(f.special_values[uni(rng, 0, f.special_values.size() - 1)], 0);
                if (m.size() < f.special_total) append(m, random_bytes(rng, f.special_total - m.size()));
            } else if (kind < 94) {  // a header with a random field
                m = random_bytes(rng, fe + uni(rng, 0, 16));
            } else {
                m = random_bytes(rng, uni(rng, 0, std::min<size_t>(room, 64)));
            }
        } else {
            const std::string& delim = d.delimiter().bytes;
            std::string alphabet = delim + static_cast<char>(rng());
            auto soup = [&](size_t n) {
                std::vector<uint8_t> b(n);
                for (auto& x : b) x = static_cast<uint8_t>(alphabet[uni(rng, 0, alphabet.size() - 1)]);
                return b;
            };
            if (kind < 40) {
                if (!valid_message(d, rng, room, m)) m = soup(uni(rng, 0, 16));
            } else if (kind < 65) {
                m = soup(uni(rng, 0, std::min<uint64_t>(300, 2 * d.max_message + delim.size())));
            } else if (kind < 80) {
                m = soup(uni(rng, 0, std::min<uint64_t>(100, d.max_message)));
                m.insert(m.end(), delim.begin(), delim.end());
            } else if (kind < 90 && d.max_message <= 5000) {  // around the limit
                uint8_t filler = 0;
                while (delim.find(static_cast<char>(filler)) != std::string::npos) filler++;
                int64_t n = static_cast<int64_t>(d.max_message - delim.size()) + static_cast<int64_t>(uni(rng, 0, 2)) - 1;
                m.assign(static_cast<size_t>(std::max<int64_t>(0, n)), filler);
                if (chance(rng, 70)) m.insert(m.end(), delim.begin(), delim.end());
            } else if (kind < 95) {
                for (uint64_t r = uni(rng, 1, 4); r; r--) m.insert(m.end(), delim.begin(), delim.end());
            } else {
                m = random_bytes(rng, uni(rng, 0, 100));
            }
        }
        append(s, m);
    }
    if (s.size() > max_bytes) s.resize(max_bytes);
    if (!s.empty() && chance(rng, 25)) s.resize(uni(rng, 0, s.size()));  // cut anywhere: truncated tails
    return s;
}

std::vector<std::string> description_features(const Description& d) {
    std::vector<std::string> out;
    if (d.is_length()) {
        const LengthField& f = d.length();
        const UintLength* u = f.as_uint();
        const VariableLength* var = f.as_variable();
        if (u) out.push_back("uint" + std::to_string(u->width));
        if (std::holds_alternative<Leb128Length>(f.encoding))
            out.push_back(var->max_size <= 4 ? "leb128/mqtt" : "leb128");
        if (std::holds_alternative<BerLength>(f.encoding)) out.push_back("ber");
        if (const AsciiLength* a = std::get_if<AsciiLength>(&f.encoding))
            out.push_back(std::string(a->hex ? "ascii-hex" : "ascii-decimal") +
                          (a->digits ? "/digits" : "/terminator"));
        if (u && (u->has_mask || u->shift)) out.push_back("mask/shift");
        if (f.scale != 1) out.push_back("scale");
        if (var && var->adjust) out.push_back("adjust");
        if (!f.special_values.empty()) out.push_back("special_values");
        if (u && !u->escapes.empty()) out.push_back("escape");
        if (u && u->flag_width) out.push_back("flag_width");
        if (u && !u->extras.empty()) out.push_back("extra");
        if (!d.magic.empty()) out.push_back("magic");
        if (!d.trailer.empty()) out.push_back("trailer");
    } else {
        size_t n = d.delimiter().bytes.size();
        out.push_back(n == 1 ? "delimiter/1" : n <= 4 ? "delimiter/2-4" : "delimiter/5-16");
    }
    if (d.first) out.push_back(d.first->length ? "first_length" : "preface");
    if (d.first && d.first->length && !d.first->length->magic.empty()) out.push_back("first_length.magic");
    return out;
}

std::vector<size_t> random_chunks(size_t size, std::mt19937_64& rng) {
    std::vector<size_t> out;
    if (size == 0) return out;
    unsigned mode = static_cast<unsigned>(uni(rng, 0, 99));
    if (mode < 12) return {size};
    size_t left = size;
    while (left) {
        size_t n;
        if (mode < 22) n = size <= 400 ? 1 : uni(rng, 1, 3);
        else if (mode < 47) n = uni(rng, 1, 8);
        else if (mode < 67) n = uni(rng, 1, 64);
        else if (mode < 82) n = uni(rng, 1, size);
        else {
            switch (uni(rng, 0, 3)) {
            case 0: n = 1; break;
            case 1: n = 2; break;
            case 2: n = uni(rng, 1, 16); break;
            default: n = uni(rng, 1, 600); break;
            }
        }
        n = std::min(n, left);
        out.push_back(n);
        left -= n;
    }
    return out;
}

Caps random_caps(std::mt19937_64& rng, bool per_message) {
    Caps c;
    switch (uni(rng, 0, 4)) {
    case 0: case 1: c.max_bytes = 65536; break;
    case 2: c.max_bytes = static_cast<uint32_t>(uni(rng, 1, 64)); break;
    case 3: c.max_bytes = static_cast<uint32_t>(uni(rng, 1, 2000)); break;
    default: c.max_bytes = static_cast<uint32_t>(uni(rng, 1, 1 << 20)); break;
    }
    if (per_message) {
        c.max_msgs = chance(rng, 90) ? 1 : 0;
        return c;
    }
    switch (uni(rng, 0, 9)) {
    case 0: case 1: case 2: case 3: c.max_msgs = 256; break;
    case 4: c.max_msgs = 2; break;
    case 5: c.max_msgs = static_cast<uint32_t>(uni(rng, 2, 10)); break;
    case 6: case 7: c.max_msgs = static_cast<uint32_t>(uni(rng, 10, 300)); break;
    case 8: c.max_msgs = 4096; break;
    default: c.max_msgs = static_cast<uint32_t>(uni(rng, 4097, 100000)); break;
    }
    return c;
}

}  // namespace sockframe::diff
