// The send plane's loaded program: the generated SK_MSG verdict attached to its
// sockhash, with typed access to the socket-local state it keeps (sockframe_send_abi.h).
#pragma once

#include <cstdint>
#include <memory>

#include <sockframe/description.hpp>
#include <sockframe/sender.hpp>

#include "load/loaded_object.hpp"
#include "sockframe_send_abi.h"

namespace sockframe {

class SendProgram {
public:
    SendProgram(std::span<const uint8_t> object, const std::string& name, const SenderOptions& options);
    SocketMap<uint64_t> sockets() const { return object_.socket_map<uint64_t>(SF_MAP_SEND_SOCKETS); }
    // Keyed by the socket's fd (socket-local storage).
    BpfMap<int, sf_send_conn> conns() const { return object_.map<int, sf_send_conn>(SF_MAP_SEND_CONNS); }
    uint32_t verified_insns() const { return verified_insns_; }

private:
    LoadedObject object_;
    uint32_t verified_insns_ = 0;
};

// generate -> compile (cached) -> load -> attach. Throws BpfLoadError / BpfCompileError.
std::shared_ptr<const SendProgram> load_send_program(const Description& d, const SenderOptions& options);

}  // namespace sockframe
