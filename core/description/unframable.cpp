#include "description/unframable.hpp"

#include <initializer_list>

namespace sockframe {
namespace {

// Protocols a length or a delimiter cannot frame (docs/protocols.md), by the
// names a user would give them: `sockframe check` says why instead of framing
// them wrongly. Exact names only: "ssh-banner" (one line) is framable.
struct Unframable {
    std::initializer_list<std::string_view> names;
    const char* why;
};
const Unframable kUnframable[] = {
    {{"resp", "redis", "redis-resp", "resp2", "resp3"},
     "Redis RESP cannot be framed by a length or a delimiter: a command is *N then N bulk strings, each "
     "$len\\r\\n<bytes>\\r\\n, so its end needs counted repetition over nested lengths (catalogue F13), and bulk "
     "data may contain CR LF, so no delimiter works"},
    {{"http", "http1", "http11", "http-1", "http-1-1", "http1-1", "http-response", "http-responses"},
     "HTTP/1.1 messages cannot be framed by a length or a delimiter: the body length comes from Content-Length "
     "(found by text search), from chunked transfer coding or from the connection closing, and depends on the "
     "request method (HEAD) and status (1xx, 204, 304); frame the header lines with [delimiter] text = \"\\r\\n\" "
     "only if bodies never occur"},
    {{"xmpp", "jabber"},
     "XMPP cannot be framed by a length or a delimiter: a stream is one XML document and a stanza ends at the "
     "close tag matching its depth-1 start tag, which takes an XML parser"},
    {{"ssh", "ssh2", "ssh-packets"},
     "SSH packets cannot be framed after key exchange: the packet length is encrypted (or keyed separately, "
     "chacha20-poly1305); only the version banner line is framable ([delimiter] text = \"\\r\\n\")"},
    {{"grpc"},
     "gRPC cannot be framed on raw TCP: its messages live inside HTTP/2 DATA frames; frame the HTTP/2 "
     "connection instead (parsers/http2.toml)"},
};

}  // namespace

const char* unframable_reason(std::string_view name) {
    for (const Unframable& u : kUnframable)
        for (std::string_view n : u.names)
            if (n == name) return u.why;
    return nullptr;
}

}  // namespace sockframe
