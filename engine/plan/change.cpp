#include "engine/plan/change.h"

#include "engine/model/enum_names.h"

namespace virtform {

namespace {

constexpr EnumNames<Action, 5> kActionNames{{
    {Action::none, "none"},
    {Action::create, "create"},
    {Action::update, "update"},
    {Action::replace, "replace"},
    {Action::remove, "delete"},
}};

constexpr EnumNames<Disruption, 4> kDisruptionNames{{
    {Disruption::none, "none"},
    {Disruption::live, "live"},
    {Disruption::next_boot, "next-boot"},
    {Disruption::restart, "restart"},
}};

constexpr EnumNames<ResourceKind, 6> kKindNames{{
    {ResourceKind::vm, "vm"},
    {ResourceKind::image, "image"},
    {ResourceKind::loader, "loader"},
    {ResourceKind::network, "network"},
    {ResourceKind::bridge, "bridge"},
    {ResourceKind::pci, "pci"},
}};

constexpr EnumNames<PowerOperation, 4> kPowerNames{{
    {PowerOperation::none, "none"},
    {PowerOperation::start, "start"},
    {PowerOperation::stop, "stop"},
    {PowerOperation::restart, "restart"},
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
  return name_of_enum(kActionNames, action);
}
std::string to_string(Disruption disruption) {
  return name_of_enum(kDisruptionNames, disruption);
}
std::string to_string(ResourceKind kind) {
  return name_of_enum(kKindNames, kind);
}

std::optional<Action> action_from_string(const std::string& text) {
  return enum_from_name(kActionNames, text);
}
std::optional<Disruption> disruption_from_string(const std::string& text) {
  return enum_from_name(kDisruptionNames, text);
}
std::optional<ResourceKind> resource_kind_from_string(const std::string& text) {
  return enum_from_name(kKindNames, text);
}

std::string to_string(PowerOperation power) {
  return name_of_enum(kPowerNames, power);
}
std::optional<PowerOperation> power_operation_from_string(const std::string& text) {
  return enum_from_name(kPowerNames, text);
}

}  // namespace virtform
