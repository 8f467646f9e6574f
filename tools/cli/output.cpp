#include "output.hpp"

#include <sockframe/description.hpp>

namespace sockframe::cli {

std::string hex(std::span<const uint8_t> bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string s(bytes.size() * 2, '0');
    for (size_t i = 0; i < bytes.size(); i++) {
        s[2 * i] = digits[bytes[i] >> 4];
        s[2 * i + 1] = digits[bytes[i] & 15];
    }
    return s;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out + "\"";
}

namespace {
std::string conn_field(long conn) {
    return conn < 0 ? "" : "\"conn\":" + std::to_string(conn) + ",";
}
}  // namespace

void print_message(FILE* out, Format f, long conn, uint64_t offset, std::span<const uint8_t> bytes) {
    if (f == Format::jsonl) {
        std::fprintf(out, "{%s\"offset\":%llu,\"len\":%zu,\"hex\":\"%s\"}\n", conn_field(conn).c_str(),
                     static_cast<unsigned long long>(offset), bytes.size(), hex(bytes).c_str());
    } else {
        std::string preview(reinterpret_cast<const char*>(bytes.data()), std::min<size_t>(bytes.size(), 48));
        std::string prefix = conn < 0 ? "" : "conn " + std::to_string(conn) + " ";
        std::fprintf(out, "%smessage offset=%llu len=%zu \"%s%s\"\n", prefix.c_str(),
                     static_cast<unsigned long long>(offset), bytes.size(), escape_bytes(preview).c_str(),
                     bytes.size() > 48 ? "..." : "");
    }
    std::fflush(out);
}

void print_error(FILE* out, Format f, long conn, const FramingError& e) {
    if (f == Format::jsonl) {
        std::fprintf(out, "{%s\"error\":%s,\"rule\":\"%s\",\"offset\":%llu}\n", conn_field(conn).c_str(),
                     json_string(e.message).c_str(), kind_name(e.kind), static_cast<unsigned long long>(e.offset));
    } else {
        std::string prefix = conn < 0 ? "" : "conn " + std::to_string(conn) + " ";
        std::fprintf(out, "%serror %s: %s\n", prefix.c_str(), kind_name(e.kind), e.message.c_str());
    }
    std::fflush(out);
}

void print_event(FILE* out, Format f, long conn, const char* event, uint64_t offset) {
    if (f == Format::jsonl)
        std::fprintf(out, "{%s\"event\":\"%s\",\"offset\":%llu}\n", conn_field(conn).c_str(), event,
                     static_cast<unsigned long long>(offset));
    else
        std::fprintf(out, "conn %ld %s at offset %llu\n", conn, event, static_cast<unsigned long long>(offset));
    std::fflush(out);
}

}  // namespace sockframe::cli
