#include "send_baseline.hpp"

#include <linux/bpf.h>
#include <sys/socket.h>

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

}  // namespace sockframe::bench
