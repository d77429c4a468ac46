#include "engine/render/plan_text.h"

#include <sstream>

#include "engine/render/dsm_render.h"

namespace virtform {

namespace {

const char* const kReset = "\033[0m";
const char* const kBold = "\033[1m";

const char* color_of(Action action) {
  switch (action) {
    case Action::create:
      return "\033[32m";  // green
    case Action::update:
      return "\033[33m";  // yellow
    case Action::replace:
      return "\033[35m";  // magenta
    case Action::remove:
      return "\033[31m";  // red
    case Action::none:
      return "";
  }
  return "";
}

std::string paint(const TextStyle& style, const char* color, const std::string& text) {
  if (!style.color || *color == '\0') return text;
  return std::string(color) + text + kReset;
}

std::string headline(const Change& change) {
  const std::string subject = change.address;
  switch (change.action) {
    case Action::create:
      return "# " + subject + " will be created";
    case Action::update:
      return "# " + subject + " will be updated in place";
    case Action::replace:
      return "# " + subject + " will be replaced";
    case Action::remove:
      return "# " + subject + " will be deleted";
    case Action::none:
      return "";
  }
  return "";
}

// The symbol of a field line: added, removed or changed.
Action field_action(const FieldChange& field) {
  if (field.before.empty()) return Action::create;
  if (field.after.empty()) return Action::remove;
  return Action::update;
}

std::string field_line(const FieldChange& field, bool running, const TextStyle& style) {
  const Action action = field_action(field);
  std::string text = paint(style, color_of(action), symbol(action)) + " " + field.field + ": ";
  if (action == Action::create) {
    text += field.after;
  } else if (action == Action::remove) {
    text += field.before + " -> (removed)";
  } else {
    text += field.before + " -> " + field.after;
  }
  if (running && field.disruption != Disruption::none)
    text += "  " + paint(style, kBold, "(" + to_string(field.disruption) + ")");
  return text;
}

void render_change(std::ostringstream& out, const Change& change, const TextStyle& style) {
  out << "  " << paint(style, kBold, headline(change));
  if (change.running) out << " (running guest: " << to_string(change.disruption) << ")";
  out << "\n";
  out << "  " << paint(style, color_of(change.action), symbol(change.action)) << " "
      << change.address;
  if (change.kind == ResourceKind::vm) out << " \"" << change.name << "\"";
  out << "\n";
  for (const FieldChange& field : change.fields)
    out << "      " << field_line(field, change.running, style) << "\n";
  if (!change.reason.empty()) out << "      # " << change.reason << "\n";
  out << "\n";
}

}  // namespace

bool has_pending_boot(const Plan& plan) {
  for (const Change& change : plan.changes)
    if (!change.pending_boot.empty()) return true;
  return false;
}

// What the running guests have not booted yet, and apply will not act on: shown so that "no
// changes" is never read as "every guest runs what the configuration says".
void render_pending_boot(std::ostringstream& out, const Plan& plan, const TextStyle& style) {
  out << "\n"
      << paint(style, kBold, "Pending next boot:")
      << " saved in the definition, not yet in the running guest (restart it, or set restart = "
         "\"allowed\" or use `apply --restart`):\n";
  for (const Change& change : plan.changes) {
    if (change.pending_boot.empty()) continue;
    out << "  ~ " << change.address << " \"" << change.name << "\"\n";
    for (const FieldChange& field : change.pending_boot)
      out << "      " << field_line(field, false, style) << "\n";
  }
}

// Each DSM guest's slot map, changed or not: the loader holds it and must be rebuilt by hand.
void render_dsm_guests(std::ostringstream& out, const Plan& plan, const TextStyle& style) {
  bool first = true;
  for (const Change& change : plan.changes) {
    if (!change.dsm) continue;
    if (first)
      out << "\n"
          << paint(style, kBold, "DSM guests:")
          << " the disk slot map their loader's user_config.json must hold\n";
    first = false;
    out << "  " << change.address << " \"" << change.name << "\" (" << change.dsm->model << ", "
        << change.dsm->architecture << ")\n";
    out << render_dsm_report_text(*change.dsm, "      ");
  }
}

std::string render_plan_text(const Plan& plan, const TextStyle& style) {
  std::ostringstream out;
  const bool pending = has_pending_boot(plan);
  if (!plan.has_changes()) {
    out << paint(style, kBold, "No changes.")
        << (pending ? " The definitions match the configuration; running guests have changes "
                      "pending their next boot.\n"
                    : " The host matches the configuration.\n");
    if (pending) render_pending_boot(out, plan, style);
    render_dsm_guests(out, plan, style);
    return out.str();
  }
  out << "virtform will perform the following actions on " << plan.uri << ":\n\n";
  for (const Change& change : plan.changes)
    if (change.action != Action::none) render_change(out, change, style);
  const Summary summary = plan.summary();
  out << paint(style, kBold, "Plan:") << " " << summary.add << " to add, " << summary.change
      << " to change, " << summary.destroy << " to destroy.\n";
  if (pending) render_pending_boot(out, plan, style);
  render_dsm_guests(out, plan, style);
  return out.str();
}

std::string render_diagnostics(const Diagnostics& diagnostics, const TextStyle& style) {
  std::string text;
  for (const Diagnostic& diagnostic : diagnostics) {
    const char* color = diagnostic.severity == Severity::error ? "\033[31m" : "\033[33m";
    text += paint(style, color, format(diagnostic)) + "\n";
  }
  return text;
}

}  // namespace virtform
