#include "receive/conn_registration.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sockframe {
namespace {

[[noreturn]] void map_error(const ParserProgram& p, const char* what, int err) {
    if (err == E2BIG || err == ENOSPC || err == ENOMEM)
        throw std::runtime_error(std::string("cannot add the ") + what + " to the sockmap: it is full (" +
                                 std::to_string(p.options().max_connections) +
                                 " connections); raise --max-connections");
    throw std::runtime_error(std::string("adding the ") + what + " to the sockmap: " + std::strerror(err));
}

}  // namespace

ConnRegistration::ConnRegistration(std::shared_ptr<const ParserProgram> program, uint64_t cookie, int delivery_socket)
    : program_(std::move(program)), cookie_(cookie) {
    const ParserProgram& p = *program_;
    auto forget_state = [&] {
        p.conns().erase(cookie_);
        p.consumed().erase(cookie_);
        p.handoff().erase(cookie_);
    };
    if (!p.conns().update(cookie_, sf_conn{}) || !p.consumed().update(cookie_, 0) || !p.handoff().update(cookie_, 0)) {
        int err = errno;
        forget_state();
        map_error(p, "framing state", err);
    }
    if (int err = p.targets().insert(cookie_, delivery_socket)) {
        forget_state();
        map_error(p, "delivery socket", err);
    }
}

ConnRegistration::~ConnRegistration() {
    const ParserProgram& p = *program_;
    leave();  // parser first, so nothing more is redirected into a closing pair
    p.targets().erase(cookie_);
    p.conns().erase(cookie_);
    p.consumed().erase(cookie_);
    p.handoff().erase(cookie_);
}

int ConnRegistration::join(int app_socket) {
    int err = program_->sockets().insert(cookie_, app_socket, MapUpdate::create_only);
    joined_ = err == 0;
    if (err && err != EOPNOTSUPP) map_error(*program_, "application socket", err);
    return err;
}

void ConnRegistration::leave() {
    if (joined_) program_->sockets().erase(cookie_);
    joined_ = false;
}

sf_conn ConnRegistration::state() const {
    return program_->conns().lookup(cookie_).value_or(sf_conn{});
}

void ConnRegistration::publish_consumed(uint64_t bytes) const {
    program_->consumed().update(cookie_, bytes);
}

}  // namespace sockframe
