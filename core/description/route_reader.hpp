// Reading [route]: the routing key, the first-message key and the rules, with
// file:line:col errors like every other key of a description.
#pragma once

#include <toml++/toml.h>

#include <sockframe/description.hpp>

#include "description/toml_reader.hpp"

namespace sockframe {

// `node` is the value of the top-level key "route"; `d` is the description read
// so far (its limits bound offsets: a key that can never fit is an error).
Route read_route(const TableReader& root, const toml::node* node, const Description& d);

// [route] in words, for explain() and `sockframe check`.
std::string explain_route(const Description& d);

}  // namespace sockframe
