// TCP plumbing of the proxy: a listener from HOST:PORT, a connection to a backend.
#pragma once

#include <cstdint>
#include <string>

#include <sockframe/proxy.hpp>

#include "support/loopback.hpp"

namespace sockframe {

// Listens on HOST:PORT (port 0: the kernel picks); throws with the address and reason.
Fd listen_tcp(const std::string& spec, int backlog = 1024);
uint16_t local_port(int fd);
// A blocking connect with a timeout; an empty Fd with errno set when it fails
// (ECONNREFUSED: nothing listens there).
Fd connect_tcp(const ProxyBackend& b, int timeout_ms = 2000, int rcvbuf = 0);
// Raises SO_RCVBUF: strparser takes no message larger than the receive buffer.
void set_rcvbuf(int fd, int bytes);
void set_nonblocking(int fd);
void set_nodelay(int fd);

}  // namespace sockframe
