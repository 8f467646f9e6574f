// The receive plane's loaded parser: a generated sk_skb parser + verdict attached to
// its sockhash, with typed access to the per-connection maps the core shares with it
// (sockframe_abi.h). Built once per receiver by load_parser(): generate -> compile
// (or read a `sockframe build` object) -> load.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <sockframe/description.hpp>
#include <sockframe/load_options.hpp>

#include "load/loaded_object.hpp"
#include "sockframe_abi.h"

namespace sockframe {

class ParserProgram {
public:
    // `options` must be resolved (resolve_load_options) so the loaded settings are known.
    ParserProgram(std::span<const uint8_t> object, const std::string& name, const LoadOptions& options);

    SocketMap<uint64_t> sockets() const;  // application sockets, parser + verdict attached (SF_MAP_SOCKETS)
    SocketMap<uint64_t> targets() const;  // delivery sockets the verdict redirects into
    BpfMap<uint64_t, sf_conn> conns() const;
    BpfMap<uint64_t, uint64_t> consumed() const;
    BpfMap<uint64_t, uint32_t> handoff() const;

    const LoadOptions& options() const { return options_; }
    double load_ms() const { return object_.load_ms(); }
    uint32_t verified_insns() const { return verified_insns_; }
    // "" while our parser and verdict are the ones attached to the sockmap; else what
    // changed. Sockets already in the map keep the programs they joined with, so only
    // sockets added from now on are affected (measured: docs/faults.md).
    std::string attachment_problem() const;

private:
    LoadedObject object_;
    LoadOptions options_;
    uint32_t verified_insns_ = 0;
    uint32_t parser_id_ = 0, verdict_id_ = 0;
};

// Fills in the defaults that depend on the description (the in-flight bound).
LoadOptions resolve_load_options(const Description& d, LoadOptions options);

// The largest number of bytes one parser call may return for one message: the main
// rule's or the first message's limit.
uint64_t largest_message_limit(const Description& d);

struct ParserBuildInfo {
    double generate_compile_ms = 0;  // 0 when the object came from the cache or a file
    bool from_cache = false;
};

// generate -> compile (cached) -> load, or load `object_path` if given. Throws
// BpfLoadError / BpfCompileError with what to do about it.
std::shared_ptr<const ParserProgram> load_parser(const Description& d, const LoadOptions& options,
                                                 const std::string& object_path = {}, ParserBuildInfo* info = nullptr);

}  // namespace sockframe
