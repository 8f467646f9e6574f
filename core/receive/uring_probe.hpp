// Whether the io_uring engine can run here: this build has liburing, io_uring is
// not disabled (/proc/sys/kernel/io_uring_disabled, seccomp, EPERM/ENOSYS), and
// the kernel does a multishot receive into a provided buffer ring (6.0+), checked
// once per process by doing one on a loopback connection.
#pragma once

#include <string>

namespace sockframe {

// "" when usable, else why not (one line).
const std::string& uring_unavailable_reason();

}  // namespace sockframe
