// What the proxy workload needs besides its cell (proxy_cell.cpp): the two protocols
// its messages follow, and the proxies it runs as child processes.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include "bench.hpp"

namespace sockframe::bench {

// Requests the client sends, replies the backend makes of them, and the checks. Every
// message carries a routing key (16 or 64 distinct keys per connection), the connection
// and sequence number, and a check value in its last 8 bytes.
class ProxyProtocol {
public:
    virtual ~ProxyProtocol() = default;
    virtual const char* name() const = 0;         // the shipped description's name
    virtual Description description() const = 0;  // as sockframe proxy loads it
    virtual uint64_t min_size() const = 0;
    virtual uint64_t max_message() const = 0;
    virtual size_t whole(const uint8_t* m, size_t avail) const = 0;  // a whole message's size, or 0
    virtual void make_request(uint8_t* m, uint64_t size, uint32_t conn, uint64_t seq) const = 0;
    virtual void make_reply(uint8_t* m, size_t size) const = 0;  // in place
    // "" when the reply answers request (conn, seq) exactly; sets seq from the reply.
    virtual std::string check_reply(const uint8_t* m, size_t size, uint64_t expected_size, uint32_t conn,
                                    uint64_t& seq) const = 0;
};
// "memcached-binary" (SET requests, key routing) or "dns" (A queries with EDNS padding).
const ProxyProtocol& proxy_protocol(const std::string& name);

// A proxy running as a child process (sockframe proxy, haproxy, dnsdist).
class ExternalProxy {
public:
    ~ExternalProxy();
    std::string why_not;      // it could not start: the cell is skipped with this reason
    uint64_t cpu_ns() const;  // every thread of the process, from /proc/PID/task/*/schedstat

private:
    friend std::unique_ptr<ExternalProxy> start_external_proxy(Strategy, const ProxyProtocol&, uint16_t, uint16_t,
                                                               uint16_t&);
    friend std::unique_ptr<ExternalProxy> start_sni_proxy(Strategy, uint16_t, uint16_t, uint16_t&);
    bool make_dir();
    void launch(std::vector<std::string> argv, const std::string& ready_line, uint16_t listen_port);
    pid_t pid_ = -1;
    std::string dir_;
};
std::unique_ptr<ExternalProxy> start_external_proxy(Strategy s, const ProxyProtocol& proto, uint16_t port_a,
                                                    uint16_t port_b, uint16_t& listen_port);

// A proxy routing TLS connections by server name to a.example -> port_a, b.example ->
// port_b (sni_bench.cpp): `sockframe proxy tls-records --route first-key` (kernel,
// userspace) or HAProxy (req.ssl_sni, TCP mode, splice-auto).
std::unique_ptr<ExternalProxy> start_sni_proxy(Strategy s, uint16_t port_a, uint16_t port_b, uint16_t& listen_port);

CellResult run_proxy_cell(const CellSpec& spec, const Options& o);

}  // namespace sockframe::bench
