#include "load/loaded_object.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <sockframe/bpf_compiler.hpp>

namespace sockframe {

namespace detail {
int map_lookup(int fd, const void* key, void* value) {
    return bpf_map_lookup_elem(fd, key, value);
}
int map_update(int fd, const void* key, const void* value, uint64_t flags) {
    return bpf_map_update_elem(fd, key, value, flags);
}
int map_delete(int fd, const void* key) {
    return bpf_map_delete_elem(fd, key);
}
int map_lookup_batch(int fd, void* token_in, void* token_out, void* keys, void* values, uint32_t* count) {
    int rc = bpf_map_lookup_batch(fd, token_in, token_out, keys, values, count, nullptr);
    return rc == 0 ? 0 : -errno;
}
}  // namespace detail

namespace {

bool has_capability(int cap) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

// Sets `const volatile` globals in .rodata before load, found through BTF.
void apply_settings(bpf_object* obj, const std::vector<ObjectSetting>& settings) {
    if (settings.empty()) return;
    bpf_map* rodata = nullptr;
    bpf_map* m;
    bpf_object__for_each_map(m, obj) {
        const char* n = bpf_map__name(m);
        if (n && std::strstr(n, ".rodata")) rodata = m;
    }
    const btf* b = bpf_object__btf(obj);
    if (!rodata || !b) throw BpfLoadError("BPF object has no .rodata/BTF (was it built by sockframe?)", EINVAL);
    int id = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
    if (id < 0) throw BpfLoadError("BPF object has no .rodata section in BTF", EINVAL);
    const btf_type* sec = btf__type_by_id(b, id);
    const btf_var_secinfo* vs = btf_var_secinfos(sec);
    size_t size = 0;
    const auto* initial = static_cast<const char*>(bpf_map__initial_value(rodata, &size));
    std::vector<char> data(initial, initial + size);
    for (const ObjectSetting& s : settings) {
        bool found = false;
        for (int i = 0; i < btf_vlen(sec) && !found; i++) {
            const btf_type* v = btf__type_by_id(b, vs[i].type);
            if (s.name == btf__name_by_offset(b, v->name_off) && vs[i].size == s.bytes.size() &&
                vs[i].offset + s.bytes.size() <= size) {
                std::memcpy(data.data() + vs[i].offset, s.bytes.data(), s.bytes.size());
                found = true;
            }
        }
        if (!found) throw BpfLoadError("BPF object lacks the setting " + s.name, EINVAL);
    }
    bpf_map__set_initial_value(rodata, data.data(), data.size());
}

// Opens the object and applies sizes and settings (shared by the load and the log reload).
bpf_object* open_configured(const ObjectSpec& spec) {
    bpf_object_open_opts opts{};
    opts.sz = sizeof opts;
    opts.object_name = spec.name.c_str();
    bpf_object* o = bpf_object__open_mem(spec.object.data(), spec.object.size(), &opts);
    if (!o) throw BpfLoadError("not a BPF object built by sockframe: " + std::string(std::strerror(errno)), errno);
    try {
        for (const auto& [map, size] : spec.map_sizes) {
            bpf_map* m = bpf_object__find_map_by_name(o, map.c_str());
            if (!m) throw BpfLoadError("BPF object lacks map " + map + " (built by an older sockframe?)", EINVAL);
            bpf_map__set_max_entries(m, size);
        }
        apply_settings(o, spec.settings);
    } catch (...) {
        bpf_object__close(o);
        throw;
    }
    return o;
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
std::string verifier_log(const ObjectSpec& spec) {
    bpf_object* o;
    try {
        o = open_configured(spec);
    } catch (const std::exception&) {
        return "(could not reopen the object to get the verifier log)";
    }
    std::vector<char> log(64 << 20);
    bpf_program* p;
    bpf_object__for_each_program(p, o) {
        bpf_program__set_log_buf(p, log.data(), log.size());
        bpf_program__set_log_level(p, 1);
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

void LoadedObject::ObjectCloser::operator()(bpf_object* o) const {
    bpf_object__close(o);
}

void LoadedObject::LinkCloser::operator()(bpf_link* l) const {
    bpf_link__destroy(l);
}

LoadedObject::LoadedObject(const ObjectSpec& spec) : role_(spec.role) {
    if (spec.needs_kernel_btf && access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        throw BpfLoadError("kernel BTF (/sys/kernel/btf/vmlinux) is missing: the " + spec.role +
                               " needs CONFIG_DEBUG_INFO_BTF to find strparser's message offset; use the userspace "
                               "framer (--userspace)",
                           ENOENT);
    std::string missing = missing_kernel_capabilities();
    if (!missing.empty())
        throw BpfLoadError("loading the kernel " + spec.role + " needs " + missing +
                               " (run as root or grant them); the userspace framer works without (--userspace)",
                           EPERM, missing);

    obj_.reset(open_configured(spec));
    // No verifier log on the normal path: at log level 1 a large program's log
    // overflows any buffer and the kernel then fails the load with ENOSPC.
    auto start = std::chrono::steady_clock::now();
    libbpf_set_print([](libbpf_print_level, const char*, va_list) { return 0; });
    int rc = bpf_object__load(obj_.get());
    load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (rc == 0) return;
    int err = -rc;
    if (err == EPERM)
        throw BpfLoadError("the kernel refused to load the " + spec.role +
                               " (EPERM): needs CAP_BPF and CAP_NET_ADMIN; the userspace framer works without "
                               "(--userspace)",
                           err, "CAP_BPF, CAP_NET_ADMIN");
    std::string text = verifier_log(spec);
    std::string path =
        spec.verifier_log_path.empty() ? cache_directory() + "/" + spec.name + ".verifier.log" : spec.verifier_log_path;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::ofstream(path) << text;
    throw BpfLoadError("the verifier rejected the " + spec.role + " (" + std::string(std::strerror(err)) +
                           "); full log in " + path + "; last lines:\n" + tail_lines(text, 25),
                       err, {}, path);
}

LoadedObject::~LoadedObject() {
    links_.clear();
    for (auto it = attachments_.rbegin(); it != attachments_.rend(); ++it)
        bpf_prog_detach2(it->program_fd, it->target_fd, static_cast<bpf_attach_type>(it->type));
}

int LoadedObject::map_fd(const char* name) const {
    int fd = bpf_object__find_map_fd_by_name(obj_.get(), name);
    if (fd < 0) throw BpfLoadError(role_ + " has no map " + name + " (built by an older sockframe?)", EINVAL);
    return fd;
}

int LoadedObject::program_fd(const char* name) const {
    bpf_program* p = bpf_object__find_program_by_name(obj_.get(), name);
    if (!p) throw BpfLoadError(role_ + " has no program " + name + " (built by an older sockframe?)", EINVAL);
    return bpf_program__fd(p);
}

void LoadedObject::attach_to_map(const char* program, const char* map, int attach_type) {
    int prog = program_fd(program), target = map_fd(map);
    if (bpf_prog_attach(prog, target, static_cast<bpf_attach_type>(attach_type), 0) != 0)
        throw BpfLoadError("attaching " + std::string(program) + " to " + map + " failed: " + std::strerror(errno),
                           errno);
    attachments_.push_back({prog, target, attach_type});
}

int LoadedObject::attach_to_netns(const char* program, int netns_fd) {
    bpf_program* p = bpf_object__find_program_by_name(obj_.get(), program);
    if (!p) throw BpfLoadError(role_ + " has no program " + program, EINVAL);
    bpf_link* link = bpf_program__attach_netns(p, netns_fd);
    if (!link) {
        int e = errno;
        throw BpfLoadError(
            "attaching " + std::string(program) + " to the network namespace failed: " + std::strerror(e), e,
            e == EPERM ? "CAP_NET_ADMIN" : "");
    }
    links_.emplace_back(link);
    return bpf_link__fd(link);
}

std::optional<std::vector<uint32_t>> LoadedObject::attached_to_map(const char* map, int attach_type) const {
    std::vector<uint32_t> ids(8);
    uint32_t count = static_cast<uint32_t>(ids.size()), flags = 0;
    // A kernel that can't answer (sockmap queries came in 5.19) says nothing.
    if (bpf_prog_query(map_fd(map), static_cast<bpf_attach_type>(attach_type), 0, &flags, ids.data(), &count) != 0)
        return std::nullopt;
    ids.resize(count);
    return ids;
}

uint32_t LoadedObject::program_id(const char* program) const {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    return bpf_obj_get_info_by_fd(program_fd(program), &info, &len) == 0 ? info.id : 0;
}

uint32_t LoadedObject::verified_insns(const char* program) const {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    return bpf_obj_get_info_by_fd(program_fd(program), &info, &len) == 0 ? info.verified_insns : 0;
}

}  // namespace sockframe
