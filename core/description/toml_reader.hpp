// Reading TOML tables with positions, so every complaint about a description
// names file:line:col, the key and what is allowed (DescriptionError). Shared by
// the framing reader (description.cpp) and the route reader (route_reader.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include <sockframe/description.hpp>

namespace sockframe {

// Reads one table's keys with positions, so every complaint can point at its line.
class TableReader {
public:
    TableReader(const toml::table& table, std::string prefix, const std::string& source)
        : table_(table), prefix_(std::move(prefix)), source_(source) {}

    [[noreturn]] void fail(const toml::node* at, std::string_view key, std::string problem) const {
        const auto& src = (at ? at->source() : table_.source()).begin;
        uint32_t line = src.line ? src.line : 1, column = src.column ? src.column : 1;
        throw DescriptionError(source_, line, column, prefix_ + std::string(key), std::move(problem));
    }

    void allow_only(std::initializer_list<std::string_view> keys) const {
        for (const auto& [k, v] : table_) {
            if (std::find(keys.begin(), keys.end(), k.str()) != keys.end()) continue;
            std::string allowed;
            for (auto a : keys) allowed += (allowed.empty() ? "" : ", ") + std::string(a);
            (void)v;
            const auto& at = k.source().begin;
            throw DescriptionError(source_, at.line ? at.line : 1, at.column ? at.column : 1,
                                   prefix_ + std::string(k.str()), "unknown key; allowed keys: " + allowed);
        }
    }

    const toml::node* find(std::string_view key) const { return table_.get(key); }

    std::optional<uint64_t> integer(std::string_view key, uint64_t lo, uint64_t hi, std::string_view allowed) const {
        const toml::node* n = find(key);
        if (!n) return std::nullopt;
        auto v = n->value_exact<int64_t>();
        if (!v) fail(n, key, "must be an integer; allowed: " + std::string(allowed));
        if (*v < 0 || static_cast<uint64_t>(*v) < lo || static_cast<uint64_t>(*v) > hi)
            fail(n, key, std::to_string(*v) + " is out of range; allowed: " + std::string(allowed));
        return static_cast<uint64_t>(*v);
    }

    std::optional<std::string> string(std::string_view key) const {
        const toml::node* n = find(key);
        if (!n) return std::nullopt;
        auto v = n->value_exact<std::string>();
        if (!v) fail(n, key, "must be a string");
        return *v;
    }

    const toml::table& table() const { return table_; }
    const std::string& prefix() const { return prefix_; }
    const std::string& source() const { return source_; }

    // [[key]] items as readers ("length.escape."), or none; fails unless an array of tables.
    std::vector<TableReader> tables(std::string_view key, size_t most, std::string_view what) const {
        std::vector<TableReader> out;
        const toml::node* n = find(key);
        if (!n) return out;
        const toml::array* arr = n->as_array();
        if (!arr || !arr->is_array_of_tables() || arr->empty() || arr->size() > most)
            fail(n, key,
                 "must be 1 to " + std::to_string(most) + " [[" + prefix_ + std::string(key) + "]] tables, each with " +
                     std::string(what));
        for (const auto& item : *arr) out.emplace_back(*item.as_table(), prefix_ + std::string(key) + ".", source_);
        return out;
    }

private:
    const toml::table& table_;
    std::string prefix_;
    const std::string& source_;
};

inline std::string range_text(uint64_t lo, uint64_t hi) {
    return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace sockframe
