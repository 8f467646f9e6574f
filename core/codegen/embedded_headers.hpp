// The BPF headers of bpf/, compiled into the library (see tools/embed_text.cpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace sockframe {

struct EmbeddedFile {
    const char* name;
    std::string_view text;
};

extern const EmbeddedFile kBpfHeaders[];
extern const size_t kBpfHeaderCount;

}  // namespace sockframe
