#include <sockframe/route_model.hpp>

#include <algorithm>

namespace sockframe {

uint32_t int_width(IntType t) {
    switch (t) {
        case IntType::u8:
            return 1;
        case IntType::u16:
        case IntType::u16le:
            return 2;
        case IntType::u24:
        case IntType::u24le:
            return 3;
        case IntType::u32:
        case IntType::u32le:
        case IntType::varint:
            return 4;
        case IntType::u64:
        case IntType::u64le:
            return 8;
    }
    return 1;
}

bool int_little_endian(IntType t) {
    return t == IntType::u16le || t == IntType::u24le || t == IntType::u32le || t == IntType::u64le;
}

const char* int_type_name(IntType t) {
    switch (t) {
        case IntType::u8:
            return "u8";
        case IntType::u16:
            return "u16";
        case IntType::u24:
            return "u24";
        case IntType::u32:
            return "u32";
        case IntType::u64:
            return "u64";
        case IntType::u16le:
            return "u16le";
        case IntType::u24le:
            return "u24le";
        case IntType::u32le:
            return "u32le";
        case IntType::u64le:
            return "u64le";
        case IntType::varint:
            return "varint";
    }
    return "?";
}

bool ValueTest::matches(uint64_t value) const {
    if (mask) value &= *mask;
    if (!in.empty() && std::find(in.begin(), in.end(), value) == in.end()) return false;
    if (min && value < *min) return false;
    if (max && value > *max) return false;
    return true;
}

}  // namespace sockframe
