#include "engine/render/dsm_render.h"

#include <cctype>
#include <cstdio>
#include <stdexcept>

#include "engine/plan/model_json.h"

namespace virtform {
namespace {

using json = nlohmann::json;

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

std::string hex(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", value);
  return text;
}

std::string map_values(const DsmSlotMap& map) {
  return "SataPortMap = " + quoted(map.sata_port_map) +
         ", DiskIdxMap = " + quoted(map.disk_idx_map);
}

std::string controller_line(const DsmController& controller) {
  std::string text = controller.label() + ": " + std::to_string(controller.ports) +
                     (controller.ports == 1 ? " port" : " ports") + " from index " +
                     hex(controller.first_index);
  if (controller.holds_loader) return text + " (past the drives: it holds the loader)";
  if (controller.past_max_disks) return text + " (past the drives: no disks)";
  return text;
}

std::string slot_line(const DsmSlot& slot) {
  return "drive " + std::to_string(slot.drive) + ": " + slot.source + " (" + to_string(slot.bus) +
         std::to_string(slot.controller) + " unit " + std::to_string(slot.unit) + ")";
}

DiskBus bus_from(const std::string& text) {
  if (text == "sata") return DiskBus::sata;
  if (text == "scsi") return DiskBus::scsi;
  throw std::runtime_error("unknown DSM controller bus '" + text + "'");
}

json map_json(const DsmSlotMap& map) {
  json controllers = json::array();
  for (const DsmController& c : map.controllers)
    controllers.push_back({{"name", to_string(c.bus) + std::to_string(c.index)},
                           {"bus", to_string(c.bus)},
                           {"index", c.index},
                           {"built_in", c.built_in},
                           {"holds_loader", c.holds_loader},
                           {"ports", c.ports},
                           {"first_index", c.first_index},
                           {"past_max_disks", c.past_max_disks},
                           {"data_disks", c.data_disks}});
  json slots = json::array();
  for (const DsmSlot& s : map.slots)
    slots.push_back({{"drive", s.drive},
                     {"source", s.source},
                     {"bus", to_string(s.bus)},
                     {"controller", s.controller},
                     {"unit", s.unit}});
  return {{"sata_port_map", map.sata_port_map},
          {"disk_idx_map", map.disk_idx_map},
          {"controllers", controllers},
          {"slots", slots},
          {"loader_command", rploader_command(map)}};
}

DsmSlotMap map_from(const json& in) {
  DsmSlotMap map;
  map.sata_port_map = in.at("sata_port_map").get<std::string>();
  map.disk_idx_map = in.at("disk_idx_map").get<std::string>();
  for (const json& c : in.at("controllers")) {
    DsmController controller;
    controller.bus = bus_from(c.at("bus").get<std::string>());
    controller.index = integer_at<unsigned>(c, "index");
    controller.built_in = c.at("built_in").get<bool>();
    controller.holds_loader = c.at("holds_loader").get<bool>();
    controller.ports = integer_at<unsigned>(c, "ports");
    controller.first_index = integer_at<unsigned>(c, "first_index");
    controller.past_max_disks = c.at("past_max_disks").get<bool>();
    controller.data_disks = integer_at<unsigned>(c, "data_disks");
    map.controllers.push_back(controller);
  }
  for (const json& s : in.at("slots"))
    map.slots.push_back({s.at("source").get<std::string>(),
                         bus_from(s.at("bus").get<std::string>()),
                         integer_at<unsigned>(s, "controller"), integer_at<unsigned>(s, "unit"),
                         integer_at<unsigned>(s, "drive")});
  return map;
}

}  // namespace

std::string rploader_platform_id(const std::string& model) {
  std::string id;
  for (char c : model)
    id += c == '+' ? 'p' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

std::string render_dsm_report_text(const DsmReport& report, const std::string& indent) {
  if (!report.map)
    return indent + "the " + report.model +
           "'s loader builds a device tree from the controllers it finds at boot: no "
           "SataPortMap or DiskIdxMap to set\n";
  const DsmSlotMap& map = *report.map;
  std::string out = indent + map_values(map) + "\n";
  for (const DsmController& controller : map.controllers)
    out += indent + "  " + controller_line(controller) + "\n";
  for (const DsmSlot& slot : map.slots) out += indent + "  " + slot_line(slot) + "\n";
  if (report.live_map)
    out += indent + "the guest now has " + map_values(*report.live_map) +
           ": rebuild the loader with the values above\n";
  out += indent + "on the loader (TinyCore RedPill, in /home/tc):\n";
  out += indent + "  " + rploader_command(map) + "\n";
  out +=
      indent + "  ./rploader.sh build " + rploader_platform_id(report.model) + "-<DSM version>\n";
  return out;
}

json dsm_report_json(const DsmReport& report) {
  json out = {
      {"model", report.model},
      {"architecture", report.architecture},
      {"slot_mapping", report.mapping == SlotMapping::sataportmap ? "sataportmap" : "device_tree"}};
  if (report.map) out["map"] = map_json(*report.map);
  if (report.live_map) out["live_map"] = map_json(*report.live_map);
  return out;
}

DsmReport dsm_report_from(const json& in) {
  DsmReport report;
  report.model = in.at("model").get<std::string>();
  report.architecture = in.at("architecture").get<std::string>();
  const std::string mapping = in.at("slot_mapping").get<std::string>();
  if (mapping != "sataportmap" && mapping != "device_tree")
    throw std::runtime_error("unknown slot_mapping '" + mapping + "'");
  report.mapping = mapping == "sataportmap" ? SlotMapping::sataportmap : SlotMapping::device_tree;
  if (in.contains("map")) report.map = map_from(in.at("map"));
  if (in.contains("live_map")) report.live_map = map_from(in.at("live_map"));
  return report;
}

}  // namespace virtform
