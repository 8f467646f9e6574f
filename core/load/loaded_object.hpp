// One owner for a loaded BPF object: its maps, programs, and every attachment made
// through it (detached, in reverse order, when it goes). Every plane loads its
// programs through this: nothing raw (bpf_object, program or map fd) escapes, maps
// are reached through typed handles, and a rejection carries the verifier's log.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sockframe/load_options.hpp>

struct bpf_object;
struct bpf_link;

namespace sockframe {

namespace detail {
// Thin wrappers over libbpf's map calls, so handles need no libbpf headers.
int map_lookup(int fd, const void* key, void* value);
int map_update(int fd, const void* key, const void* value, uint64_t flags);
int map_delete(int fd, const void* key);
// BPF_MAP_LOOKUP_BATCH from `token` (null: from the start); 0, or -errno (ENOENT: the end).
int map_lookup_batch(int fd, void* token_in, void* token_out, void* keys, void* values, uint32_t* count);
}  // namespace detail

// Flags of BpfMap::update (the kernel's BPF_ANY / BPF_NOEXIST / BPF_EXIST).
enum class MapUpdate : uint64_t { any = 0, create_only = 1, replace_only = 2 };

// A typed view of one map of a LoadedObject; valid while the object lives.
template <typename K, typename V>
class BpfMap {
public:
    BpfMap() = default;
    std::optional<V> lookup(const K& key) const {
        V v{};
        if (detail::map_lookup(fd_, &key, &v) != 0) return std::nullopt;
        return v;
    }
    // false with errno set on failure.
    bool update(const K& key, const V& value, MapUpdate how = MapUpdate::any) const {
        return detail::map_update(fd_, &key, &value, static_cast<uint64_t>(how)) == 0;
    }
    bool erase(const K& key) const { return detail::map_delete(fd_, &key) == 0; }
    // Every entry, in one system call per keys.size() entries (the buffers grow as
    // needed and are reused by the caller); returns how many were read, or nullopt if
    // the kernel has no batch lookup for this map (read entry by entry then).
    std::optional<size_t> lookup_all(std::vector<K>& keys, std::vector<V>& values) const {
        uint32_t token = 0;
        size_t got = 0;
        if (keys.empty()) keys.resize(64);
        for (bool first = true;; first = false) {
            if (got == keys.size()) keys.resize(2 * keys.size());
            values.resize(keys.size());
            uint32_t count = static_cast<uint32_t>(keys.size() - got);
            int rc = detail::map_lookup_batch(fd_, first ? nullptr : &token, &token, keys.data() + got,
                                              values.data() + got, &count);
            got += count;
            if (rc == 0) continue;
            if (rc == -ENOENT) return got;
            return std::nullopt;
        }
    }

private:
    friend class LoadedObject;
    explicit BpfMap(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// A SOCKMAP/SOCKHASH: keys map to sockets; the kernel takes the socket's fd on insert.
template <typename K>
class SocketMap {
public:
    SocketMap() = default;
    // 0, or the errno (EOPNOTSUPP: the socket can't join, e.g. not established).
    int insert(const K& key, int socket_fd, MapUpdate how = MapUpdate::any) const {
        uint64_t fd = static_cast<uint64_t>(socket_fd);
        return detail::map_update(fd_, &key, &fd, static_cast<uint64_t>(how)) == 0 ? 0 : errno;
    }
    bool erase(const K& key) const { return detail::map_delete(fd_, &key) == 0; }

private:
    friend class LoadedObject;
    explicit SocketMap(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// A value for a `const volatile` global of the object's .rodata, set before load.
struct ObjectSetting {
    std::string name;
    std::vector<uint8_t> bytes;
    template <typename T>
    static ObjectSetting of(std::string name, T value) {
        std::vector<uint8_t> b(sizeof value);
        std::memcpy(b.data(), &value, sizeof value);
        return {std::move(name), std::move(b)};
    }
};

struct ObjectSpec {
    std::span<const uint8_t> object;
    std::string name;  // bpf_object name; also names the verifier log file
    std::string role;  // what it is, in messages: "parser", "send-side program", ...
    std::vector<std::pair<std::string, uint32_t>> map_sizes;  // max_entries per map name
    std::vector<ObjectSetting> settings;
    std::string verifier_log_path;  // "" = <cache dir>/<name>.verifier.log
    bool needs_kernel_btf = true;   // CO-RE relocations against /sys/kernel/btf/vmlinux
};

class LoadedObject {
public:
    // Opens, configures and loads. Throws BpfLoadError naming the missing capability,
    // the missing kernel BTF, or the verifier's verdict (with its log written to a file).
    explicit LoadedObject(const ObjectSpec& spec);
    ~LoadedObject();
    LoadedObject(const LoadedObject&) = delete;
    LoadedObject& operator=(const LoadedObject&) = delete;

    template <typename K, typename V>
    BpfMap<K, V> map(const char* name) const {
        return BpfMap<K, V>(map_fd(name));
    }
    template <typename K>
    SocketMap<K> socket_map(const char* name) const {
        return SocketMap<K>(map_fd(name));
    }

    // Attaches `program` to map `map` (sk_skb parser/verdict, sk_msg); detached with the object.
    void attach_to_map(const char* program, const char* map, int attach_type);
    // Attaches `program` to the network namespace open as `netns_fd` (sk_lookup) with a
    // bpf_link the object owns; the link goes with the object (or the process).
    // Returns the link's fd (owned by the object), e.g. to ask the kernel about it.
    int attach_to_netns(const char* program, int netns_fd);
    // Program ids the kernel reports attached to `map` for `attach_type` ({} if it can't say).
    std::optional<std::vector<uint32_t>> attached_to_map(const char* map, int attach_type) const;

    uint32_t program_id(const char* program) const;
    uint32_t verified_insns(const char* program) const;
    double load_ms() const { return load_ms_; }
    const std::string& role() const { return role_; }

private:
    int map_fd(const char* name) const;
    int program_fd(const char* name) const;

    struct ObjectCloser {
        void operator()(bpf_object* o) const;
    };
    struct Attachment {
        int program_fd, target_fd, type;
    };
    struct LinkCloser {
        void operator()(bpf_link* l) const;
    };
    std::unique_ptr<bpf_object, ObjectCloser> obj_;
    std::vector<Attachment> attachments_;
    std::vector<std::unique_ptr<bpf_link, LinkCloser>> links_;
    std::string role_;
    double load_ms_ = 0;
};

}  // namespace sockframe
