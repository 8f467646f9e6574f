// What TCP itself counts on a socket: the ground truth the kernel path checks its
// own counters against (stall detection, hand-off, message timeout).
#pragma once

#include <cstdint>

namespace sockframe {

// Payload bytes the peer sent on a TCP socket (tcpi_bytes_received without a FIN's sequence number).
uint64_t tcp_payload_bytes_received(int fd);

}  // namespace sockframe
