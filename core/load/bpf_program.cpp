#include "load/bpf_program.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "sockframe_abi.h"
#include <sockframe/bpf_compiler.hpp>

namespace sockframe {
namespace {

bool has_capability(int cap) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

// Sets a `const volatile` global in .rodata before load, found through BTF.
template <typename T>
void set_rodata(bpf_object* obj, const char* var, T value) {
    bpf_map* rodata = nullptr;
    bpf_map* m;
    bpf_object__for_each_map(m, obj) {
        const char* n = bpf_map__name(m);
        if (n && std::strstr(n, ".rodata")) rodata = m;
    }
    const btf* b = bpf_object__btf(obj);
    if (!rodata || !b) throw BpfLoadError("generated object has no .rodata/BTF (was it built by sockframe?)", EINVAL);
    int id = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
    if (id < 0) throw BpfLoadError("generated object has no .rodata section in BTF", EINVAL);
    const btf_type* sec = btf__type_by_id(b, id);
    const btf_var_secinfo* vs = btf_var_secinfos(sec);
    size_t size = 0;
    const auto* initial = static_cast<const char*>(bpf_map__initial_value(rodata, &size));
    std::vector<char> data(initial, initial + size);
    for (int i = 0; i < btf_vlen(sec); i++) {
        const btf_type* v = btf__type_by_id(b, vs[i].type);
        if (std::strcmp(btf__name_by_offset(b, v->name_off), var) == 0 && vs[i].size == sizeof value &&
            vs[i].offset + sizeof value <= size) {
            std::memcpy(data.data() + vs[i].offset, &value, sizeof value);
            bpf_map__set_initial_value(rodata, data.data(), data.size());
            return;
        }
    }
    throw BpfLoadError(std::string("generated object lacks the setting ") + var, EINVAL);
}

const char* const kSizedMaps[] = {SF_MAP_SOCKETS, SF_MAP_TARGETS, SF_MAP_CONNS, SF_MAP_CONSUMED, SF_MAP_HANDOFF};

void set_settings(bpf_object* o, const LoadOptions& options) {
    set_rodata<uint32_t>(o, "sf_batch_max_msgs", options.batch_max_msgs);
    set_rodata<uint32_t>(o, "sf_batch_max_bytes", options.batch_max_bytes);
    set_rodata<uint64_t>(o, "sf_in_flight_max", options.in_flight_max);
}

std::string tail_lines(const std::string& text, int lines) {
    size_t pos = text.size();
    while (lines-- > 0 && pos > 0) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos) return text;
    }
    return text.substr(pos + 1);
}

// Loads a second copy with a large log, only to explain a rejection.
std::string verifier_log(std::span<const uint8_t> object, const std::string& name, const LoadOptions& options) {
    bpf_object_open_opts opts{};
    opts.sz = sizeof opts;
    opts.object_name = name.c_str();
    bpf_object* o = bpf_object__open_mem(object.data(), object.size(), &opts);
    if (!o) return "(could not reopen the object to get the verifier log)";
    for (const char* map : kSizedMaps)
        if (bpf_map* m = bpf_object__find_map_by_name(o, map)) bpf_map__set_max_entries(m, options.max_connections);
    std::vector<char> log(64 << 20);
    bpf_program* p;
    bpf_object__for_each_program(p, o) {
        bpf_program__set_log_buf(p, log.data(), log.size());
        bpf_program__set_log_level(p, 1);
    }
    try {
        set_settings(o, options);
    } catch (const std::exception&) {
    }
    bpf_object__load(o);
    bpf_object__close(o);
    return std::string(log.data(), strnlen(log.data(), log.size()));
}

}  // namespace

std::string missing_kernel_capabilities() {
    std::string missing;
    bool bpf = has_capability(CAP_BPF) || has_capability(CAP_SYS_ADMIN);
    if (!bpf) missing = "CAP_BPF";
    if (!has_capability(CAP_NET_ADMIN)) missing += missing.empty() ? "CAP_NET_ADMIN" : ", CAP_NET_ADMIN";
    return missing;
}

void BpfParserProgram::ObjectCloser::operator()(bpf_object* o) const {
    bpf_object__close(o);
}

BpfParserProgram::BpfParserProgram(std::span<const uint8_t> object, const std::string& name, const LoadOptions& options)
    : max_connections_(options.max_connections) {
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        throw BpfLoadError(
            "kernel BTF (/sys/kernel/btf/vmlinux) is missing: the parser needs CONFIG_DEBUG_INFO_BTF "
            "to find strparser's message offset; use the userspace framer (--userspace)",
            ENOENT);
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty())
        throw BpfLoadError("loading the kernel parser needs " + missing +
                               " (run as root or grant them); the userspace framer works without (--userspace)",
                           EPERM, missing);

    bpf_object_open_opts opts{};
    opts.sz = sizeof opts;
    opts.object_name = name.c_str();
    bpf_object* raw = bpf_object__open_mem(object.data(), object.size(), &opts);
    if (!raw)
        throw BpfLoadError("not a BPF object generated by sockframe: " + std::string(std::strerror(errno)), errno);
    obj_.reset(raw);

    for (const char* map : kSizedMaps) {
        bpf_map* m = bpf_object__find_map_by_name(raw, map);
        if (!m)
            throw BpfLoadError(std::string("generated object lacks map ") + map + " (built by an older sockframe?)",
                               EINVAL);
        bpf_map__set_max_entries(m, options.max_connections);
    }
    set_settings(raw, options);

    bpf_program* parser = bpf_object__find_program_by_name(raw, SF_PROG_PARSER);
    bpf_program* verdict = bpf_object__find_program_by_name(raw, SF_PROG_VERDICT);
    if (!parser || !verdict) throw BpfLoadError("generated object lacks sf_parser/sf_verdict", EINVAL);

    // No verifier log on the normal path: at log level 1 a large program's log
    // overflows any buffer and the kernel then fails the load with ENOSPC.
    auto start = std::chrono::steady_clock::now();
    libbpf_set_print([](libbpf_print_level, const char*, va_list) { return 0; });
    int rc = bpf_object__load(raw);
    load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (rc != 0) {
        int err = -rc;
        if (err == EPERM)
            throw BpfLoadError(
                "the kernel refused to load the parser (EPERM): needs CAP_BPF and CAP_NET_ADMIN; "
                "the userspace framer works without (--userspace)",
                err, "CAP_BPF, CAP_NET_ADMIN");
        std::string text = verifier_log(object, name, options);
        std::string path = options.verifier_log_path.empty() ? cache_directory() + "/" + name + ".verifier.log"
                                                             : options.verifier_log_path;
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        std::ofstream(path) << text;
        throw BpfLoadError("the verifier rejected the parser (" + std::string(std::strerror(err)) + "); full log in " +
                               path + "; last lines:\n" + tail_lines(text, 25),
                           err, {}, path);
    }
    parser_fd_ = bpf_program__fd(parser);
    verdict_fd_ = bpf_program__fd(verdict);
    sockets_fd_ = bpf_object__find_map_fd_by_name(raw, SF_MAP_SOCKETS);
    targets_fd_ = bpf_object__find_map_fd_by_name(raw, SF_MAP_TARGETS);
    conns_fd_ = bpf_object__find_map_fd_by_name(raw, SF_MAP_CONNS);
    consumed_fd_ = bpf_object__find_map_fd_by_name(raw, SF_MAP_CONSUMED);
    handoff_fd_ = bpf_object__find_map_fd_by_name(raw, SF_MAP_HANDOFF);

    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(parser_fd_, &info, &len) == 0) {
        verified_insns_ = info.verified_insns;
        parser_id_ = info.id;
    }
    bpf_prog_info vinfo{};
    len = sizeof vinfo;
    if (bpf_obj_get_info_by_fd(verdict_fd_, &vinfo, &len) == 0) verdict_id_ = vinfo.id;

    if (bpf_prog_attach(parser_fd_, sockets_fd_, BPF_SK_SKB_STREAM_PARSER, 0) != 0)
        throw BpfLoadError("attaching the stream parser failed: " + std::string(std::strerror(errno)), errno);
    parser_attached_ = true;
    if (bpf_prog_attach(verdict_fd_, sockets_fd_, BPF_SK_SKB_STREAM_VERDICT, 0) != 0)
        throw BpfLoadError("attaching the stream verdict failed: " + std::string(std::strerror(errno)), errno);
    verdict_attached_ = true;
}

std::string BpfParserProgram::attachment_problem() const {
    const struct {
        bpf_attach_type type;
        uint32_t ours;
        const char* role;
    } roles[] = {{BPF_SK_SKB_STREAM_PARSER, parser_id_, "stream parser"},
                 {BPF_SK_SKB_STREAM_VERDICT, verdict_id_, "stream verdict"}};
    for (const auto& r : roles) {
        uint32_t ids[1] = {}, count = 1, flags = 0;
        // A kernel that can't answer (sockmap queries came in 5.19): carry on; the stall
        // watchdog still catches a socket whose parser never runs.
        if (bpf_prog_query(sockets_fd_, r.type, 0, &flags, ids, &count) != 0) return {};
        if (count == 0) return std::string("our ") + r.role + " was detached from the sockmap by another program";
        if (ids[0] != r.ours)
            return std::string("our ") + r.role + " was replaced on the sockmap by program id " +
                   std::to_string(ids[0]) + " (another program attached it)";
    }
    return {};
}

BpfParserProgram::~BpfParserProgram() {
    if (verdict_attached_) bpf_prog_detach2(verdict_fd_, sockets_fd_, BPF_SK_SKB_STREAM_VERDICT);
    if (parser_attached_) bpf_prog_detach2(parser_fd_, sockets_fd_, BPF_SK_SKB_STREAM_PARSER);
}

}  // namespace sockframe
