#include "engine/plan/model_json.h"

#include <stdexcept>
#include <type_traits>

#include "engine/model/disk_options.h"
#include "engine/model/profiles.h"
#include "engine/model/vm_fields.h"

namespace virtform {

namespace {

using nlohmann::json;

template <typename T>
void put(json& out, const char* key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

template <typename T>
std::optional<T> get_optional(const json& in, const char* key) {
  if (!in.contains(key) || in.at(key).is_null()) return std::nullopt;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return integer_at<T>(in, key);
  } else {
    return in.at(key).get<T>();
  }
}

// Enum values travel by the names the config uses; an unknown one means a corrupt plan file.
template <typename Enum, std::size_t N>
Enum enum_from(const json& in, const char* key, const EnumNames<Enum, N>& names) {
  const std::string text = in.at(key).get<std::string>();
  if (const auto value = enum_from_name(names, text)) return *value;
  throw std::runtime_error(std::string("unknown ") + key + " '" + text + "'");
}

}  // namespace

json disk_json(const Disk& disk) {
  json out = {{"kind", to_string(disk.kind)}, {"source", disk.source},
              {"bus", to_string(disk.bus)},   {"format", disk.format},
              {"readonly", disk.readonly},    {"loader", disk.loader}};
  put(out, "size", disk.size);
  put(out, "boot_order", disk.boot_order);
  put(out, "sha256", disk.sha256);
  if (!disk.backing.empty()) out["backing"] = disk.backing;
  put(out, "controller", disk.controller);
  put(out, "unit", disk.unit);
  put(out, "cache", disk.cache);
  put(out, "io", disk.io);
  if (!disk.options.empty()) out["options"] = disk.options;
  return out;
}

Disk disk_from(const json& in) {
  Disk disk;
  disk.kind = enum_from(in, "kind", kDiskSourceNames);
  disk.source = in.at("source").get<std::string>();
  disk.bus = enum_from(in, "bus", kDiskBusNames);
  disk.format = in.at("format").get<std::string>();
  disk.readonly = in.at("readonly").get<bool>();
  disk.loader = in.at("loader").get<std::string>();
  disk.size = get_optional<std::uint64_t>(in, "size");
  disk.boot_order = get_optional<unsigned>(in, "boot_order");
  disk.sha256 = get_optional<std::string>(in, "sha256");
  disk.backing = in.value("backing", "");
  disk.controller = get_optional<unsigned>(in, "controller");
  disk.unit = get_optional<unsigned>(in, "unit");
  disk.cache = get_optional<std::string>(in, "cache");
  disk.io = get_optional<std::string>(in, "io");
  disk.options = in.value("options", std::map<std::string, std::string>());
  for (const auto& [key, value] : disk.options)
    if (!find_disk_option(key)) throw std::runtime_error("unknown disk option '" + key + "'");
  return disk;
}

json nic_json(const Nic& nic) {
  json out = {{"kind", to_string(nic.kind)}, {"source", nic.source}, {"model", nic.model}};
  put(out, "mac", nic.mac);
  return out;
}

Nic nic_from(const json& in) {
  Nic nic;
  nic.kind = enum_from(in, "kind", kNicSourceNames);
  nic.source = in.at("source").get<std::string>();
  nic.model = in.at("model").get<std::string>();
  nic.mac = get_optional<std::string>(in, "mac");
  return nic;
}

namespace {

json pci_json(const PciDevice& device) {
  json out = {{"address", device.address}, {"managed", device.managed}};
  put(out, "vendor", device.vendor);
  put(out, "device", device.device);
  put(out, "rom", device.rom);
  put(out, "bind", device.bind);
  put(out, "rombar", device.rombar);
  put(out, "guest_address", device.guest_address);
  if (device.multifunction) out["multifunction"] = true;
  return out;
}

}  // namespace

json usb_json(const UsbDevice& device) {
  json out = json::object();
  if (!device.vendor.empty()) out.update({{"vendor", device.vendor}, {"product", device.product}});
  put(out, "bus", device.bus);
  put(out, "device", device.device);
  if (!device.port.empty()) out["port"] = device.port;
  if (!device.serial.empty()) out["serial"] = device.serial;
  if (device.optional) out["optional"] = true;
  return out;
}

UsbDevice usb_from(const json& in) {
  UsbDevice device;
  if (in.contains("vendor")) {
    device.vendor = in.at("vendor").get<std::string>();
    device.product = in.at("product").get<std::string>();
  }
  if (in.contains("bus")) {
    device.bus = integer_at<unsigned>(in, "bus");
    device.device = integer_at<unsigned>(in, "device");
  }
  device.port = in.value("port", "");
  device.serial = in.value("serial", "");
  device.optional = in.value("optional", false);
  if (device.vendor.empty() && !device.bus)
    throw std::runtime_error("a usb device needs vendor and product, or bus and device");
  return device;
}

json mdev_json(const MdevDevice& device) {
  return {{"uuid", device.uuid}, {"model", device.model}, {"display", device.display}};
}

MdevDevice mdev_from(const json& in) {
  MdevDevice device;
  device.uuid = in.at("uuid").get<std::string>();
  device.model = in.at("model").get<std::string>();
  device.display = in.at("display").get<bool>();
  return device;
}

json input_json(const InputDevice& input) {
  json out = {{"type", input.type}};
  if (input.type != "evdev") {
    out["bus"] = input.bus;
    return out;
  }
  out.update({{"source", input.source}, {"grab", input.grab}, {"repeat", input.repeat}});
  if (!input.grab_toggle.empty()) out["grab_toggle"] = input.grab_toggle;
  return out;
}

InputDevice input_from(const json& in) {
  InputDevice input;
  input.type = in.at("type").get<std::string>();
  if (input.type != "evdev") {
    input.bus = in.at("bus").get<std::string>();
    return input;
  }
  input.bus.clear();
  input.source = in.at("source").get<std::string>();
  input.grab = in.at("grab").get<bool>();
  input.repeat = in.at("repeat").get<bool>();
  input.grab_toggle = in.value("grab_toggle", "");
  return input;
}

namespace {

json share_json(const Share& share) {
  return {{"source", share.source}, {"tag", share.tag}, {"readonly", share.readonly}};
}

Share share_from(const json& in) {
  Share share;
  share.source = in.at("source").get<std::string>();
  share.tag = in.at("tag").get<std::string>();
  share.readonly = in.at("readonly").get<bool>();
  return share;
}

PciDevice pci_from(const json& in) {
  PciDevice device;
  device.address = in.at("address").get<std::string>();
  device.managed = in.at("managed").get<bool>();
  device.vendor = get_optional<std::string>(in, "vendor");
  device.device = get_optional<std::string>(in, "device");
  device.rom = get_optional<std::string>(in, "rom");
  device.bind = get_optional<std::string>(in, "bind");
  device.rombar = get_optional<bool>(in, "rombar");
  device.guest_address = get_optional<std::string>(in, "guest_address");
  device.multifunction = in.value("multifunction", false);
  return device;
}

}  // namespace

namespace {

// Keys a plain firmware leaves out, so that the digest of what was applied stays the same.
json firmware_json(const Firmware& firmware) {
  json out = {{"kind", to_string(firmware.kind)},
              {"code", firmware.code},
              {"vars_template", firmware.vars_template},
              {"nvram", firmware.nvram}};
  if (firmware.autoselect) out["autoselect"] = true;
  put(out, "secure_boot", firmware.secure_boot);
  return out;
}

Firmware firmware_from(const json& in) {
  Firmware firmware;
  firmware.kind = enum_from(in, "kind", kFirmwareKindNames);
  firmware.code = in.at("code").get<std::string>();
  firmware.vars_template = in.at("vars_template").get<std::string>();
  firmware.nvram = in.at("nvram").get<std::string>();
  firmware.autoselect = get_optional<bool>(in, "autoselect").value_or(false);
  firmware.secure_boot = get_optional<bool>(in, "secure_boot");
  return firmware;
}

}  // namespace

json vm_to_json(const Vm& vm) {
  json out = {
      {"key", vm.key},
      {"project", vm.project},
      {"name", vm.name},
      {"type", to_string(vm.type)},
      {"memory_kib", vm.memory_kib},
      {"vcpus", vm.vcpus},
      {"machine", vm.machine},
      {"firmware", firmware_json(vm.firmware)},
      {"disks", list_json(vm.disks, disk_json)},
      {"nics", list_json(vm.nics, nic_json)},
      {"pci", list_json(vm.pci, pci_json)},
      {"restart", to_string(vm.restart)},
      {"shutdown_timeout_s", vm.shutdown_timeout.count()},
      {"force_stop", vm.force_stop},
      {"adopt", vm.adopt},
  };
  if (!vm.shares.empty()) out["shares"] = list_json(vm.shares, share_json);
  if (!vm.usb.empty()) out["usb"] = list_json(vm.usb, usb_json);
  if (!vm.inputs.empty()) out["inputs"] = list_json(vm.inputs, input_json);
  if (!vm.mdevs.empty()) out["mdevs"] = list_json(vm.mdevs, mdev_json);
  if (!vm.cdroms.empty()) out["cdroms"] = list_json(vm.cdroms, disk_json);
  put(out, "vcpus_max", vm.vcpus_max);
  put(out, "current_memory_kib", vm.current_memory_kib);
  if (vm.kernel)
    out["kernel"] = {{"kernel", vm.kernel->kernel},
                     {"initrd", vm.kernel->initrd},
                     {"cmdline", vm.kernel->cmdline}};
  if (vm.graphics) {
    out["graphics"] = {{"type", to_string(vm.graphics->type)}, {"listen", vm.graphics->listen}};
    put(out["graphics"], "port", vm.graphics->port);
    put(out["graphics"], "gl", vm.graphics->gl);
    put(out["graphics"], "rendernode", vm.graphics->rendernode);
    // Where the password comes from, never the password.
    if (!vm.graphics->password_file.empty())
      out["graphics"]["password_file"] = vm.graphics->password_file;
    if (!vm.graphics->password_env.empty())
      out["graphics"]["password_env"] = vm.graphics->password_env;
  }
  if (vm.serial) out["serial"] = {{"type", vm.serial->type}};
  put(out, "autostart", vm.autostart);
  if (vm.state) out["state"] = to_string(*vm.state);
  if (!vm.attributes.empty()) out["attributes"] = vm.attributes;
  if (!vm.attribute_origins.empty()) out["attribute_origins"] = vm.attribute_origins;
  for (const XmlFragment& fragment : vm.xml)
    out["xml"].push_back({{"parent", fragment.parent}, {"xml", fragment.xml}});
  return out;
}

Vm vm_from_json(const json& in) {
  Vm vm;
  vm.key = in.at("key").get<std::string>();
  vm.project = in.at("project").get<std::string>();
  vm.name = in.at("name").get<std::string>();
  vm.type = enum_from(in, "type", kDomainTypeNames);
  vm.memory_kib = integer_at<std::uint64_t>(in, "memory_kib");
  if (in.contains("current_memory_kib"))
    vm.current_memory_kib = integer_at<std::uint64_t>(in, "current_memory_kib");
  vm.vcpus = integer_at<unsigned>(in, "vcpus");
  vm.machine = in.at("machine").get<std::string>();
  vm.firmware = firmware_from(in.at("firmware"));
  vm.disks = list_from<Disk>(in.at("disks"), disk_from);
  vm.nics = list_from<Nic>(in.at("nics"), nic_from);
  vm.pci = list_from<PciDevice>(in.at("pci"), pci_from);
  if (in.contains("shares")) vm.shares = list_from<Share>(in.at("shares"), share_from);
  if (in.contains("usb")) vm.usb = list_from<UsbDevice>(in.at("usb"), usb_from);
  if (in.contains("inputs")) vm.inputs = list_from<InputDevice>(in.at("inputs"), input_from);
  if (in.contains("mdevs")) vm.mdevs = list_from<MdevDevice>(in.at("mdevs"), mdev_from);
  if (in.contains("cdroms")) vm.cdroms = list_from<Disk>(in.at("cdroms"), disk_from);
  vm.restart = enum_from(in, "restart", kRestartPolicyNames);
  // The config's own bounds: apply adds the timeout to a clock in nanoseconds.
  vm.shutdown_timeout = std::chrono::seconds(
      integer_at<int>(in, "shutdown_timeout_s", 0, std::numeric_limits<int>::max()));
  vm.force_stop = in.at("force_stop").get<bool>();
  vm.adopt = in.at("adopt").get<bool>();
  if (in.contains("vcpus_max")) vm.vcpus_max = integer_at<unsigned>(in, "vcpus_max");
  if (in.contains("kernel")) {
    const json& kernel = in.at("kernel");
    vm.kernel =
        DirectKernel{kernel.at("kernel").get<std::string>(), kernel.at("initrd").get<std::string>(),
                     kernel.at("cmdline").get<std::string>()};
  }
  if (in.contains("graphics")) {
    const json& graphics = in.at("graphics");
    vm.graphics = Graphics{enum_from(graphics, "type", kGraphicsTypeNames),
                           graphics.at("listen").get<std::string>(),
                           get_optional<unsigned>(graphics, "port"),
                           get_optional<bool>(graphics, "gl"),
                           get_optional<std::string>(graphics, "rendernode"),
                           graphics.value("password_file", ""),
                           graphics.value("password_env", "")};
  }
  if (in.contains("serial")) vm.serial = Serial{in.at("serial").at("type").get<std::string>()};
  vm.autostart = get_optional<bool>(in, "autostart");
  if (in.contains("state")) vm.state = enum_from(in, "state", kPowerStateNames);
  if (in.contains("attributes")) {
    vm.attributes = in.at("attributes").get<std::map<std::string, std::string>>();
    for (const auto& [key, value] : vm.attributes)
      if (!find_vm_field(key)) throw std::runtime_error("unknown attribute '" + key + "'");
  }
  if (in.contains("attribute_origins")) {
    vm.attribute_origins = in.at("attribute_origins").get<std::map<std::string, std::string>>();
    for (const auto& [key, origin] : vm.attribute_origins)
      if (!vm.attributes.count(key) && !is_profile_field(key))
        throw std::runtime_error("attribute_origins names '" + key + "', which is not set");
  }
  // The text alone: the provider parses it again where it writes it.
  if (in.contains("xml"))
    for (const json& fragment : in.at("xml"))
      vm.xml.push_back({fragment.at("parent").get<std::string>(),
                        fragment.at("xml").get<std::string>(),
                        {},
                        {}});
  return vm;
}

}  // namespace virtform
