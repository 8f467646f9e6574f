// Code generation: a description becomes a readable sk_skb stream parser in C.
// Only validated numbers and escaped comment text from the description reach
// the output; the same input always gives the same bytes.
#pragma once

#include <string>

#include <sockframe/description.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

std::string generate_bpf_c(const Description& d);

}  // namespace sockframe

#pragma GCC visibility pop
