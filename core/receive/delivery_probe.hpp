// The start-up check of the kernel path: before a server trusts it, a throwaway
// loopback connection carries a few messages through the loaded parser, coalesced
// and split, and must come out whole, in order, then end cleanly. A kernel whose
// sockmap/strparser behaviour differs from what the core relies on fails here,
// once, instead of on the first real client.
#pragma once

#include <chrono>
#include <string>

#include <sockframe/connection.hpp>
#include <sockframe/description.hpp>

namespace sockframe {

// "" if the probe stream was delivered exactly; otherwise what went wrong.
std::string probe_kernel_delivery(Receiver& kernel, const Description& d,
                                  std::chrono::milliseconds budget = std::chrono::milliseconds(1000));

}  // namespace sockframe
