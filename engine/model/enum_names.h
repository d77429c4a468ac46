#pragma once
// Enums that travel as text (JSON plans, messages): one table of value/name pairs per enum, read
// both ways by these two helpers.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace virtform {

template <typename Enum, std::size_t N>
using EnumNames = std::array<std::pair<Enum, const char*>, N>;

// The value called `text`, or nothing.
template <typename Enum, std::size_t N>
std::optional<Enum> enum_from_name(const EnumNames<Enum, N>& names, const std::string& text) {
  for (const auto& [value, name] : names)
    if (text == name) return value;
  return std::nullopt;
}

// The name of `value`, or "" for a value the table lacks.
template <typename Enum, std::size_t N>
std::string name_of_enum(const EnumNames<Enum, N>& names, Enum value) {
  for (const auto& [candidate, name] : names)
    if (candidate == value) return name;
  return "";
}

}  // namespace virtform
