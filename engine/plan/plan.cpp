#include "engine/plan/plan.h"

#include <algorithm>

#include "engine/model/enum_names.h"

namespace virtform {

namespace {
constexpr EnumNames<StepKind, 10> kStepNames{{
    {StepKind::create_image, "create-image"},
    {StepKind::define, "define"},
    {StepKind::update, "update"},
    {StepKind::start, "start"},
    {StepKind::stop, "stop"},
    {StepKind::restart, "restart"},
    {StepKind::undefine, "undefine"},
    {StepKind::rename, "rename"},
    {StepKind::bind_driver, "bind-driver"},
    {StepKind::restore_driver, "restore-driver"},
}};
}  // namespace

Summary Plan::summary() const {
  Summary summary;
  for (const Change& change : changes) {
    switch (change.action) {
      case Action::create:
        ++summary.add;
        break;
      case Action::update:
        ++summary.change;
        break;
      case Action::replace:
        ++summary.add;
        ++summary.destroy;
        break;
      case Action::remove:
        ++summary.destroy;
        break;
      case Action::none:
        break;
    }
  }
  return summary;
}

bool Plan::has_changes() const {
  return std::any_of(changes.begin(), changes.end(),
                     [](const Change& c) { return c.action != Action::none; });
}

const Change* Plan::find(const std::string& address) const {
  auto it = std::find_if(changes.begin(), changes.end(),
                         [&](const Change& c) { return c.address == address; });
  return it == changes.end() ? nullptr : &*it;
}

const Step* Plan::find_step(const std::string& id) const {
  auto it = std::find_if(steps.begin(), steps.end(), [&](const Step& s) { return s.id == id; });
  return it == steps.end() ? nullptr : &*it;
}

std::string to_string(StepKind kind) {
  return name_of_enum(kStepNames, kind);
}

std::optional<StepKind> step_kind_from_string(const std::string& text) {
  return enum_from_name(kStepNames, text);
}

}  // namespace virtform
