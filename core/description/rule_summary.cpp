// The framing rule in a few words (`sockframe list`), from the model.
#include <sockframe/description.hpp>

#include <sstream>

namespace sockframe {
namespace {

// One overload per encoding: a new encoding does not compile until it has its words.
std::string encoding_summary(const UintLength& u, const LengthField& f) {
    std::ostringstream o;
    o << "u" << u.width * 8 << (u.width == 1 ? "" : u.byte_order == ByteOrder::big ? "be" : "le") << "@" << f.offset;
    if (u.has_mask) o << " &0x" << std::hex << u.mask << std::dec;
    if (u.shift) o << " >>" << u.shift;
    if (f.scale != 1) o << " x" << f.scale;
    if (u.conditional()) o << " (flag/escape widths)";
    return o.str();
}

std::string encoding_summary(const Leb128Length& v, const LengthField& f) {
    return "varint@" + std::to_string(f.offset) + " (<= " + std::to_string(v.max_size) + " B)";
}

std::string encoding_summary(const BerLength&, const LengthField& f) { return "BER length@" + std::to_string(f.offset); }

std::string encoding_summary(const AsciiLength& a, const LengthField& f) {
    const char* base = a.hex ? "hex" : "decimal";
    if (a.digits) return std::to_string(a.digits) + " " + base + " digits@" + std::to_string(f.offset);
    return std::string(base) + "@" + std::to_string(f.offset) + " to \"" +
           escape_bytes(std::string(1, static_cast<char>(a.terminator.value_or(0)))) + "\"";
}

std::string field_summary(const LengthField& f) {
    return std::visit([&](const auto& e) { return encoding_summary(e, f); }, f.encoding);
}

}  // namespace

std::string summarize(const Description& d) {
    std::string out;
    if (d.first)
        out = d.first->preface.empty() ? "first " + field_summary(*d.first->length) + ", then "
                                       : std::to_string(d.first->preface.size()) + " B preface, then ";
    if (d.is_length()) return out + field_summary(d.length());
    return out + "delimiter \"" + escape_bytes(d.delimiter().bytes) + "\"";
}

}  // namespace sockframe
