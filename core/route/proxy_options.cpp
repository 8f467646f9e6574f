// Route modes, --backend specs and HOST:PORT parsing for the proxy.
#include <sockframe/proxy.hpp>

#include <stdexcept>

namespace sockframe {

const char* route_mode_name(RouteMode m) {
    switch (m) {
        case RouteMode::key:
            return "key";
        case RouteMode::round_robin:
            return "round-robin";
        case RouteMode::connection:
            return "connection";
        case RouteMode::first_key:
            return "first-key";
    }
    return "?";
}

std::optional<RouteMode> parse_route_mode(const std::string& s) {
    if (s == "key") return RouteMode::key;
    if (s == "round-robin") return RouteMode::round_robin;
    if (s == "connection") return RouteMode::connection;
    if (s == "first-key") return RouteMode::first_key;
    return std::nullopt;
}

std::string ProxyBackend::name() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ProxyBackend parse_backend(const std::string& spec) {
    ProxyBackend b;
    std::string addr = spec;
    // VALUE=HOST:PORT: the value is everything before the last '=' (a key may hold '=').
    if (size_t eq = spec.rfind('='); eq != std::string::npos) {
        b.value = spec.substr(0, eq);
        addr = spec.substr(eq + 1);
        if (b.value.empty()) throw std::invalid_argument("--backend " + spec + ": empty VALUE before '='");
    }
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size())
        throw std::invalid_argument("--backend wants [VALUE=]HOST:PORT, got \"" + spec + "\"");
    b.host = addr.substr(0, colon);
    if (b.host.size() > 2 && b.host.front() == '[' && b.host.back() == ']')
        b.host = b.host.substr(1, b.host.size() - 2);
    unsigned long port = 0;
    try {
        size_t used = 0;
        port = std::stoul(addr.substr(colon + 1), &used);
        if (used != addr.size() - colon - 1) port = 0;
    } catch (const std::exception&) {
        port = 0;
    }
    if (port == 0 || port > 65535) throw std::invalid_argument("--backend " + spec + ": bad port");
    b.port = static_cast<uint16_t>(port);
    return b;
}

}  // namespace sockframe
