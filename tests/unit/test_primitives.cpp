// bpf/sockframe_primitives.h: the steps the generated BPF and the userspace framer
// share. A bug here would be the same on both sides, where the differential tests
// cannot see it, so each is checked against its definition here.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdint>

#include "sockframe_primitives.h"

namespace {

constexpr uint64_t kMax = ~0ULL;

}  // namespace

TEST_CASE("sf_total: base + value * scale + adjust") {
    CHECK(sf_total(0, 1, 0, 0) == 0);
    CHECK(sf_total(10, 1, 2, 0) == 12);  // DNS: 2-byte field, then value bytes
    CHECK(sf_total(3, 4, 8, 0) == 20);   // scaled (ONC RPC words, ...)
    CHECK(sf_total(5, 1, 1, 2) == 8);    // positive adjust
    CHECK(sf_total(5, 1, 4, -4) == 5);   // negative adjust
    CHECK(sf_total(7, 0, 9, 0) == 9);    // scale 0: the value does not count
}

TEST_CASE("sf_total: saturates at UINT64_MAX and at 0, never wraps") {
    CHECK(sf_total(kMax, 1, 0, 0) == kMax);
    CHECK(sf_total(kMax, 1, 1, 0) == kMax);          // base + value overflows
    CHECK(sf_total(kMax / 2 + 1, 2, 0, 0) == kMax);  // value * scale overflows
    CHECK(sf_total(kMax / 2, 2, 1, 0) == kMax);      // exactly UINT64_MAX
    CHECK(sf_total(kMax / 2, 2, 2, 0) == kMax);      // one above
    CHECK(sf_total(kMax - 5, 1, 0, 5) == kMax);      // adjust reaches the top exactly
    CHECK(sf_total(kMax - 5, 1, 0, 6) == kMax);      // adjust overflows
    CHECK(sf_total(kMax, 1, 0, -1) == kMax - 1);     // from saturation, then down
    CHECK(sf_total(3, 1, 0, -3) == 0);
    CHECK(sf_total(3, 1, 0, -4) == 0);  // below 0 stays 0
    CHECK(sf_total(0, 1, 0, -65536) == 0);
}

TEST_CASE("sf_digit: decimal and hex digits, every byte") {
    for (int c = 0; c < 256; c++) {
        CAPTURE(c);
        int dec = c >= '0' && c <= '9' ? c - '0' : -1;
        int hex = dec >= 0 ? dec : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        CHECK(sf_digit(static_cast<uint8_t>(c), 0) == dec);
        CHECK(sf_digit(static_cast<uint8_t>(c), 1) == hex);
    }
}

TEST_CASE("sf_uint: big- and little-endian, every width") {
    const uint8_t b[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    CHECK(sf_uint(b, 0, 1) == 0);
    CHECK(sf_uint(b, 1, 1) == 0x01);
    CHECK(sf_uint(b, 1, 0) == 0x01);
    CHECK(sf_uint(b, 2, 1) == 0x0123);
    CHECK(sf_uint(b, 2, 0) == 0x2301);
    CHECK(sf_uint(b, 3, 1) == 0x012345);
    CHECK(sf_uint(b, 3, 0) == 0x452301);
    CHECK(sf_uint(b, 4, 1) == 0x01234567);
    CHECK(sf_uint(b, 4, 0) == 0x67452301);
    CHECK(sf_uint(b, 8, 1) == 0x0123456789abcdefULL);
    CHECK(sf_uint(b, 8, 0) == 0xefcdab8967452301ULL);
}
