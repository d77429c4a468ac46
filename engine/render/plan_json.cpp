#include "engine/render/plan_json.h"

#include <nlohmann/json.hpp>

namespace virtform {

namespace {

using nlohmann::json;

json field_json(const FieldChange& field) {
  return {{"field", field.field},
          {"before", field.before},
          {"after", field.after},
          {"disruption", to_string(field.disruption)}};
}

json change_json(const Change& change) {
  json fields = json::array();
  for (const FieldChange& field : change.fields) fields.push_back(field_json(field));
  return {{"address", change.address},
          {"kind", to_string(change.kind)},
          {"name", change.name},
          {"action", to_string(change.action)},
          {"disruption", to_string(change.disruption)},
          {"running", change.running},
          {"fields", fields},
          {"reason", change.reason},
          {"depends_on", change.depends_on}};
}

json step_json(const Step& step) {
  return {{"id", step.id},
          {"kind", to_string(step.kind)},
          {"address", step.address},
          {"target", step.target},
          {"after", step.after}};
}

json diagnostic_json(const Diagnostic& diagnostic) {
  json value = {{"severity", diagnostic.severity == Severity::error ? "error" : "warning"},
                {"message", diagnostic.message}};
  if (!diagnostic.resource.empty()) value["resource"] = diagnostic.resource;
  if (!diagnostic.where.empty())
    value["location"] = {{"file", diagnostic.where.file},
                         {"line", diagnostic.where.line},
                         {"column", diagnostic.where.column}};
  return value;
}

}  // namespace

std::string render_plan_json(const Plan& plan) {
  json changes = json::array();
  for (const Change& change : plan.changes)
    if (change.action != Action::none) changes.push_back(change_json(change));
  json steps = json::array();
  for (const Step& step : plan.steps) steps.push_back(step_json(step));
  json diagnostics = json::array();
  for (const Diagnostic& diagnostic : plan.diagnostics)
    diagnostics.push_back(diagnostic_json(diagnostic));
  const Summary summary = plan.summary();
  const json document = {
      {"format_version", std::to_string(Plan::kFormatVersion)},
      {"uri", plan.uri},
      {"changes", changes},
      {"steps", steps},
      {"summary", {{"add", summary.add}, {"change", summary.change}, {"destroy", summary.destroy}}},
      {"diagnostics", diagnostics}};
  return document.dump(2) + "\n";
}

}  // namespace virtform
