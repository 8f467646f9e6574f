// Choosing the send path: the kernel send program (SK_MSG, generated from the same
// description as the parser) when it can load, else the userspace twin, with one
// warning line saying why. docs/send.md says what each guarantees.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/receiver.hpp>
#include <sockframe/send_socket.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

struct SenderOptions {
    Mode mode = Mode::automatic;                   // kernel, else userspace with a warning; kernel: or an exception
    uint32_t max_sockets = 1024;                   // entries of the send sockhash
    uint64_t cork_max = 65536;                     // largest message the kernel holds until whole
    std::string verifier_log_path;                 // where a rejected program's log goes ("" = cache dir)
    std::function<void(const std::string&)> warn;  // the fallback warning (default: stderr)
};

class Sender {
public:
    virtual ~Sender();
    // Puts a connected TCP socket under the send side. The socket stays the caller's
    // (not closed here); destroying the SendSocket takes it out of the send side.
    virtual std::unique_ptr<SendSocket> attach(int fd) = 0;
    virtual const char* mode() const = 0;
    const Description& description() const { return *desc_; }

protected:
    explicit Sender(std::shared_ptr<const Description> d) : desc_(std::move(d)) {}
    std::shared_ptr<const Description> desc_;
};

std::unique_ptr<Sender> open_sender(const Description& d, const SenderOptions& options = {});
// The userspace twin alone: no privileges needed.
std::unique_ptr<Sender> make_userspace_sender(std::shared_ptr<const Description> d);

// What the kernel send program can enforce for a description.
struct SendSideSupport {
    bool kernel = true;                     // a send program can be generated
    std::string kernel_reason;              // why not, when !kernel (the userspace twin is used)
    std::vector<std::string> not_enforced;  // rules the send program does not check, each with why
};
SendSideSupport send_side_support(const Description& d);

// The send program's C (SK_MSG): the description's length rule and the runtime in
// bpf/sockframe_send.bpf.h. Throws std::invalid_argument if !send_side_support(d).kernel.
std::string generate_bpf_send_c(const Description& d);

}  // namespace sockframe

#pragma GCC visibility pop
