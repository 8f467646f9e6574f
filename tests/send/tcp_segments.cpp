// linux/tcp.h's tcp_info has tcpi_data_segs_out; glibc's <netinet/tcp.h> does not, and
// the two can't be included together: this file includes only the first.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace sockframe::testing {

uint64_t data_segs_out(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
    return ti.tcpi_data_segs_out;
}

}  // namespace sockframe::testing
