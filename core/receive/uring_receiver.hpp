// The userspace path read through the io_uring engine (uring_engine.hpp): the same
// framer and Connection semantics as the epoll path, another way to get the bytes.
#pragma once

#include <memory>

#include <sockframe/connection.hpp>

namespace sockframe {

// Call only when uring_unavailable_reason() is empty. `forced`: a socket whose ring
// can't be set up (e.g. out of memory or descriptors) makes adopt() throw; otherwise
// that one connection is read with recv + epoll.
std::unique_ptr<Receiver> make_uring_receiver(std::shared_ptr<const Description> d, bool forced);

}  // namespace sockframe
