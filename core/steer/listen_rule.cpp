// SteeringRule: parsing "HOST[/PREFIX]:LOW[-HIGH]", printing, and comparing rules.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include <sockframe/steering.hpp>

namespace sockframe {
namespace {

unsigned full_bits(int family) {
    return family == AF_INET6 ? 128 : 32;
}

// True if the first `bits` bits of a and b agree.
bool same_prefix(const uint8_t* a, const uint8_t* b, unsigned bits) {
    for (unsigned i = 0; bits > 0; i++) {
        unsigned take = std::min(bits, 8u);
        uint8_t mask = static_cast<uint8_t>(0xff00 >> take);
        if ((a[i] & mask) != (b[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

unsigned parse_number(const std::string& text, unsigned max, const std::string& what, const std::string& spec) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max)
        throw std::invalid_argument(spec + ": " + what + " \"" + text + "\" is not a number from 0 to " +
                                    std::to_string(max));
    return v;
}

}  // namespace

SteeringRule parse_steering_rule(const std::string& spec) {
    SteeringRule r;
    std::string host, ports;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
            throw std::invalid_argument(spec + ": an IPv6 address is written [ADDRESS]:PORT, e.g. [::1]:5353");
        host = spec.substr(1, close - 1);
        ports = spec.substr(close + 2);
        r.family = AF_INET6;
    } else {
        auto colon = spec.rfind(':');
        if (colon == std::string::npos)
            throw std::invalid_argument(spec + ": expected HOST:PORT or HOST:LOW-HIGH, e.g. 127.0.0.1:7000-7999");
        host = spec.substr(0, colon);
        ports = spec.substr(colon + 1);
        if (host.find(':') != std::string::npos)
            throw std::invalid_argument(spec + ": put an IPv6 address in brackets, e.g. [::1]:5353");
        r.family = AF_INET;
    }
    r.prefix_len = full_bits(r.family);
    if (auto slash = host.find('/'); slash != std::string::npos) {
        r.prefix_len = parse_number(host.substr(slash + 1), full_bits(r.family), "prefix length", spec);
        host = host.substr(0, slash);
    }
    if (inet_pton(r.family, host.c_str(), r.address.data()) != 1)
        throw std::invalid_argument(spec + ": \"" + host + "\" is not a numeric " +
                                    (r.family == AF_INET ? "IPv4" : "IPv6") + " address");
    // Bits past the prefix are ignored: clear them so equal rules compare equal.
    for (unsigned bit = r.prefix_len; bit < full_bits(r.family); bit++)
        r.address[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    auto dash = ports.find('-');
    r.port_low = static_cast<uint16_t>(parse_number(ports.substr(0, dash), 65535, "port", spec));
    r.port_high = dash == std::string::npos
                      ? r.port_low
                      : static_cast<uint16_t>(parse_number(ports.substr(dash + 1), 65535, "port", spec));
    if (r.port_low == 0) throw std::invalid_argument(spec + ": port 0 can't be steered (ports start at 1)");
    if (r.port_high < r.port_low) throw std::invalid_argument(spec + ": the range " + ports + " ends before it starts");
    return r;
}

bool SteeringRule::overlaps(const SteeringRule& o) const {
    if (family != o.family || port_high < o.port_low || o.port_high < port_low) return false;
    return same_prefix(address.data(), o.address.data(), std::min(prefix_len, o.prefix_len));
}

bool SteeringRule::matches(int f, const uint8_t* addr, uint16_t port) const {
    return f == family && port >= port_low && port <= port_high && same_prefix(address.data(), addr, prefix_len);
}

std::string SteeringRule::text() const {
    char buf[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family, address.data(), buf, sizeof buf);
    std::string host = buf;
    if (prefix_len != full_bits(family)) host += "/" + std::to_string(prefix_len);
    if (family == AF_INET6) host = "[" + host + "]";
    std::string ports = std::to_string(port_low);
    if (port_high != port_low) ports += "-" + std::to_string(port_high);
    return host + ":" + ports;
}

}  // namespace sockframe
