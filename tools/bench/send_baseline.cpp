#include "send_baseline.hpp"

#include <linux/bpf.h>
#include <sys/socket.h>

#include <cerrno>

#include <sockframe/bpf_compiler.hpp>

#include "load/loaded_object.hpp"

namespace sockframe::bench {
namespace {

constexpr const char* kSource = R"(/* sockframe-bench: the SK_MSG baseline, a verdict that passes everything */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} sf_pass_sockets SEC(".maps");

SEC("sk_msg")
int sf_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}
)";

constexpr const char* kLocalSource =
    R"(/* sockframe-bench: local delivery, each sendmsg into the peer's receive queue */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} sf_local_sockets SEC(".maps");

/* socket -> the cookie of its peer (set by userspace, keyed by fd) */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sf_local_peer SEC(".maps");

SEC("sk_msg")
int sf_local(struct sk_msg_md *msg)
{
	__u64 *peer;

	if (!msg->sk)
		return SK_PASS;
	peer = bpf_sk_storage_get(&sf_local_peer, msg->sk, 0, 0);
	if (!peer)
		return SK_PASS;
	return bpf_msg_redirect_hash(msg, &sf_local_sockets, peer, BPF_F_INGRESS);
}
)";

uint64_t cookie_of(int fd) {
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
    return cookie;
}

}  // namespace

PassThroughSendProgram::PassThroughSendProgram() {
    static const BpfObjectFile obj = compile_bpf(kSource);
    object_ =
        std::make_unique<LoadedObject>(ObjectSpec{obj.bytes, "bench_send_pass", "SK_MSG baseline", {}, {}, "", false});
    object_->attach_to_map("sf_pass", "sf_pass_sockets", BPF_SK_MSG_VERDICT);
}

PassThroughSendProgram::~PassThroughSendProgram() = default;

int PassThroughSendProgram::attach(int fd) const {
    return object_->socket_map<uint64_t>("sf_pass_sockets").insert(cookie_of(fd), fd);
}

void PassThroughSendProgram::detach(int fd) const {
    object_->map<uint64_t, uint64_t>("sf_pass_sockets").erase(cookie_of(fd));
}

LocalDeliveryProgram::LocalDeliveryProgram() {
    static const BpfObjectFile obj = compile_bpf(kLocalSource);
    object_ = std::make_unique<LoadedObject>(
        ObjectSpec{obj.bytes, "bench_send_local", "SK_MSG local delivery", {}, {}, "", false});
    object_->attach_to_map("sf_local", "sf_local_sockets", BPF_SK_MSG_VERDICT);
}

LocalDeliveryProgram::~LocalDeliveryProgram() = default;

int LocalDeliveryProgram::attach_pair(int a, int b) const {
    auto peers = object_->map<int, uint64_t>("sf_local_peer");
    if (!peers.update(a, cookie_of(b)) || !peers.update(b, cookie_of(a))) return errno;
    auto sockets = object_->socket_map<uint64_t>("sf_local_sockets");
    if (int err = sockets.insert(cookie_of(b), b)) return err;
    return sockets.insert(cookie_of(a), a);
}

void LocalDeliveryProgram::detach(int fd) const {
    object_->map<uint64_t, uint64_t>("sf_local_sockets").erase(cookie_of(fd));
    object_->map<int, uint64_t>("sf_local_peer").erase(fd);
}

}  // namespace sockframe::bench
