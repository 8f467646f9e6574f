// The map entries one kernel-path connection owns, keyed by its socket cookie:
// framing state, read progress, hand-off request, delivery target and, last, the
// application socket itself. All of them go when the registration goes, socket
// first, so the parser stops before its state and target disappear.
#pragma once

#include <cstdint>
#include <memory>

#include "load/parser_program.hpp"

namespace sockframe {

class ConnRegistration {
public:
    // Creates the state entries and the delivery target. Throws with what to do
    // (a full map names --max-connections).
    ConnRegistration(std::shared_ptr<const ParserProgram> program, uint64_t cookie, int delivery_socket);
    ~ConnRegistration();
    ConnRegistration(const ConnRegistration&) = delete;
    ConnRegistration& operator=(const ConnRegistration&) = delete;

    // The application socket joins the sockmap: from here on the parser runs on it.
    // 0, or the errno (EOPNOTSUPP: the socket is no longer established).
    int join(int app_socket);
    // Takes the socket out of the sockmap (idempotent); its later bytes stay in TCP.
    void leave();

    sf_conn state() const;
    // How far the application has read, for the parser's in-flight bound.
    void publish_consumed(uint64_t bytes) const;
    uint64_t cookie() const { return cookie_; }
    const ParserProgram& program() const { return *program_; }

private:
    std::shared_ptr<const ParserProgram> program_;
    uint64_t cookie_;
    bool joined_ = false;
};

}  // namespace sockframe
