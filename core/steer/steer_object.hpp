// The steering program (bpf/sockframe_steer.bpf.c), compiled at build time and
// embedded in the library (core/steer/embed_object.cpp). Empty when the build
// had no clang (-Dbpf_objects=disabled).
#pragma once

#include <cstdint>
#include <span>

namespace sockframe {

std::span<const uint8_t> steer_object();

}  // namespace sockframe
