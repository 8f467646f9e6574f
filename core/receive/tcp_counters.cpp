#include "receive/tcp_counters.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace sockframe {

uint64_t tcp_payload_bytes_received(int fd) {
    // include/net/tcp_states.h: states after the peer's FIN
    enum { kTimeWait = 6, kCloseWait = 8, kLastAck = 9, kClosing = 11 };
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    bool fin = info.tcpi_state == kCloseWait || info.tcpi_state == kLastAck || info.tcpi_state == kClosing ||
               info.tcpi_state == kTimeWait;
    return info.tcpi_bytes_received - (fin && info.tcpi_bytes_received ? 1 : 0);
}

}  // namespace sockframe
