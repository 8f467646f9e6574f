#include "codegen/c_text.hpp"

#include <cstdio>

namespace sockframe {

// Comment-safe text: printable ASCII kept, "*/" and "/*" broken, everything else escaped.
std::string comment_safe(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '*' && i + 1 < text.size() && text[i + 1] == '/') {
            out += "*\\/";
            i++;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            out += "/\\*";  // clang -Wcomment rejects a nested opener
            i++;
        } else if (c == '\t') {
            out += "    ";
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::string hex_u64(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace sockframe
