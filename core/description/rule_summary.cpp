// The framing rule in a few words (`sockframe list`), from the model.
#include <sockframe/description.hpp>

#include <sstream>

namespace sockframe {
namespace {

std::string field_summary(const LengthField& f) {
    std::ostringstream o;
    switch (f.encoding) {
        case LengthEncoding::uint:
            o << "u" << f.width * 8
              << (f.width == 1                     ? ""
                  : f.byte_order == ByteOrder::big ? "be"
                                                   : "le")
              << "@" << f.offset;
            if (f.has_mask) o << " &0x" << std::hex << f.mask << std::dec;
            if (f.shift) o << " >>" << f.shift;
            if (f.scale != 1) o << " x" << f.scale;
            if (f.conditional()) o << " (flag/escape widths)";
            break;
        case LengthEncoding::leb128:
            o << "varint@" << f.offset << " (<= " << f.width << " B)";
            break;
        case LengthEncoding::ber:
            o << "BER length@" << f.offset;
            break;
        case LengthEncoding::ascii_decimal:
        case LengthEncoding::ascii_hex: {
            const char* base = f.encoding == LengthEncoding::ascii_hex ? "hex" : "decimal";
            if (f.digits)
                o << f.digits << " " << base << " digits@" << f.offset;
            else
                o << base << "@" << f.offset << " to \""
                  << escape_bytes(std::string(1, static_cast<char>(f.terminator))) << "\"";
            break;
        }
    }
    return o.str();
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
