// The framing rule in words (`sockframe check`), and bytes made printable for it.
#include <sockframe/description.hpp>

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <variant>

#include "description/route_reader.hpp"

namespace sockframe {

std::string escape_bytes(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        switch (c) {
        case '\r': out += "\\r"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                out += static_cast<char>(c);
            } else {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            }
        }
    }
    return out;
}

namespace {

std::string scaled_value(uint64_t scale) {
    return scale != 1 ? " + " + std::to_string(scale) + " * value" : " + value";
}

void explain_encoding(std::ostringstream& o, const LengthField& lf, const UintLength& f, const char* whose) {
    o << whose << " starts with a length field: " << f.width << "-byte unsigned"
      << (f.width > 1 ? (f.byte_order == ByteOrder::big ? " big-endian" : " little-endian") : "") << " integer at byte "
      << lf.offset << ".\n";
    if (f.has_mask || f.shift) {
        o << "The field is masked with 0x" << std::hex << f.mask << std::dec;
        if (f.shift) o << " and shifted right by " << f.shift;
        o << ".\n";
    }
    o << "Message size = " << f.header << scaled_value(lf.scale) << " bytes"
      << (f.header == 0 ? " (the length counts the whole message)" : "") << ".\n";
    if (f.flag_width)
        o << "When byte " << f.flag_width->at << " has a bit of 0x" << std::hex << std::setw(2) << std::setfill('0')
          << unsigned{f.flag_width->mask} << std::dec << " set, the field is " << f.flag_width->width
          << " bytes wide instead (no mask) and size = " << f.flag_width->header << scaled_value(lf.scale) << ".\n";
    for (const LengthEscape& e : f.escapes)
        o << "A value of " << e.value << " means the length is the " << e.width << "-byte"
          << (e.width > 1 ? (f.byte_order == ByteOrder::big ? " big-endian" : " little-endian") : "")
          << " integer that follows the field, and the size grows by those " << e.width << " bytes.\n";
    for (const ExtraBytes& x : f.extras)
        o << "When byte " << x.at << " has a bit of 0x" << std::hex << std::setw(2) << std::setfill('0')
          << unsigned{x.mask} << std::dec << " set, " << x.bytes << " more header byte"
          << (x.bytes > 1 ? "s follow" : " follows") << " (counted in the size).\n";
}

void explain_encoding(std::ostringstream& o, const LengthField& lf, const Leb128Length& f, const char* whose) {
    o << whose << " has a base-128 varint length (7 bits per byte, low group first, at most " << f.max_size
      << " bytes) at byte " << lf.offset << ".\n";
}

void explain_encoding(std::ostringstream& o, const LengthField& lf, const BerLength& f, const char* whose) {
    o << whose << " has a BER definite length at byte " << lf.offset
      << " (short form below 0x80, or 0x8n then n big-endian bytes; at most " << f.max_size << " bytes).\n";
}

void explain_encoding(std::ostringstream& o, const LengthField& lf, const AsciiLength& f, const char* whose) {
    o << whose << " has its length as ASCII " << (f.hex ? "hex" : "decimal") << " digits at byte " << lf.offset;
    if (f.digits)
        o << ", exactly " << f.digits << " of them";
    else
        o << ", at most " << f.max_size << ", ending at \""
          << escape_bytes(std::string(1, static_cast<char>(*f.terminator))) << "\"";
    o << ".\n";
}

std::string explain_length(const LengthField& f, uint64_t max, const char* whose) {
    std::ostringstream o;
    std::visit([&](const auto& e) { explain_encoding(o, f, e, whose); }, f.encoding);
    if (const VariableLength* v = f.as_variable()) {
        const AsciiLength* a = std::get_if<AsciiLength>(&f.encoding);
        o << "Message size = " << f.offset << " + the field's bytes"
          << (a && a->terminator ? " (terminator included)" : "") << scaled_value(f.scale);
        if (v->adjust) o << (v->adjust > 0 ? " + " : " - ") << (v->adjust > 0 ? v->adjust : -v->adjust);
        o << " bytes.\n";
    }
    for (const Magic& m : f.magic)
        o << whose << " must have \"" << escape_bytes(m.bytes) << "\" at byte " << m.offset << ".\n";
    if (!f.special_values.empty()) {
        o << "The values";
        for (uint64_t v : f.special_values) o << " " << v;
        o << " mean a " << f.special_total << "-byte message.\n";
    }
    o << "A size below " << f.effective_min() << " or above " << max << " bytes"
      << (f.fixed_width() ? "" : ", or a malformed field,") << " is a framing error.\n";
    return o.str();
}

}  // namespace

std::string explain(const Description& d) {
    std::ostringstream o;
    o << d.name;
    if (!d.summary.empty()) o << ": " << d.summary;
    if (!d.reference.empty()) o << " (" << d.reference << ")";
    o << "\n";
    if (d.first) {
        if (!d.first->preface.empty())
            o << "The stream starts with the " << d.first->preface.size() << "-byte preface \""
              << escape_bytes(d.first->preface) << "\", delivered as a message of its own; other bytes there are a framing error.\n";
        else
            o << explain_length(*d.first->length, d.first->max_message, "The stream's first message");
        o << "Then:\n";
    }
    if (d.is_length()) {
        o << explain_length(d.length(), d.max_message, "Each message");
        for (const Magic& m : d.magic)
            o << "Every message must have \"" << escape_bytes(m.bytes) << "\" at byte " << m.offset << ".\n";
        if (!d.trailer.empty()) o << "Every message must end with \"" << escape_bytes(d.trailer) << "\".\n";
    } else {
        o << "Each message ends with the " << d.delimiter().bytes.size() << "-byte delimiter \""
          << escape_bytes(d.delimiter().bytes) << "\", included in the message.\n";
        o << "No delimiter within " << d.max_message << " bytes of a message's start is a framing error.\n";
        o << "The kernel parser scans each byte once: it resumes where the previous call stopped.\n";
    }
    o << "On a framing error the connection stops there; every message before it is delivered.\n"
      << "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
         "to a delivery socket and split again in userspace.\n";
    o << explain_route(d);  // route_explain.cpp; "" without [route]
    return o.str();
}

}  // namespace sockframe
