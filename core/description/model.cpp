// What the description model computes about itself.
#include <sockframe/description.hpp>

#include <algorithm>

namespace sockframe {

std::string Description::symbol() const {
    std::string s = name;
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

}  // namespace sockframe
