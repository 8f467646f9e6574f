// Parts of the receive-side generator that other generators reuse.
#pragma once

#include <sstream>

#include <sockframe/description.hpp>

namespace sockframe {

// #define SF_FRAMING_LENGTH, SF_MAX_MESSAGE and sf_frame_length() for d's main rule.
void emit_main_length_rule(std::ostringstream& o, const Description& d);
// #define SF_FRAMING_DELIMITER, SF_MAX_MESSAGE, SF_DELIM_LEN, SF_DELIM_FIRST and sf_is_delim().
void emit_main_delimiter_rule(std::ostringstream& o, const Description& d);

}  // namespace sockframe
