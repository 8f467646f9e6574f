// How the CLI prints messages and errors: text for people, JSON lines for programs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include <sockframe/framing_error.hpp>

namespace sockframe::cli {

enum class Format { text, jsonl };

std::string hex(std::span<const uint8_t> bytes);
// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& s);
// conn < 0: no connection column (offline framing).
void print_message(FILE* out, Format f, long conn, uint64_t offset, std::span<const uint8_t> bytes);
void print_error(FILE* out, Format f, long conn, const FramingError& e);
void print_event(FILE* out, Format f, long conn, const char* event, uint64_t offset);

}  // namespace sockframe::cli
