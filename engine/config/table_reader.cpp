#include "engine/config/table_reader.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "engine/config/config.h"
#include "engine/config/keys.h"
#include "engine/model/values.h"

namespace virtform {
namespace {

// "a string", "an integer", ... for "x must be an integer (got a string)".
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// An absolute path with no empty, "." or ".." component and no trailing slash: what
// lexically_normal() would return unchanged.
bool is_lexically_normal(std::string_view path) {
  if (path == "/") return true;
  if (path.back() == '/') return false;
  for (std::size_t start = 1; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// "vm.dsm" + "disk" -> "vm.dsm.disk"; at the top level just the key.
std::string dotted(const std::string& section, std::string_view key) {
  return section.empty() ? std::string(key) : section + "." + std::string(key);
}

}  // namespace

Location location_of(const toml::source_region& region, const std::string& file) {
  return Location{file, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

TableReader::TableReader(const toml::table& table, std::string section, std::string file,
                         Diagnostics& diagnostics, bool in_array)
    : table_(table),
      section_(std::move(section)),
      file_(std::move(file)),
      diagnostics_(diagnostics),
      in_array_(in_array) {}

std::string TableReader::heading() const {
  return in_array_ ? "[[" + section_ + "]]" : "[" + section_ + "]";
}

Location TableReader::where() const {
  return location_of(table_.source(), file_);
}

Location TableReader::where(std::string_view key) const {
  const toml::node* node = table_.get(key);
  return node ? location_of(node->source(), file_) : where();
}

void TableReader::error(std::string_view key, std::string message) {
  diagnostics_.push_back({Severity::error, std::move(message), where(key), ""});
}

void TableReader::error(std::string message) {
  diagnostics_.push_back({Severity::error, std::move(message), where(), ""});
}

void TableReader::warning(std::string_view key, std::string message) {
  diagnostics_.push_back({Severity::warning, std::move(message), where(key), ""});
}

void TableReader::error_at(const Location& where, std::string message) {
  diagnostics_.push_back({Severity::error, std::move(message), where, ""});
}

void TableReader::warning_at(const Location& where, std::string message) {
  diagnostics_.push_back({Severity::warning, std::move(message), where, ""});
}

void TableReader::reject_unknown_keys(std::span<const std::string_view> known) {
  for (auto&& [key, node] : table_) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::string message = "unknown key '" + std::string(key.str()) + "' " +
                          (section_.empty() ? "at the top level" : "in " + heading());
    if (auto suggestion = keys::nearest(key.str(), known)) {
      message += "; did you mean '" + *suggestion + "'?";
    }
    diagnostics_.push_back(
        {Severity::error, std::move(message), location_of(key.source(), file_), ""});
  }
}

std::optional<std::string> TableReader::require_string(std::string_view key,
                                                       std::string_view what) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (auto value = node->value<std::string>(); value && node->is_string()) return value;
  error(key, std::string(key) + " must be " + std::string(what) + " (got " + describe(*node) + ")");
  return std::nullopt;
}

std::optional<std::string> TableReader::string(std::string_view key) {
  auto value = require_string(key, "a string");
  if (value && value->empty()) {
    error(key, std::string(key) + " must not be empty");
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> TableReader::path(std::string_view key) {
  auto value = string(key);
  if (!value) return std::nullopt;
  if (value->front() != '/') {
    error(key, std::string(key) + " must be an absolute path on the host; got \"" + *value + "\"");
    return std::nullopt;
  }
  // "/a//b/./c" and "/a/b/c" name the same file; compare and report them the same way.
  if (is_lexically_normal(*value)) return value;  // most are: spare thousands of path objects
  return std::filesystem::path(*value).lexically_normal().string();
}

std::optional<std::string> TableReader::one_of(std::string_view key,
                                               std::span<const std::string_view> choices) {
  auto text = string(key);
  if (!text) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
  std::string names;
  for (std::string_view name : choices)
    names += (names.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  error(key, std::string(key) + " must be one of " + names + "; got \"" + *text + "\"");
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (node->is_integer()) return node->value<std::int64_t>();
  error(key, std::string(key) + " must be an integer (got " + describe(*node) + ")");
  return std::nullopt;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  if (node->is_boolean()) return node->value<bool>();
  error(key, std::string(key) + " must be true or false (got " + describe(*node) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  std::vector<std::string> items;
  for (std::size_t i = 0; array && i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (!item.is_string() || item.value<std::string>()->empty()) {
      array = nullptr;
      break;
    }
    items.push_back(*item.value<std::string>());
  }
  if (array) return items;
  error(key, std::string(key) + " must be a list of names such as [\"topoext\"] (got " +
                 describe(*node) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::cpu_lists(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  std::vector<std::string> items;
  for (std::size_t i = 0; array && i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (item.is_integer() && *item.value<std::int64_t>() >= 0) {
      items.push_back(std::to_string(*item.value<std::int64_t>()));
    } else if (item.is_string()) {
      items.push_back(*item.value<std::string>());
    } else {
      array = nullptr;
    }
  }
  if (array) return items;
  error(key, std::string(key) + " must be a list of host CPUs such as [2, 8] or [\"0-3\"] (got " +
                 describe(*node) + ")");
  return std::nullopt;
}

std::optional<std::uint64_t> TableReader::size_kib(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  const std::string accepted =
      " (a whole number with a unit: " + std::string(kSizeUnits) + "; or an integer of MiB)";
  std::optional<std::uint64_t> kib;
  std::string shown;
  if (node->is_integer()) {
    std::int64_t mib = *node->value<std::int64_t>();
    shown = std::to_string(mib);
    if (mib >= 0) kib = parse_size_kib(shown);
  } else if (node->is_string()) {
    shown = "\"" + *node->value<std::string>() + "\"";
    kib = parse_size_kib(*node->value<std::string>());
  } else {
    error(key, std::string(key) + " must be a size such as \"4GiB\" (got " + describe(*node) + ")");
    return std::nullopt;
  }
  if (!kib) {
    error(key, std::string(key) + " " + shown + " is not a size" + accepted);
  } else if (*kib == 0) {
    error(key, std::string(key) + " must be greater than zero");
    kib.reset();
  }
  return kib;
}

std::optional<std::chrono::seconds> TableReader::duration(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return std::nullopt;
  std::optional<std::chrono::seconds> result;
  if (node->is_integer()) {
    // The same bound as "90s": apply adds the timeout to a clock counting nanoseconds.
    std::int64_t seconds = *node->value<std::int64_t>();
    if (seconds >= 0 && seconds <= std::numeric_limits<int>::max())
      result = std::chrono::seconds(seconds);
  } else if (node->is_string()) {
    result = parse_duration(*node->value<std::string>());
  } else {
    error(key,
          std::string(key) + " must be a duration such as \"90s\" (got " + describe(*node) + ")");
    return std::nullopt;
  }
  if (!result) {
    error(key, std::string(key) +
                   " is not a duration (a whole number with a unit: s, m, h; or an integer of "
                   "seconds)");
  }
  return result;
}

const toml::table* TableReader::table(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return nullptr;
  if (const toml::table* sub = node->as_table()) return sub;
  error(key, std::string(key) + " must be a table ([" + dotted(section_, key) + "]) (got " +
                 describe(*node) + ")");
  return nullptr;
}

const toml::array* TableReader::array_of_tables(std::string_view key) {
  const toml::node* node = table_.get(key);
  if (!node) return nullptr;
  const toml::array* array = node->as_array();
  if (array && array->is_array_of_tables()) return array;
  if (array && array->empty()) return array;
  error(key, std::string(key) + " must be an array of tables ([[" + dotted(section_, key) +
                 "]]) (got " + describe(*node) + ")");
  return nullptr;
}

}  // namespace virtform
