// [route] -> BPF C: sf_route_message() (the key's hash and the deciding rule of
// one whole message) and, with a first_key, sf_first_message_key(). The same
// steps as core/description/route_eval.cpp, in the same order.
#pragma once

#include <sstream>

#include <sockframe/description.hpp>

namespace sockframe {

void emit_route(std::ostringstream& o, const Description& d);

}  // namespace sockframe
