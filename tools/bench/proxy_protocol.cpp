// The messages of the proxy workload: memcached binary SET requests and DNS queries,
// each routed by its key (the memcached key, the query name) by every proxy that can.
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "proxy_peers.hpp"

namespace sockframe::bench {
namespace {

uint64_t tail_of(uint32_t conn, uint64_t seq, uint64_t size) {
    return ((seq + 1) * 0x9E3779B97F4A7C15ULL) ^ (uint64_t{conn} << 40) ^ size;
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
uint32_t get16(const uint8_t* p) {
    return uint32_t{p[0]} << 8 | p[1];
}
uint32_t get32(const uint8_t* p) {
    return get16(p) << 16 | get16(p + 2);
}

// Stamps at `at`: seq (8 bytes), conn (4); the check value in the last 8 bytes.
void stamp(uint8_t* m, size_t at, uint64_t size, uint32_t conn, uint64_t seq) {
    std::memcpy(m + at, &seq, 8);
    std::memcpy(m + at + 8, &conn, 4);
    std::memset(m + at + 12, 'x', size - at - 20);
    uint64_t t = tail_of(conn, seq, size);
    std::memcpy(m + size - 8, &t, 8);
}
std::string check_stamp(const uint8_t* m, size_t at, size_t size, uint64_t expected_size, uint32_t conn,
                        uint64_t& seq) {
    if (size != expected_size)
        return "a reply of " + std::to_string(size) + " bytes to requests of " + std::to_string(expected_size);
    uint32_t c;
    uint64_t t;
    std::memcpy(&seq, m + at, 8);
    std::memcpy(&c, m + at + 8, 4);
    std::memcpy(&t, m + size - 8, 8);
    if (c != conn) return "a reply meant for connection " + std::to_string(c);
    if (t != tail_of(conn, seq, size)) return "a reply whose check value is wrong (cut, shifted or mixed)";
    return {};
}

class Memcached final : public ProxyProtocol {
    // 24-byte header, 8 bytes of extras, an 8-byte key "k0000042", then the value.
    static constexpr size_t kKeyAt = 32, kStampAt = 40;

public:
    const char* name() const override { return "memcached-binary"; }
    Description description() const override { return load_description_file("memcached-binary"); }
    uint64_t min_size() const override { return kStampAt + 20; }
    uint64_t max_message() const override { return 1 << 20; }
    size_t whole(const uint8_t* m, size_t avail) const override {
        if (avail < 24) return 0;
        size_t total = 24 + size_t{get32(m + 8)};
        return total <= avail ? total : 0;
    }
    void make_request(uint8_t* m, uint64_t size, uint32_t conn, uint64_t seq) const override {
        std::memset(m, 0, kKeyAt);
        m[0] = 0x80;  // request
        m[1] = 0x01;  // SET
        put16(m + 2, 8);
        m[4] = 8;
        put32(m + 8, static_cast<uint32_t>(size - 24));
        put32(m + 12, static_cast<uint32_t>(seq));  // opaque
        char key[9];
        std::snprintf(key, sizeof key, "k%07u", static_cast<unsigned>((conn * 7 + seq) % 64));
        std::memcpy(m + kKeyAt, key, 8);
        stamp(m, kStampAt, size, conn, seq);
    }
    void make_reply(uint8_t* m, size_t) const override { m[0] = 0x81; }
    std::string check_reply(const uint8_t* m, size_t size, uint64_t expected_size, uint32_t conn,
                            uint64_t& seq) const override {
        if (m[0] != 0x81) return "a reply whose magic is not 0x81";
        std::string why = check_stamp(m, kStampAt, size, expected_size, conn, seq);
        if (why.empty() && get32(m + 12) != static_cast<uint32_t>(seq)) why = "a reply with another request's opaque";
        return why;
    }
};

class Dns final : public ProxyProtocol {
    // TCP length, header, QNAME k042.b, QTYPE A, QCLASS IN, then an OPT record whose
    // padding option (RFC 7830) makes up the size and carries the stamps.
    static constexpr size_t kOptAt = 26, kStampAt = 41;

public:
    const char* name() const override { return "dns"; }
    Description description() const override { return load_description_file("dns"); }
    uint64_t min_size() const override { return kStampAt + 20; }
    uint64_t max_message() const override { return 65535 + 2; }
    size_t whole(const uint8_t* m, size_t avail) const override {
        if (avail < 2) return 0;
        size_t total = 2 + size_t{get16(m)};
        return total <= avail ? total : 0;
    }
    void make_request(uint8_t* m, uint64_t size, uint32_t conn, uint64_t seq) const override {
        put16(m, static_cast<uint16_t>(size - 2));
        put16(m + 2, static_cast<uint16_t>(seq));  // ID
        put16(m + 4, 0x0100);                      // RD
        put16(m + 6, 1);
        put16(m + 8, 0);
        put16(m + 10, 0);
        put16(m + 12, 1);
        char label[5];
        std::snprintf(label, sizeof label, "k%03u", static_cast<unsigned>((conn * 7 + seq) % 64));
        m[14] = 4;
        std::memcpy(m + 15, label, 4);
        m[19] = 1;
        m[20] = 'b';
        m[21] = 0;
        put16(m + 22, 1);
        put16(m + 24, 1);
        uint8_t* o = m + kOptAt;
        o[0] = 0;
        put16(o + 1, 41);
        put16(o + 3, 4096);
        put32(o + 5, 0);
        put16(o + 9, static_cast<uint16_t>(size - kOptAt - 11));
        put16(o + 11, 12);  // padding
        put16(o + 13, static_cast<uint16_t>(size - kStampAt));
        stamp(m, kStampAt, size, conn, seq);
    }
    void make_reply(uint8_t* m, size_t) const override { m[4] |= 0x80; }  // QR
    std::string check_reply(const uint8_t* m, size_t size, uint64_t expected_size, uint32_t conn,
                            uint64_t& seq) const override {
        if (size < kStampAt + 20) return "a reply of " + std::to_string(size) + " bytes";
        if (!(m[4] & 0x80)) return "a reply without the QR bit";
        std::string why = check_stamp(m, kStampAt, size, expected_size, conn, seq);
        if (why.empty() && get16(m + 2) != static_cast<uint16_t>(seq)) why = "a reply with another query's ID";
        return why;
    }
};

}  // namespace

const ProxyProtocol& proxy_protocol(const std::string& name) {
    static const Memcached memcached;
    static const Dns dns;
    if (name == "dns") return dns;
    if (name == "memcached-binary" || name == "memcached") return memcached;
    throw std::invalid_argument("no proxy protocol \"" + name + "\" (memcached-binary, dns)");
}

}  // namespace sockframe::bench
