#include "engine/plan/change.h"

#include <array>
#include <utility>

namespace virtform {

namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> lookup(const std::array<std::pair<Enum, const char*>, N>& names,
                           const std::string& text) {
  for (const auto& [value, name] : names) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string name_of(const std::array<std::pair<Enum, const char*>, N>& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "";
}

constexpr std::array<std::pair<Action, const char*>, 5> kActionNames{{
    {Action::none, "none"},
    {Action::create, "create"},
    {Action::update, "update"},
    {Action::replace, "replace"},
    {Action::remove, "delete"},
}};

constexpr std::array<std::pair<Disruption, const char*>, 4> kDisruptionNames{{
    {Disruption::none, "none"},
    {Disruption::live, "live"},
    {Disruption::next_boot, "next-boot"},
    {Disruption::restart, "restart"},
}};

constexpr std::array<std::pair<ResourceKind, const char*>, 6> kKindNames{{
    {ResourceKind::vm, "vm"},
    {ResourceKind::image, "image"},
    {ResourceKind::loader, "loader"},
    {ResourceKind::network, "network"},
    {ResourceKind::bridge, "bridge"},
    {ResourceKind::pci, "pci"},
}};

}  // namespace

std::string symbol(Action action) {
  switch (action) {
    case Action::none:
      return "";
    case Action::create:
      return "+";
    case Action::update:
      return "~";
    case Action::replace:
      return "-/+";
    case Action::remove:
      return "-";
  }
  return "";
}

std::string to_string(Action action) {
  return name_of(kActionNames, action);
}
std::string to_string(Disruption disruption) {
  return name_of(kDisruptionNames, disruption);
}
std::string to_string(ResourceKind kind) {
  return name_of(kKindNames, kind);
}

std::optional<Action> action_from_string(const std::string& text) {
  return lookup(kActionNames, text);
}
std::optional<Disruption> disruption_from_string(const std::string& text) {
  return lookup(kDisruptionNames, text);
}
std::optional<ResourceKind> resource_kind_from_string(const std::string& text) {
  return lookup(kKindNames, text);
}

}  // namespace virtform
