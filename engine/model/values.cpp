#include "engine/model/values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

namespace virtform {
namespace {

struct NumberAndUnit {
  std::uint64_t number = 0;
  std::string_view unit;
};

// Splits "4GiB" / "4 GiB" into 4 and "GiB". Nothing if there is no leading unsigned integer.
std::optional<NumberAndUnit> split_number(std::string_view text) {
  NumberAndUnit result;
  const char* end = text.data() + text.size();
  auto [rest, error] = std::from_chars(text.data(), end, result.number);
  if (error != std::errc() || rest == text.data()) return std::nullopt;
  result.unit = std::string_view(rest, static_cast<std::size_t>(end - rest));
  while (!result.unit.empty() && result.unit.front() == ' ') result.unit.remove_prefix(1);
  return result;
}

std::optional<std::uint64_t> multiply(std::uint64_t value, std::uint64_t factor) {
  if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor) {
    return std::nullopt;
  }
  return value * factor;
}

bool is_hex_digit(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

}  // namespace

std::optional<std::uint64_t> parse_size_kib(const std::string& text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"KiB", 1}, {"MiB", 1024}, {"GiB", 1024 * 1024}, {"TiB", 1024ull * 1024 * 1024}};
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  // A bare number means MiB, the unit people think in for guest memory.
  if (parts->unit.empty()) return multiply(parts->number, 1024);
  for (const auto& [unit, factor] : kUnits) {
    if (parts->unit == unit) return multiply(parts->number, factor);
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"s", 1}, {"m", 60}, {"h", 3600}};
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  for (const auto& [unit, factor] : kUnits) {
    if (parts->unit != unit) continue;
    auto seconds = multiply(parts->number, factor);
    if (!seconds || *seconds > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return std::nullopt;
    }
    return std::chrono::seconds(static_cast<std::int64_t>(*seconds));
  }
  return std::nullopt;
}

std::string pci_slot(const std::string& canonical) {
  return canonical.substr(0, canonical.rfind('.'));
}

std::optional<std::string> canonical_pci_address(std::string_view text) {
  // domain:bus:slot.function, the domain being optional (lspci prints it without).
  std::string full(text);
  if (full.size() == 7) full = "0000:" + full;
  if (full.size() != 12 || full[4] != ':' || full[7] != ':' || full[10] != '.') return std::nullopt;
  if (!is_hex(std::string_view(full).substr(0, 4), 4) ||
      !is_hex(std::string_view(full).substr(5, 2), 2) ||
      !is_hex(std::string_view(full).substr(8, 2), 2)) {
    return std::nullopt;
  }
  // PCI has 32 slots of 8 functions.
  if (std::stoi(full.substr(8, 2), nullptr, 16) > 0x1f) return std::nullopt;
  if (full[11] < '0' || full[11] > '7') return std::nullopt;
  return lower(full);
}

std::optional<std::string> canonical_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool separator = i % 3 == 2;
    if (separator ? text[i] != ':' : !is_hex_digit(text[i])) return std::nullopt;
  }
  return lower(text);
}

bool is_multicast_mac(std::string_view canonical) {
  if (canonical.size() < 2) return false;
  int first_octet = std::stoi(std::string(canonical.substr(0, 2)), nullptr, 16);
  return (first_octet & 1) != 0;
}

bool is_hex(std::string_view text, std::size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), is_hex_digit);
}

namespace {

constexpr unsigned kLastHostCpu = 4095;

std::optional<unsigned> cpu_number(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value > kLastHostCpu)
    return std::nullopt;
  return value;
}

}  // namespace

std::string whole_unit_size(std::uint64_t kib) {
  if (kib != 0 && kib % (1ULL << 20) == 0) return std::to_string(kib >> 20) + "GiB";
  if (kib != 0 && kib % 1024 == 0) return std::to_string(kib >> 10) + "MiB";
  return std::to_string(kib) + "KiB";
}

std::optional<std::set<unsigned>> parse_cpuset(std::string_view text) {
  std::set<unsigned> cpus;
  while (!text.empty()) {
    const std::size_t comma = std::min(text.find(','), text.size());
    const std::string_view part = text.substr(0, comma);
    const std::size_t dash = part.find('-');
    const auto first = cpu_number(part.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : cpu_number(part.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    for (unsigned cpu = *first; cpu <= *last; ++cpu) cpus.insert(cpu);
    if (comma == text.size()) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::nullopt;  // a trailing comma
  }
  if (cpus.empty()) return std::nullopt;
  return cpus;
}

std::string cpuset_text(const std::set<unsigned>& cpus) {
  std::string text;
  for (auto it = cpus.begin(); it != cpus.end();) {
    unsigned first = *it, last = *it;
    while (++it != cpus.end() && *it == last + 1) last = *it;
    text += (text.empty() ? "" : ",") + std::to_string(first);
    if (last != first) text += "-" + std::to_string(last);
  }
  return text;
}

}  // namespace virtform
