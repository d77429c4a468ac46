#include "engine/render/plan_json.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/model/vm_fields.h"
#include "engine/plan/model_json.h"
#include "engine/render/dsm_render.h"

namespace virtform {

namespace {

using nlohmann::json;

// ---- Writing ---------------------------------------------------------------------------------

json field_json(const FieldChange& field) {
  return {{"field", field.field},
          {"before", field.before},
          {"after", field.after},
          {"disruption", to_string(field.disruption)}};
}

json fields_json(const std::vector<FieldChange>& fields) {
  json out = json::array();
  for (const FieldChange& field : fields) out.push_back(field_json(field));
  return out;
}

// Only the operations there are: most changes need two or three.
json operations_json(const VmOperations& operations) {
  json out = json::object();
  auto flag = [&](const char* key, bool value) {
    if (value) out[key] = true;
  };
  flag("shut_down", operations.shut_down);
  flag("undefine", operations.undefine);
  flag("rename", operations.rename);
  flag("define", operations.define);
  flag("redefine", operations.redefine);
  if (operations.copy_nvram)
    out["copy_nvram"] = {{"from", operations.copy_nvram->from}, {"to", operations.copy_nvram->to}};
  if (operations.set_autostart) out["set_autostart"] = *operations.set_autostart;
  auto devices = [&](const char* key, const auto& list, auto convert) {
    if (!list.empty()) out[key] = list_json(list, convert);
  };
  devices("unplug_disks", operations.unplug_disks, disk_json);
  devices("unplug_nics", operations.unplug_nics, nic_json);
  devices("plug_disks", operations.plug_disks, disk_json);
  devices("plug_nics", operations.plug_nics, nic_json);
  devices("unplug_usb", operations.unplug_usb, usb_json);
  devices("plug_usb", operations.plug_usb, usb_json);
  devices("unplug_inputs", operations.unplug_inputs, input_json);
  devices("plug_inputs", operations.plug_inputs, input_json);
  if (!operations.live_attributes.empty()) out["live_attributes"] = operations.live_attributes;
  if (operations.balloon_kib) out["balloon_kib"] = *operations.balloon_kib;
  if (operations.vcpus_live) out["vcpus_live"] = *operations.vcpus_live;
  if (operations.current_memory_kib) out["current_memory_kib"] = *operations.current_memory_kib;
  for (const MediaChange& change : operations.media_changes)
    out["media_changes"].push_back({{"drive", change.drive}, {"media", change.media}});
  flag("console_password", operations.console_password);
  if (operations.power != PowerOperation::none) out["power"] = to_string(operations.power);
  return out;
}

json change_json(const Change& change) {
  json fields = fields_json(change.fields);
  json out = {{"address", change.address},
              {"kind", to_string(change.kind)},
              {"name", change.name},
              {"action", to_string(change.action)},
              {"disruption", to_string(change.disruption)},
              {"running", change.running},
              {"fields", fields},
              {"reason", change.reason},
              {"depends_on", change.depends_on}};
  if (!change.live_name.empty()) out["live_name"] = change.live_name;
  if (change.live_policy)
    out["live_policy"] = {{"restart", to_string(change.live_policy->restart)},
                          {"shutdown_timeout_s", change.live_policy->shutdown_timeout.count()},
                          {"force_stop", change.live_policy->force_stop}};
  if (change.kind == ResourceKind::vm) out["operations"] = operations_json(change.operations);
  if (change.kind == ResourceKind::image) {
    out["image"] = {{"format", change.image_format}, {"bytes", change.image_bytes}};
    if (!change.image_backing.empty()) out["image"]["backing"] = change.image_backing;
  }
  return out;
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

// ---- Reading ---------------------------------------------------------------------------------

template <typename Enum>
Enum parsed(const std::optional<Enum>& value, const std::string& what, const std::string& text) {
  if (!value) throw PlanFileError("unknown " + what + " '" + text + "'");
  return *value;
}

std::vector<FieldChange> fields_from(const json& in) {
  std::vector<FieldChange> fields;
  for (const json& field : in) {
    const std::string text = field.at("disruption").get<std::string>();
    fields.push_back({field.at("field").get<std::string>(), field.at("before").get<std::string>(),
                      field.at("after").get<std::string>(),
                      parsed(disruption_from_string(text), "disruption", text)});
  }
  return fields;
}

LifecyclePolicy policy_from(const json& in) {
  LifecyclePolicy policy;
  const std::string restart = in.at("restart").get<std::string>();
  policy.restart = parsed(enum_from_name(kRestartPolicyNames, restart), "restart policy", restart);
  // The config's own bounds, as for a declared VM's timeout.
  policy.shutdown_timeout = std::chrono::seconds(
      integer_at<int>(in, "shutdown_timeout_s", 0, std::numeric_limits<int>::max()));
  policy.force_stop = in.at("force_stop").get<bool>();
  return policy;
}

// apply carries out exactly these, so an operation this virtform does not know is refused rather
// than skipped.
VmOperations operations_from(const json& in, const std::string& address) {
  if (!in.is_object()) throw PlanFileError("the operations of " + address + " are not an object");
  VmOperations operations;
  for (const auto& [key, value] : in.items()) {
    if (key == "shut_down") {
      operations.shut_down = value.get<bool>();
    } else if (key == "undefine") {
      operations.undefine = value.get<bool>();
    } else if (key == "rename") {
      operations.rename = value.get<bool>();
    } else if (key == "define") {
      operations.define = value.get<bool>();
    } else if (key == "redefine") {
      operations.redefine = value.get<bool>();
    } else if (key == "copy_nvram") {
      operations.copy_nvram =
          NvramCopy{value.at("from").get<std::string>(), value.at("to").get<std::string>()};
    } else if (key == "set_autostart") {
      operations.set_autostart = value.get<bool>();
    } else if (key == "unplug_disks") {
      operations.unplug_disks = list_from<Disk>(value, disk_from);
    } else if (key == "unplug_nics") {
      operations.unplug_nics = list_from<Nic>(value, nic_from);
    } else if (key == "plug_disks") {
      operations.plug_disks = list_from<Disk>(value, disk_from);
    } else if (key == "plug_nics") {
      operations.plug_nics = list_from<Nic>(value, nic_from);
    } else if (key == "unplug_usb") {
      operations.unplug_usb = list_from<UsbDevice>(value, usb_from);
    } else if (key == "plug_usb") {
      operations.plug_usb = list_from<UsbDevice>(value, usb_from);
    } else if (key == "unplug_inputs") {
      operations.unplug_inputs = list_from<InputDevice>(value, input_from);
    } else if (key == "plug_inputs") {
      operations.plug_inputs = list_from<InputDevice>(value, input_from);
    } else if (key == "live_attributes") {
      operations.live_attributes = value.get<std::map<std::string, std::string>>();
      for (const auto& attribute : operations.live_attributes) {
        const VmField* field = find_vm_field(attribute.first);
        if (!field || field->timing != FieldTiming::live)
          throw PlanFileError("'" + attribute.first + "' in " + address +
                              " is not an attribute a running guest takes live");
      }
    } else if (key == "balloon_kib") {
      operations.balloon_kib = integer_at<std::uint64_t>(in, "balloon_kib");
    } else if (key == "vcpus_live") {
      operations.vcpus_live = integer_at<unsigned>(in, "vcpus_live");
    } else if (key == "current_memory_kib") {
      operations.current_memory_kib = integer_at<std::uint64_t>(in, "current_memory_kib");
    } else if (key == "media_changes") {
      for (const json& change : value)
        operations.media_changes.push_back(
            {integer_at<unsigned>(change, "drive"), change.at("media").get<std::string>()});
    } else if (key == "console_password") {
      operations.console_password = value.get<bool>();
    } else if (key == "power") {
      const std::string text = value.get<std::string>();
      operations.power = parsed(power_operation_from_string(text), "power operation", text);
    } else {
      throw PlanFileError("unknown operation '" + key + "' in " + address);
    }
  }
  return operations;
}

Change change_from(const json& in, const std::map<std::string, Vm>& declared) {
  Change change;
  change.address = in.at("address").get<std::string>();
  const std::string kind = in.at("kind").get<std::string>();
  change.kind = parsed(resource_kind_from_string(kind), "resource kind", kind);
  change.name = in.at("name").get<std::string>();
  const std::string action = in.at("action").get<std::string>();
  change.action = parsed(action_from_string(action), "action", action);
  const std::string disruption = in.at("disruption").get<std::string>();
  change.disruption = parsed(disruption_from_string(disruption), "disruption", disruption);
  change.running = in.at("running").get<bool>();
  change.reason = in.at("reason").get<std::string>();
  change.depends_on = in.at("depends_on").get<std::vector<std::string>>();
  change.live_name = in.value("live_name", "");
  if (in.contains("live_policy")) change.live_policy = policy_from(in.at("live_policy"));
  change.fields = fields_from(in.at("fields"));
  if (in.contains("image")) {
    change.image_format = in.at("image").at("format").get<std::string>();
    change.image_bytes = integer_at<std::uint64_t>(in.at("image"), "bytes");
    change.image_backing = in.at("image").value("backing", "");
  }
  if (change.kind == ResourceKind::vm && change.action != Action::remove) {
    auto found = declared.find(change.address);
    if (found == declared.end())
      throw PlanFileError(change.address + " changes a VM the plan does not declare");
    change.desired = found->second;
  }
  if (change.kind == ResourceKind::vm) {
    change.operations = operations_from(in.at("operations"), change.address);
    const VmOperations& operations = change.operations;
    if (!change.desired && (operations.define || operations.rename || operations.redefine))
      throw PlanFileError(change.address +
                          " is deleted, yet its operations define, rename or redefine it");
  }
  return change;
}

Step step_from(const json& in) {
  Step step;
  step.id = in.at("id").get<std::string>();
  const std::string kind = in.at("kind").get<std::string>();
  step.kind = parsed(step_kind_from_string(kind), "step kind", kind);
  step.address = in.at("address").get<std::string>();
  step.target = in.at("target").get<std::string>();
  step.after = in.at("after").get<std::vector<std::string>>();
  return step;
}

Diagnostic diagnostic_from(const json& in) {
  Diagnostic diagnostic;
  diagnostic.severity = in.at("severity") == "error" ? Severity::error : Severity::warning;
  diagnostic.message = in.at("message").get<std::string>();
  diagnostic.resource = in.value("resource", "");
  if (in.contains("location")) {
    const json& where = in.at("location");
    diagnostic.where = {where.at("file").get<std::string>(), integer_at<int>(where, "line"),
                        integer_at<int>(where, "column")};
  }
  return diagnostic;
}

// The steps that write the declared definition.
bool needs_declaration(StepKind kind) {
  return kind == StepKind::define || kind == StepKind::update || kind == StepKind::rename;
}

// apply follows the saved order, so a step may wait only for steps saved before it: one that
// names an unknown or a later step (a cycle, once edited in) could never run.
void check_steps(const Plan& plan) {
  std::set<std::string> earlier;
  for (const Step& step : plan.steps) {
    const Change* change = plan.find(step.address);
    if (!change)
      throw PlanFileError("step " + step.id + " is for " + step.address +
                          ", which the plan does not change");
    if (needs_declaration(step.kind) && !change->desired)
      throw PlanFileError("step " + step.id + " writes a definition the plan does not declare");
    for (const std::string& id : step.after)
      if (!earlier.count(id))
        throw PlanFileError("step " + step.id + " waits for " + id +
                            ", which is not an earlier step of the plan");
    if (!earlier.insert(step.id).second) throw PlanFileError("step " + step.id + " appears twice");
  }
}

Plan plan_from(const json& document) {
  const std::string version = document.at("format_version").get<std::string>();
  if (version != std::to_string(Plan::kFormatVersion))
    throw PlanFileError("plan format version " + version +
                        " is not supported (this virtform "
                        "reads version " +
                        std::to_string(Plan::kFormatVersion) + ")");
  std::map<std::string, Vm> declared;
  for (const json& vm : document.at("declared")) {
    Vm model = vm_from_json(vm);
    declared["vm." + model.key] = model;
  }
  Plan plan;
  plan.uri = document.at("uri").get<std::string>();
  for (const json& change : document.at("changes"))
    plan.changes.push_back(change_from(change, declared));
  // Declared VMs with nothing to do still count: they are what the fingerprint was taken of.
  for (const auto& [address, vm] : declared) {
    if (plan.find(address)) continue;
    Change unchanged;
    unchanged.address = address;
    unchanged.name = vm.name;
    unchanged.live_name = vm.name;
    unchanged.desired = vm;
    plan.changes.push_back(unchanged);
  }
  for (const json& pending : document.value("pending_next_boot", json::array())) {
    const std::string address = pending.at("address").get<std::string>();
    auto change = std::find_if(plan.changes.begin(), plan.changes.end(),
                               [&](const Change& c) { return c.address == address; });
    if (change == plan.changes.end())
      throw PlanFileError("pending_next_boot names " + address +
                          ", which the plan does not declare");
    change->pending_boot = fields_from(pending.at("fields"));
  }
  for (const json& guest : document.value("dsm_guests", json::array())) {
    const std::string address = guest.at("address").get<std::string>();
    auto change = std::find_if(plan.changes.begin(), plan.changes.end(),
                               [&](const Change& c) { return c.address == address; });
    if (change == plan.changes.end())
      throw PlanFileError("dsm_guests names " + address + ", which the plan does not declare");
    change->dsm = dsm_report_from(guest);
  }
  for (const json& step : document.at("steps")) plan.steps.push_back(step_from(step));
  check_steps(plan);
  for (const json& diagnostic : document.at("diagnostics"))
    plan.diagnostics.push_back(diagnostic_from(diagnostic));
  plan.fingerprint = document.at("fingerprint").get<Fingerprint>();
  plan.config_digest = document.at("config_digest").get<std::string>();
  return plan;
}

}  // namespace

std::string render_plan_json(const Plan& plan) {
  json changes = json::array();
  json declared = json::array();
  for (const Change& change : plan.changes) {
    if (change.action != Action::none) changes.push_back(change_json(change));
    if (change.kind == ResourceKind::vm && change.desired)
      declared.push_back(vm_to_json(*change.desired));
  }
  json pending = json::array();
  for (const Change& change : plan.changes)
    if (!change.pending_boot.empty())
      pending.push_back({{"address", change.address},
                         {"name", change.name},
                         {"fields", fields_json(change.pending_boot)}});
  json dsm_guests = json::array();
  for (const Change& change : plan.changes) {
    if (!change.dsm) continue;
    json guest = dsm_report_json(*change.dsm);
    guest["address"] = change.address;
    guest["name"] = change.name;
    dsm_guests.push_back(guest);
  }
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
      {"diagnostics", diagnostics},
      {"pending_next_boot", pending},
      {"dsm_guests", dsm_guests},
      {"declared", declared},
      {"fingerprint", plan.fingerprint},
      {"config_digest", plan.config_digest}};
  return document.dump(2) + "\n";
}

Plan parse_plan_json(const std::string& text) {
  try {
    return plan_from(json::parse(text));
  } catch (const PlanFileError&) {
    throw;
  } catch (const std::exception& error) {
    throw PlanFileError(std::string("not a virtform plan: ") + error.what());
  }
}

}  // namespace virtform
