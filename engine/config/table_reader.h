#pragma once
// Typed, located access to one TOML table of the configuration. Every accessor returns nothing
// when the key is absent or its value is wrong; a wrong value is also recorded as a diagnostic
// at the value's file:line:column, so the loader reads on and reports everything at once.

#include <toml++/toml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/enum_names.h"

namespace virtform {

// Location of a toml++ source region's start in `file`.
Location location_of(const toml::source_region& region, const std::string& file);

class TableReader {
 public:
  // `section` is the table's dotted name ("vm.dsm", "vm.dsm.disk"); `in_array` says it is one
  // element of an array of tables ([[vm.dsm.disk]]).
  TableReader(const toml::table& table, std::string section, std::string file,
              Diagnostics& diagnostics, bool in_array = false);

  // The table's dotted name.
  const std::string& section() const { return section_; }
  // The table's header as written in TOML, for messages: "[vm.dsm]" or "[[vm.dsm.disk]]".
  std::string heading() const;
  // The table's own location (its header).
  Location where() const;
  // Location of the key's value; the table's own location if the key is absent.
  Location where(std::string_view key) const;
  bool has(std::string_view key) const { return table_.contains(key); }
  // For keys that take a boolean or another type: true if the key holds a boolean.
  bool holds_boolean(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node != nullptr && node->is_boolean();
  }
  bool holds_string(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node != nullptr && node->is_string();
  }
  const std::string& file() const { return file_; }
  // A reader for a sub-table `name` (or one element of the array of tables `name`).
  TableReader child(const toml::table& table, std::string_view name, bool in_array = false) const {
    return TableReader(table, section_ + "." + std::string(name), file_, diagnostics_, in_array);
  }

  // Records an error at the key's value (or at the table when it is absent).
  void error(std::string_view key, std::string message);
  // Records an error at the table.
  void error(std::string message);
  // Records a warning at the key's value (or at the table when it is absent).
  void warning(std::string_view key, std::string message);
  // Records an error at a location read earlier (an element of an array of tables).
  void error_at(const Location& where, std::string message);
  void warning_at(const Location& where, std::string message);

  // Reports every key not in `known`, at the key itself, with the nearest known one suggested.
  void reject_unknown_keys(std::span<const std::string_view> known);

  std::optional<std::string> string(std::string_view key);
  // A string that must be an absolute host path.
  std::optional<std::string> path(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  // An array of non-empty strings.
  std::optional<std::vector<std::string>> strings(std::string_view key);
  // An array of host CPU sets, each a CPU's number or a string such as "0-3,8", as text.
  std::optional<std::vector<std::string>> cpu_lists(std::string_view key);
  // A size given as "4GiB" or as an integer of MiB, in KiB; must be greater than zero.
  std::optional<std::uint64_t> size_kib(std::string_view key);
  // A duration given as "90s", "2m", "1h" or an integer of seconds.
  std::optional<std::chrono::seconds> duration(std::string_view key);
  // A string that must be one of `choices`.
  std::optional<std::string> one_of(std::string_view key,
                                    std::span<const std::string_view> choices);
  // A string that must be one of `choices`, mapped to its value.
  template <typename Enum>
  std::optional<Enum> choice(std::string_view key,
                             std::initializer_list<std::pair<std::string_view, Enum>> choices);
  // A string that must be one of the names in `names`, as its value; offered in the table's order.
  template <typename Enum, std::size_t N>
  std::optional<Enum> choice(std::string_view key, const EnumNames<Enum, N>& names);

  // A sub-table, or nothing (with an error if the key holds something else).
  const toml::table* table(std::string_view key);
  // An array of tables ([[key]]), or nothing (with an error if the key holds something else).
  const toml::array* array_of_tables(std::string_view key);

 private:
  // The string at `key`, or nothing; reports a non-string value.
  std::optional<std::string> require_string(std::string_view key, std::string_view what);

  const toml::table& table_;
  std::string section_;
  std::string file_;
  Diagnostics& diagnostics_;
  bool in_array_;
};

template <typename Enum>
std::optional<Enum> TableReader::choice(
    std::string_view key, std::initializer_list<std::pair<std::string_view, Enum>> choices) {
  auto text = string(key);
  if (!text) return std::nullopt;
  std::string names;
  for (const auto& [name, value] : choices) {
    if (name == *text) return value;
    names += (names.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  }
  error(key, std::string(key) + " must be one of " + names + "; got \"" + *text + "\"");
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::optional<Enum> TableReader::choice(std::string_view key, const EnumNames<Enum, N>& names) {
  std::array<std::string_view, N> choices;
  for (std::size_t i = 0; i < N; ++i) choices[i] = names[i].second;
  const auto text = one_of(key, choices);
  return text ? enum_from_name(names, *text) : std::nullopt;
}

}  // namespace virtform
