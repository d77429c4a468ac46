#include "providers/libvirt/domain_fields.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <vector>

#include "engine/model/values.h"
#include "engine/model/vm_fields.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/field_path.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

// The text of a direct child of <domain>, such as <description> or <on_crash>.
template <const char* kName>
std::optional<std::string> child_text(const pugi::xml_node& domain) {
  const std::string text = domain.child(kName).text().as_string();
  if (text.empty()) return std::nullopt;
  return text;
}

template <const char* kName>
void set_child_text(pugi::xml_node domain, const std::string& value) {
  xml::set_text(domain_parts::domain_child(domain, kName), value);
}

constexpr char kTitle[] = "title";
constexpr char kDescription[] = "description";
constexpr char kOnCrash[] = "on_crash";
constexpr char kIothreads[] = "iothreads";

int set_title_live(virDomainPtr domain, const std::string& value) {
  return virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_TITLE, value.c_str(), nullptr, nullptr,
                              VIR_DOMAIN_AFFECT_LIVE);
}

int set_description_live(virDomainPtr domain, const std::string& value) {
  return virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_DESCRIPTION, value.c_str(), nullptr,
                              nullptr, VIR_DOMAIN_AFFECT_LIVE);
}

std::optional<std::string> read_boot_menu(const pugi::xml_node& domain) {
  const pugi::xml_attribute enable = domain.child("os").child("bootmenu").attribute("enable");
  if (!enable) return std::nullopt;
  return std::string(enable.as_string()) == "yes" ? "true" : "false";
}

// <bootmenu>, made at its place among <os>'s children when missing; boot_menu and
// boot_menu_timeout each own one attribute of it.
pugi::xml_node boot_menu_element(pugi::xml_node domain) {
  return domain_parts::os_child(domain_parts::domain_child(domain, "os"), "bootmenu");
}

void write_boot_menu(pugi::xml_node domain, const std::string& value) {
  xml::set_attribute(boot_menu_element(domain), "enable", value == "true" ? "yes" : "no");
}

// ---- Lifecycle actions, which libvirt's QEMU driver also sets in a running guest ----------

constexpr char kOnPoweroff[] = "on_poweroff";
constexpr char kOnReboot[] = "on_reboot";

template <int kEvent>
int set_lifecycle_live(virDomainPtr domain, const std::string& value) {
  const unsigned int action = value == "restart" ? VIR_DOMAIN_LIFECYCLE_ACTION_RESTART
                                                 : VIR_DOMAIN_LIFECYCLE_ACTION_DESTROY;
  return virDomainSetLifecycleAction(domain, kEvent, action, VIR_DOMAIN_AFFECT_LIVE);
}

// ---- Devices -------------------------------------------------------------------------------

pugi::xml_node devices_of(pugi::xml_node domain) {
  return domain_parts::domain_child(domain, "devices");
}

// The elements of `devices` called `name` that `owned` picks.
std::vector<pugi::xml_node> owned_devices(const pugi::xml_node& devices, const char* name,
                                          bool (*owned)(const pugi::xml_node&)) {
  std::vector<pugi::xml_node> found;
  for (pugi::xml_node element : devices.children(name))
    if (owned(element)) found.push_back(element);
  return found;
}

// The first <video>: the one a guest boots its display on.
bool is_first_video(const pugi::xml_node& element) {
  return !element.previous_sibling("video");
}

constexpr char kVram[] = "vram";
constexpr char kHeads[] = "heads";

std::optional<std::string> read_video(const pugi::xml_node& domain) {
  const pugi::xml_node video = domain.child("devices").child("video");
  if (!video) return std::nullopt;
  return std::string(video.child("model").attribute("type").as_string("none"));
}

// A new model drops the old one's sizes (qxl's ram and vgamem mean nothing to virtio) and its
// PCI address (a display-less model has none); libvirt fills in the new model's.
void write_video(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node devices = devices_of(domain);
  pugi::xml_node video = devices.child("video");
  if (!video) video = devices.append_child("video");
  if (read_video(domain) == value && video.child("model")) return;
  xml::remove_children(video, "model");
  xml::remove_children(video, "address");
  video.prepend_child("model").append_attribute("type") = value.c_str();
}

// The first USB controller (index 0), which the guest's USB devices plug into.
bool is_first_usb_controller(const pugi::xml_node& element) {
  return std::string_view(element.attribute("type").as_string()) == "usb" &&
         element.attribute("index").as_uint(0) == 0;
}

pugi::xml_node first_usb_controller(const pugi::xml_node& devices) {
  for (pugi::xml_node controller : devices.children("controller"))
    if (is_first_usb_controller(controller)) return controller;
  return {};
}

std::optional<std::string> read_usb_controller(const pugi::xml_node& domain) {
  const pugi::xml_node controller = first_usb_controller(domain.child("devices"));
  if (!controller.attribute("model")) return std::nullopt;
  return std::string(controller.attribute("model").as_string());
}

// A new model takes the old one's address and companions' master ports away with it; libvirt
// places the new one.
void write_usb_controller(pugi::xml_node domain, const std::string& value) {
  if (read_usb_controller(domain) == value) return;
  pugi::xml_node devices = devices_of(domain);
  pugi::xml_node controller = first_usb_controller(devices);
  if (!controller) {
    controller = devices.append_child("controller");
    controller.append_attribute("type") = "usb";
    controller.append_attribute("index") = 0;
  }
  xml::set_attribute(controller, "model", value);
  xml::remove_children(controller, "address");
  xml::remove_children(controller, "master");
}

// An attribute of the first video device's <model>, owned where the config sets it: a model
// change rewrites <model>, and its row comes after video's.
template <const char* kAttribute>
std::optional<std::string> read_video_model(const pugi::xml_node& domain) {
  const pugi::xml_attribute value =
      domain.child("devices").child("video").child("model").attribute(kAttribute);
  if (!value) return std::nullopt;
  return std::string(value.value());
}

std::optional<std::string> read_video_vram(const pugi::xml_node& domain) {
  const auto kib = read_video_model<kVram>(domain);
  if (!kib) return std::nullopt;
  return whole_unit_size(std::strtoull(kib->c_str(), nullptr, 10));
}

void write_video_vram(pugi::xml_node domain, const std::string& value) {
  if (read_video_vram(domain) == value) return;
  pugi::xml_node video = xml::child_or_append(devices_of(domain), "video");
  xml::set_attribute(xml::child_or_append(video, "model"), "vram",
                     std::to_string(parse_size_kib(value).value_or(0)));
}

void write_video_heads(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node video = xml::child_or_append(devices_of(domain), "video");
  xml::set_attribute(xml::child_or_append(video, "model"), "heads", value);
}

// 3D acceleration of the first video device: "false" for a video device without it.
std::optional<std::string> read_video_accel3d(const pugi::xml_node& domain) {
  const pugi::xml_node video = domain.child("devices").child("video");
  if (!video) return std::nullopt;
  const std::string_view accel3d =
      video.child("model").child("acceleration").attribute("accel3d").as_string("no");
  return std::string(accel3d == "yes" ? "true" : "false");
}

void write_video_accel3d(pugi::xml_node domain, const std::string& value) {
  if (value == "true") {
    pugi::xml_node model =
        xml::child_or_append(xml::child_or_append(devices_of(domain), "video"), "model");
    xml::set_attribute(xml::child_or_append(model, "acceleration"), "accel3d", "yes");
    return;
  }
  pugi::xml_node model = devices_of(domain).child("video").child("model");
  pugi::xml_node acceleration = model.child("acceleration");
  acceleration.remove_attribute("accel3d");
  if (acceleration && !acceleration.first_attribute() && !acceleration.first_child())
    model.remove_child(acceleration);
}

// A device a guest has one of, by model, or none: the sound card, the watchdog (libvirt 9.0
// takes no second of either).
template <const char* kName>
std::optional<std::string> read_single(const pugi::xml_node& domain) {
  const pugi::xml_node device = domain.child("devices").child(kName);
  return std::string(device ? device.attribute("model").as_string() : "none");
}

// The row owns the first of these devices; a second sound card is the guest's to keep (import
// writes it as a fragment).
template <const char* kName>
bool is_first_of(const pugi::xml_node& element) {
  return !element.previous_sibling(kName);
}

// `value` is the first device's model; "none" takes out every one. A new model keeps the other
// attributes (a watchdog's action) and drops the old one's children: its address, a sound card's
// codecs. libvirt's <audio> backend, added for a sound card, may stay without it.
template <const char* kName>
void write_single(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node devices = devices_of(domain);
  pugi::xml_node first = devices.child(kName);
  if (value == "none") {
    while (pugi::xml_node device = devices.child(kName)) devices.remove_child(device);
    return;
  }
  if (!first) first = devices.append_child(kName);
  if (value == first.attribute("model").as_string()) return;
  first.remove_children();
  xml::set_attribute(first, "model", value);
}

constexpr char kSound[] = "sound";
constexpr char kWatchdog[] = "watchdog";

std::optional<std::string> read_balloon(const pugi::xml_node& domain) {
  const pugi::xml_attribute model = domain.child("devices").child("memballoon").attribute("model");
  if (!model) return std::nullopt;
  return std::string(model.as_string());
}

// Without a balloon there is no device to place or to report statistics.
void write_balloon(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node balloon = xml::child_or_append(devices_of(domain), "memballoon");
  if (value == balloon.attribute("model").as_string()) return;
  balloon.remove_children();
  xml::set_attribute(balloon, "model", value);
}

std::optional<std::string> read_watchdog_action(const pugi::xml_node& domain) {
  const pugi::xml_node watchdog = domain.child("devices").child("watchdog");
  if (!watchdog) return std::nullopt;
  return std::string(watchdog.attribute("action").as_string("reset"));
}

// Written after watchdog (the attributes are written in key order), into the one it left.
void write_watchdog_action(pugi::xml_node domain, const std::string& value) {
  if (pugi::xml_node watchdog = domain.child("devices").child("watchdog"))
    xml::set_attribute(watchdog, "action", value);
}

// A device a boolean row gives the guest, picked out by `owned` among the elements it shares
// its name with, and written as `xml`.
struct OwnedDevice {
  const char* name;
  bool (*owned)(const pugi::xml_node& element);
  const char* xml;
};

bool is_urandom_rng(const pugi::xml_node& element) {
  const pugi::xml_node backend = element.child("backend");
  return std::string(element.attribute("model").as_string()) == "virtio" &&
         std::string(backend.attribute("model").as_string()) == "random" &&
         std::string(backend.text().as_string()) == "/dev/urandom";
}

template <const char* kTarget>
bool is_channel_to(const pugi::xml_node& element) {
  return std::string(element.child("target").attribute("name").as_string()) == kTarget;
}

constexpr char kGuestAgent[] = "org.qemu.guest_agent.0";
constexpr char kSpiceAgent[] = "com.redhat.spice.0";

bool is_usb_tablet(const pugi::xml_node& element) {
  return std::string(element.attribute("type").as_string()) == "tablet" &&
         std::string(element.attribute("bus").as_string()) == "usb";
}
constexpr OwnedDevice kTablet = {"input", is_usb_tablet, "<input type='tablet' bus='usb'/>"};

bool is_spice_redirect(const pugi::xml_node& element) {
  return std::string_view(element.attribute("bus").as_string()) == "usb" &&
         std::string_view(element.attribute("type").as_string()) == "spicevmc";
}

std::vector<pugi::xml_node> spice_redirects(const pugi::xml_node& devices) {
  std::vector<pugi::xml_node> found;
  for (pugi::xml_node element : devices.children("redirdev"))
    if (is_spice_redirect(element)) found.push_back(element);
  return found;
}

std::optional<std::string> read_usb_redirect(const pugi::xml_node& domain) {
  return std::to_string(spice_redirects(domain.child("devices")).size());
}

// The first `value` channels stay as they are (their addresses, a boot order); the rest go.
void write_usb_redirect(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node devices = devices_of(domain);
  const std::size_t wanted = std::stoul(value);
  std::vector<pugi::xml_node> present = spice_redirects(devices);
  for (std::size_t i = wanted; i < present.size(); ++i) devices.remove_child(present[i]);
  for (std::size_t i = present.size(); i < wanted; ++i) {
    pugi::xml_node element = devices.append_child("redirdev");
    element.append_attribute("bus") = "usb";
    element.append_attribute("type") = "spicevmc";
  }
}

bool is_looking_glass(const pugi::xml_node& element) {
  return std::string_view(element.attribute("name").as_string()) == "looking-glass";
}

// A <size> in MiB: libvirt writes unit='M' (MiB), a hand-written one may use another unit.
unsigned long long size_in_mib(const pugi::xml_node& size) {
  const std::string unit = size.attribute("unit").as_string("b");
  const unsigned long long value = size.text().as_ullong();
  if (unit == "G" || unit == "GiB") return value << 10;
  if (unit == "M" || unit == "MiB") return value;
  if (unit == "K" || unit == "KiB") return value >> 10;
  return value >> 20;
}

// Without a <size>, the device has QEMU's 4 MiB.
std::optional<std::string> read_looking_glass(const pugi::xml_node& domain) {
  const auto present = owned_devices(domain.child("devices"), "shmem", is_looking_glass);
  if (present.empty()) return "none";
  const pugi::xml_node size = present.front().child("size");
  return std::to_string(size ? size_in_mib(size) : 4) + "MiB";
}

// A new size keeps the device's address, so the guest sees it where it was.
void write_looking_glass(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node devices = devices_of(domain);
  const std::vector<pugi::xml_node> present = owned_devices(devices, "shmem", is_looking_glass);
  if (value == "none") {
    for (pugi::xml_node element : present) devices.remove_child(element);
    return;
  }
  if (read_looking_glass(domain) == value) return;
  pugi::xml_node shmem = present.empty() ? devices.append_child("shmem") : present.front();
  xml::set_attribute(shmem, "name", "looking-glass");
  xml::set_attribute(xml::child_or_append(shmem, "model"), "type", "ivshmem-plain");
  pugi::xml_node size = xml::child_or_append(shmem, "size");
  xml::set_attribute(size, "unit", "M");
  size.text().set(value.substr(0, value.size() - 3).c_str());
}

constexpr OwnedDevice kRng = {
    "rng", is_urandom_rng,
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"};
constexpr OwnedDevice kGuestAgentChannel = {
    "channel", is_channel_to<kGuestAgent>,
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"};
constexpr OwnedDevice kSpiceAgentChannel = {
    "channel", is_channel_to<kSpiceAgent>,
    "<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>"};

template <const OwnedDevice& kDevice>
std::optional<std::string> read_device(const pugi::xml_node& domain) {
  return owned_devices(domain.child("devices"), kDevice.name, kDevice.owned).empty() ? "false"
                                                                                     : "true";
}

template <const OwnedDevice& kDevice>
void write_device(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node devices = devices_of(domain);
  const std::vector<pugi::xml_node> present = owned_devices(devices, kDevice.name, kDevice.owned);
  if (value == "false") {
    for (pugi::xml_node element : present) devices.remove_child(element);
  } else if (present.empty()) {
    devices.append_copy(xml::load(kDevice.xml, "device").first_child());
  }
}

// Plugs the device into the running guest, or unplugs every one it has (as the running
// definition names them: libvirt finds a device to unplug by its alias and address).
template <const OwnedDevice& kDevice>
int set_device_live(virDomainPtr domain, const std::string& value) {
  if (value == "true")
    return virDomainAttachDeviceFlags(domain, kDevice.xml, VIR_DOMAIN_AFFECT_LIVE);
  char* text = virDomainGetXMLDesc(domain, 0);
  if (!text) return -1;
  pugi::xml_document running = xml::load(text, "running domain definition");
  free(text);
  const pugi::xml_node devices = running.child("domain").child("devices");
  for (const pugi::xml_node element : owned_devices(devices, kDevice.name, kDevice.owned))
    if (virDomainDetachDeviceFlags(domain, xml::save(element).c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0)
      return -1;
  return 0;
}

// ---- Rows found by their path (field_path.h) ---------------------------------------------------

template <const char* kPath>
const FieldPath& path_of() {
  static const FieldPath path = parse_field_path(kPath);
  return path;
}

// The words a switch's attribute says it with: state='on', enabled='no', present='yes'.
struct SwitchWords {
  const char* on;
  const char* off;
};
constexpr SwitchWords kOnOff{"on", "off"};
constexpr SwitchWords kYesNo{"yes", "no"};

template <const char* kPath, const SwitchWords& kWords>
std::optional<std::string> read_switch(const pugi::xml_node& domain) {
  const auto value = value_at(domain, path_of<kPath>());
  if (value == kWords.on) return "true";
  if (value == kWords.off) return "false";
  return std::nullopt;
}

template <const char* kPath, const SwitchWords& kWords>
void write_switch(pugi::xml_node domain, const std::string& value) {
  set_value_at(domain, path_of<kPath>(), value == "true" ? kWords.on : kWords.off);
}

template <const char* kPath>
std::optional<std::string> read_value(const pugi::xml_node& domain) {
  return value_at(domain, path_of<kPath>());
}

template <const char* kPath>
void write_value(pugi::xml_node domain, const std::string& value) {
  set_value_at(domain, path_of<kPath>(), value);
}

constexpr char kBootMenuTimeout[] = "os/bootmenu/@timeout";

// A timeout means something only to a menu that shows: one of a hidden menu is not read, so
// import never writes a timeout the reader refuses without boot_menu = true.
std::optional<std::string> read_boot_menu_timeout(const pugi::xml_node& domain) {
  if (read_boot_menu(domain) != "true") return std::nullopt;
  return read_value<kBootMenuTimeout>(domain);
}

void write_boot_menu_timeout(pugi::xml_node domain, const std::string& value) {
  xml::set_attribute(boot_menu_element(domain), "timeout", value);
}

// ---- The guest's CPU -----------------------------------------------------------------------

constexpr char kSockets[] = "cpu/topology/@sockets";
constexpr char kDies[] = "cpu/topology/@dies";
constexpr char kCores[] = "cpu/topology/@cores";
constexpr char kThreads[] = "cpu/topology/@threads";

std::string cpu_mode_of(const pugi::xml_node& cpu) {
  return cpu.attribute("mode").as_string("custom");
}

std::optional<std::string> read_cpu_model(const pugi::xml_node& domain) {
  const pugi::xml_node cpu = domain.child("cpu");
  const std::string model = cpu.child("model").text().as_string();
  if (cpu_mode_of(cpu) != "custom" || model.empty()) return std::nullopt;
  return model;
}

// A custom <cpu> without a model (one that only lays out the topology) is QEMU's default CPU,
// which no mode names.
std::optional<std::string> read_cpu_mode(const pugi::xml_node& domain) {
  const pugi::xml_node cpu = domain.child("cpu");
  if (!cpu) return std::nullopt;
  const std::string mode = cpu_mode_of(cpu);
  if (mode == "custom" && !read_cpu_model(domain)) return std::nullopt;
  return mode;
}

// What each mode takes beside it: a custom CPU is matched exactly, the others are checked by
// nobody (libvirt's default for them) and have no model. migratable belongs to host-passthrough
// and maximum, which libvirt gives it again.
void write_cpu_mode(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node cpu = domain_parts::domain_child(domain, "cpu");
  if (read_cpu_mode(domain) == value) return;
  xml::set_attribute(cpu, "mode", value);
  cpu.remove_attribute("migratable");
  if (value == "custom") {
    xml::set_attribute(cpu, "match", "exact");
    cpu.remove_attribute("check");
    return;
  }
  cpu.remove_attribute("match");
  xml::set_attribute(cpu, "check", "none");
  xml::remove_children(cpu, "model");
}

// Written after cpu.mode (rows are written in key order), into the custom <cpu> it left.
void write_cpu_model(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node cpu = domain_parts::domain_child(domain, "cpu");
  pugi::xml_node model = cpu.child("model");
  if (!model) {
    model = cpu.prepend_child("model");
    model.append_attribute("fallback") = "allow";
  }
  xml::set_text(model, value);
}

// The names of <cpu>'s features of one policy, sorted: libvirt's order is no change.
template <const char* kPolicy>
std::optional<std::string> read_features(const pugi::xml_node& domain) {
  std::vector<std::string> names;
  for (const pugi::xml_node feature : domain.child("cpu").children("feature"))
    if (std::string(feature.attribute("policy").as_string()) == kPolicy)
      names.push_back(feature.attribute("name").as_string());
  if (names.empty()) return std::nullopt;
  return joined_names(names);
}

// The policy's features become the list's; a listed one another policy had moves here, as
// libvirt refuses a feature named twice. Other policies' features stay.
template <const char* kPolicy>
void write_features(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node cpu = domain_parts::domain_child(domain, "cpu");
  const std::vector<std::string> names = names_of(value);
  for (pugi::xml_node feature = cpu.child("feature"); feature;) {
    const pugi::xml_node next = feature.next_sibling("feature");
    const bool listed =
        std::find(names.begin(), names.end(), feature.attribute("name").as_string()) != names.end();
    if (listed || std::string(feature.attribute("policy").as_string()) == kPolicy)
      cpu.remove_child(feature);
    feature = next;
  }
  for (const std::string& name : names) {
    pugi::xml_node feature = cpu.append_child("feature");
    feature.append_attribute("policy") = kPolicy;
    feature.append_attribute("name") = name.c_str();
  }
}

constexpr char kRequire[] = "require";
constexpr char kDisable[] = "disable";

bool hyperv_custom(const pugi::xml_node& domain) {
  return lists_enlightenments(domain.child("features").child("hyperv"));
}

void set_hyperv_custom(pugi::xml_node domain) {
  xml::set_attribute(domain.child("features").child("hyperv"), "mode", "custom");
}

template <const char* kPath>
std::optional<std::string> read_hyperv(const pugi::xml_node& domain) {
  if (!hyperv_custom(domain)) return std::nullopt;
  return read_switch<kPath, kOnOff>(domain);
}

template <const char* kPath>
void write_hyperv(pugi::xml_node domain, const std::string& value) {
  write_switch<kPath, kOnOff>(domain, value);
  set_hyperv_custom(domain);
}

// An enlightenment with a value (spinlocks' retries, vendor_id's value): the value when on.
template <const char* kElement, const char* kValue>
std::optional<std::string> read_hyperv_value(const pugi::xml_node& domain) {
  const pugi::xml_node element = domain.child("features").child("hyperv").child(kElement);
  const std::string value = element.attribute(kValue).as_string();
  if (!hyperv_custom(domain) || std::string(element.attribute("state").as_string()) != "on" ||
      value.empty())
    return std::nullopt;
  return value;
}

template <const char* kElement, const char* kValue>
void write_hyperv_value(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node features = domain_parts::domain_child(domain, "features");
  pugi::xml_node element = xml::child_or_append(xml::child_or_append(features, "hyperv"), kElement);
  xml::set_attribute(element, "state", "on");
  xml::set_attribute(element, kValue, value);
  set_hyperv_custom(domain);
}

constexpr char kKvmHidden[] = "features/kvm/hidden/@state";
constexpr char kVmport[] = "features/vmport/@state";
constexpr char kIoapic[] = "features/ioapic/@driver";
constexpr char kRelaxed[] = "features/hyperv/relaxed/@state";
constexpr char kVapic[] = "features/hyperv/vapic/@state";
constexpr char kSpinlocks[] = "spinlocks";
constexpr char kRetries[] = "retries";
constexpr char kVpindex[] = "features/hyperv/vpindex/@state";
constexpr char kRuntime[] = "features/hyperv/runtime/@state";
constexpr char kSynic[] = "features/hyperv/synic/@state";
constexpr char kStimer[] = "features/hyperv/stimer/@state";
constexpr char kReset[] = "features/hyperv/reset/@state";
constexpr char kVendorId[] = "vendor_id";
constexpr char kValue[] = "value";
constexpr char kFrequencies[] = "features/hyperv/frequencies/@state";
constexpr char kReenlightenment[] = "features/hyperv/reenlightenment/@state";
constexpr char kTlbflush[] = "features/hyperv/tlbflush/@state";
constexpr char kIpi[] = "features/hyperv/ipi/@state";
constexpr char kClockOffset[] = "clock/@offset";
constexpr char kRtcTickpolicy[] = "clock/timer[@name='rtc']/@tickpolicy";
constexpr char kPitTickpolicy[] = "clock/timer[@name='pit']/@tickpolicy";
constexpr char kHpet[] = "clock/timer[@name='hpet']/@present";
constexpr char kHypervclock[] = "clock/timer[@name='hypervclock']/@present";
constexpr char kSuspendToMem[] = "pm/suspend-to-mem/@enabled";
constexpr char kSuspendToDisk[] = "pm/suspend-to-disk/@enabled";

// The clock's rows read a clock at an offset clock.offset takes.
template <const char* kPath>
std::optional<std::string> read_clock(const pugi::xml_node& domain) {
  if (!is_plain_clock(domain.child("clock"))) return std::nullopt;
  return read_value<kPath>(domain);
}

template <const char* kPath, const SwitchWords& kWords>
std::optional<std::string> read_clock_switch(const pugi::xml_node& domain) {
  if (!is_plain_clock(domain.child("clock"))) return std::nullopt;
  return read_switch<kPath, kWords>(domain);
}

// The attributes only the other offsets take go with them.
void write_clock_offset(pugi::xml_node domain, const std::string& value) {
  write_value<kClockOffset>(domain, value);
  pugi::xml_node clock = domain.child("clock");
  clock.remove_attribute("timezone");
  clock.remove_attribute("basis");
}

// ---- The TPM: one <tpm>, its rows each owning a part of it ------------------------------------

constexpr char kTpmModel[] = "devices/tpm/@model";
constexpr char kTpmBackend[] = "devices/tpm/backend/@type";
constexpr char kTpmVersion[] = "devices/tpm/backend/@version";
constexpr char kTpmDevice[] = "devices/tpm/backend/device/@path";

// What libvirt 9 fills in for a <tpm> that leaves them out.
constexpr char kLibvirtTpmModel[] = "tpm-tis";
constexpr char kLibvirtTpmBackend[] = "emulator";

std::string tpm_backend_of(const pugi::xml_node& domain) {
  return domain.child("devices").child("tpm").child("backend").attribute("type").as_string(
      kLibvirtTpmBackend);
}

// A part every <tpm> has, libvirt's default where it is left out.
template <const char* kPath, const char* kDefault>
std::optional<std::string> read_tpm(const pugi::xml_node& domain) {
  if (!domain.child("devices").child("tpm")) return std::nullopt;
  return read_value<kPath>(domain).value_or(kDefault);
}

// Each backend's own part: the version is the emulator's, the device passthrough's.
std::optional<std::string> read_tpm_version(const pugi::xml_node& domain) {
  if (tpm_backend_of(domain) != "emulator") return std::nullopt;
  return read_value<kTpmVersion>(domain);
}

std::optional<std::string> read_tpm_device(const pugi::xml_node& domain) {
  if (tpm_backend_of(domain) != "passthrough") return std::nullopt;
  return read_value<kTpmDevice>(domain);
}

// The guest's <tpm>; one virtform adds is an emulated TPM 2.0 on the CRB interface, what
// Windows 11 asks for, until the rows written after it say otherwise.
pugi::xml_node tpm_element(pugi::xml_node domain) {
  pugi::xml_node devices = devices_of(domain);
  if (pugi::xml_node tpm = devices.child("tpm")) return tpm;
  pugi::xml_node tpm = devices.append_child("tpm");
  tpm.append_attribute("model") = "tpm-crb";
  pugi::xml_node backend = tpm.append_child("backend");
  backend.append_attribute("type") = "emulator";
  backend.append_attribute("version") = "2.0";
  return tpm;
}

void write_tpm_model(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node tpm = tpm_element(domain);
  xml::set_attribute(tpm, "model", value);
  // The CRB interface is TPM 2.0's only.
  pugi::xml_node backend = tpm.child("backend");
  if (value == "tpm-crb" && tpm_backend_of(domain) == "emulator")
    xml::set_attribute(backend, "version", "2.0");
}

// Another backend drops what only the old one had: an emulator's version, state and PCR banks,
// a passthrough's device. The emulator's state itself stays on the host.
void write_tpm_backend(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node backend = xml::child_or_append(tpm_element(domain), "backend");
  if (value == backend.attribute("type").as_string()) return;
  backend.remove_children();
  while (pugi::xml_attribute attribute = backend.first_attribute())
    backend.remove_attribute(attribute);
  backend.append_attribute("type") = value.c_str();
  if (value == "emulator") backend.append_attribute("version") = "2.0";
}

void write_tpm_version(pugi::xml_node domain, const std::string& value) {
  tpm_element(domain);
  write_value<kTpmVersion>(domain, value);
}

void write_tpm_device(pugi::xml_node domain, const std::string& value) {
  tpm_element(domain);
  write_value<kTpmDevice>(domain, value);
}

constexpr char kMemorySource[] = "memoryBacking/source/@type";
constexpr char kMemoryAccess[] = "memoryBacking/access/@mode";

// <cputune>'s pins of one kind (<vcpupin vcpu>, <iothreadpin iothread>), by the number each
// names from `first`, as a cpusets row's value; nothing when there are none, or when they skip a
// number (the row lists every pin from the first in order).
template <const char* Element, const char* Number, unsigned First>
std::optional<std::string> read_pins(const pugi::xml_node& domain) {
  std::map<unsigned, std::string> pins;
  for (pugi::xml_node pin : domain.child("cputune").children(Element)) {
    const auto cpus = parse_cpuset(pin.attribute("cpuset").as_string());
    if (cpus) pins[pin.attribute(Number).as_uint()] = cpuset_text(*cpus);
  }
  if (pins.empty() || pins.begin()->first != First ||
      pins.rbegin()->first != First + pins.size() - 1)
    return std::nullopt;
  std::vector<std::string> sets;
  for (const auto& [number, set] : pins) sets.push_back(set);
  return joined_cpusets(sets);
}

// A <cputune> left with nothing in it says nothing: it goes too.
void drop_empty_cputune(pugi::xml_node domain) {
  pugi::xml_node cputune = domain.child("cputune");
  if (cputune && !cputune.first_child() && !cputune.first_attribute()) domain.remove_child(cputune);
}

template <const char* Element, const char* Number, unsigned First>
void write_pins(pugi::xml_node domain, const std::string& value) {
  if (read_pins<Element, Number, First>(domain) == value) return;
  xml::remove_children(domain.child("cputune"), Element);
  const std::vector<std::string> sets = cpusets_of(value);
  pugi::xml_node cputune =
      sets.empty() ? pugi::xml_node() : domain_parts::domain_child(domain, "cputune");
  for (std::size_t i = 0; i < sets.size(); ++i) {
    pugi::xml_node pin = cputune.append_child(Element);
    pin.append_attribute(Number) = static_cast<unsigned>(First + i);
    pin.append_attribute("cpuset") = sets[i].c_str();
  }
  drop_empty_cputune(domain);
}

std::optional<std::string> read_emulator_pin(const pugi::xml_node& domain) {
  const auto cpus =
      parse_cpuset(domain.child("cputune").child("emulatorpin").attribute("cpuset").as_string());
  if (!cpus) return std::nullopt;
  return cpuset_text(*cpus);
}

void write_emulator_pin(pugi::xml_node domain, const std::string& value) {
  if (read_emulator_pin(domain) == value) return;
  pugi::xml_node cputune = domain_parts::domain_child(domain, "cputune");
  xml::set_attribute(xml::child_or_append(cputune, "emulatorpin"), "cpuset", value);
}

// libvirt's CPU map of a set: bit N of byte N / 8 for host CPU N.
std::vector<unsigned char> cpu_map(const std::string& set) {
  const std::set<unsigned> cpus = parse_cpuset(set).value_or(std::set<unsigned>{});
  std::vector<unsigned char> map(cpus.empty() ? 1 : *cpus.rbegin() / 8 + 1, 0);
  for (unsigned cpu : cpus) map[cpu / 8] |= static_cast<unsigned char>(1U << (cpu % 8));
  return map;
}

// Each pin of a cpusets row, in order, through `pin` (number, map, length, flags).
template <typename Pin>
int pin_each_live(const std::string& value, unsigned first, Pin pin) {
  const std::vector<std::string> sets = cpusets_of(value);
  for (std::size_t i = 0; i < sets.size(); ++i) {
    std::vector<unsigned char> map = cpu_map(sets[i]);
    if (pin(static_cast<unsigned>(first + i), map.data(), static_cast<int>(map.size())) < 0)
      return -1;
  }
  return 0;
}

int pin_vcpus_live(virDomainPtr domain, const std::string& value) {
  return pin_each_live(value, 0, [&](unsigned vcpu, unsigned char* map, int length) {
    return virDomainPinVcpuFlags(domain, vcpu, map, length, VIR_DOMAIN_AFFECT_LIVE);
  });
}

int pin_iothreads_live(virDomainPtr domain, const std::string& value) {
  return pin_each_live(value, 1, [&](unsigned thread, unsigned char* map, int length) {
    return virDomainPinIOThread(domain, thread, map, length, VIR_DOMAIN_AFFECT_LIVE);
  });
}

int pin_emulator_live(virDomainPtr domain, const std::string& value) {
  std::vector<unsigned char> map = cpu_map(value);
  return virDomainPinEmulator(domain, map.data(), static_cast<int>(map.size()),
                              VIR_DOMAIN_AFFECT_LIVE);
}

constexpr char kVcpuPin[] = "vcpupin";
constexpr char kVcpuNumber[] = "vcpu";
constexpr char kIothreadPin[] = "iothreadpin";
constexpr char kIothreadNumber[] = "iothread";

// <hugepages/> alone takes the host's default size; a <page> names one, in any unit libvirt
// reads (it writes KiB back).
std::optional<std::string> read_hugepages(const pugi::xml_node& domain) {
  pugi::xml_node hugepages = domain.child("memoryBacking").child("hugepages");
  if (!hugepages) return "none";
  pugi::xml_node page = hugepages.child("page");
  if (!page) return "default";
  const auto kib = parse_size_kib(std::string(page.attribute("size").as_string()) +
                                  page.attribute("unit").as_string("KiB"));
  return kib ? whole_unit_size(*kib) : "default";
}

void write_hugepages(pugi::xml_node domain, const std::string& value) {
  if (read_hugepages(domain) == value) return;  // a nodeset another tool gave stays
  pugi::xml_node backing = domain.child("memoryBacking");
  xml::remove_children(backing, "hugepages");
  if (value == "none") {
    if (backing && !backing.first_child()) domain.remove_child(backing);
    return;
  }
  pugi::xml_node hugepages =
      domain_parts::domain_child(domain, "memoryBacking").prepend_child("hugepages");
  if (value == "default") return;
  pugi::xml_node page = hugepages.append_child("page");
  page.append_attribute("size") = std::to_string(hugepage_kib(value)).c_str();
  page.append_attribute("unit") = "KiB";
}

std::optional<std::string> read_locked(const pugi::xml_node& domain) {
  return domain.child("memoryBacking").child("locked") ? "true" : "false";
}

// A <memoryBacking> left with nothing in it says nothing: it goes too.
void write_locked(pugi::xml_node domain, const std::string& value) {
  if (value == "true") {
    xml::child_or_append(domain_parts::domain_child(domain, "memoryBacking"), "locked");
    return;
  }
  pugi::xml_node backing = domain.child("memoryBacking");
  xml::remove_children(backing, "locked");
  if (backing && !backing.first_child()) domain.remove_child(backing);
}

constexpr std::array<DomainField, 65> kFields = {{
    {"title", "title", child_text<kTitle>, set_child_text<kTitle>, set_title_live},
    {"description", "description", child_text<kDescription>, set_child_text<kDescription>,
     set_description_live},
    {"on_crash", "on_crash", child_text<kOnCrash>, set_child_text<kOnCrash>, nullptr},
    {"boot_menu", "os/bootmenu/@enable", read_boot_menu, write_boot_menu, nullptr},
    {"boot_menu_timeout", kBootMenuTimeout, read_boot_menu_timeout, write_boot_menu_timeout,
     nullptr},
    {"on_poweroff", "on_poweroff", child_text<kOnPoweroff>, set_child_text<kOnPoweroff>,
     set_lifecycle_live<VIR_DOMAIN_LIFECYCLE_POWEROFF>},
    {"on_reboot", "on_reboot", child_text<kOnReboot>, set_child_text<kOnReboot>,
     set_lifecycle_live<VIR_DOMAIN_LIFECYCLE_REBOOT>},
    {"video", "devices/video", read_video, write_video, nullptr, is_first_video},
    {"video_vram", "devices/video", read_video_vram, write_video_vram, nullptr, is_first_video},
    {"video_heads", "devices/video", read_video_model<kHeads>, write_video_heads, nullptr,
     is_first_video},
    {"video_accel3d", "devices/video", read_video_accel3d, write_video_accel3d, nullptr,
     is_first_video},
    {"sound", "devices/sound", read_single<kSound>, write_single<kSound>, nullptr,
     is_first_of<kSound>},
    {"rng", "devices/rng", read_device<kRng>, write_device<kRng>, set_device_live<kRng>,
     is_urandom_rng},
    {"guest_agent", "devices/channel", read_device<kGuestAgentChannel>,
     write_device<kGuestAgentChannel>, set_device_live<kGuestAgentChannel>,
     is_channel_to<kGuestAgent>},
    {"spice_agent", "devices/channel", read_device<kSpiceAgentChannel>,
     write_device<kSpiceAgentChannel>, set_device_live<kSpiceAgentChannel>,
     is_channel_to<kSpiceAgent>},
    {"tablet", "devices/input", read_device<kTablet>, write_device<kTablet>, nullptr,
     is_usb_tablet},
    {"usb_controller", "devices/controller", read_usb_controller, write_usb_controller, nullptr,
     is_first_usb_controller},
    {"usb_redirect", "devices/redirdev", read_usb_redirect, write_usb_redirect, nullptr,
     is_spice_redirect},
    {"looking_glass", "devices/shmem", read_looking_glass, write_looking_glass, nullptr,
     is_looking_glass},
    {"balloon", "devices/memballoon", read_balloon, write_balloon, nullptr},
    {"watchdog", "devices/watchdog", read_single<kWatchdog>, write_single<kWatchdog>, nullptr,
     is_first_of<kWatchdog>},
    {"watchdog_action", "devices/watchdog", read_watchdog_action, write_watchdog_action, nullptr,
     is_first_of<kWatchdog>},
    {"kvm_hidden", kKvmHidden, read_switch<kKvmHidden, kOnOff>, write_switch<kKvmHidden, kOnOff>,
     nullptr},
    {"vmport", kVmport, read_switch<kVmport, kOnOff>, write_switch<kVmport, kOnOff>, nullptr},
    {"ioapic", kIoapic, read_value<kIoapic>, write_value<kIoapic>, nullptr},
    {"iothreads", "iothreads", child_text<kIothreads>, set_child_text<kIothreads>, nullptr},
    {"cpu.mode", "cpu/@mode", read_cpu_mode, write_cpu_mode, nullptr},
    {"cpu.model", "cpu/model", read_cpu_model, write_cpu_model, nullptr},
    {"cpu.sockets", kSockets, read_value<kSockets>, write_value<kSockets>, nullptr},
    {"cpu.dies", kDies, read_value<kDies>, write_value<kDies>, nullptr},
    {"cpu.cores", kCores, read_value<kCores>, write_value<kCores>, nullptr},
    {"cpu.threads", kThreads, read_value<kThreads>, write_value<kThreads>, nullptr},
    {"cpu.features.require", "cpu/feature[@policy='require']", read_features<kRequire>,
     write_features<kRequire>, nullptr},
    {"cpu.features.disable", "cpu/feature[@policy='disable']", read_features<kDisable>,
     write_features<kDisable>, nullptr},
    {"cpu.pinning.vcpus", "cputune/vcpupin", read_pins<kVcpuPin, kVcpuNumber, 0>,
     write_pins<kVcpuPin, kVcpuNumber, 0>, pin_vcpus_live},
    {"cpu.pinning.emulator", "cputune/emulatorpin", read_emulator_pin, write_emulator_pin,
     pin_emulator_live},
    {"cpu.pinning.iothreads", "cputune/iothreadpin", read_pins<kIothreadPin, kIothreadNumber, 1>,
     write_pins<kIothreadPin, kIothreadNumber, 1>, pin_iothreads_live},
    {"hyperv.relaxed", kRelaxed, read_hyperv<kRelaxed>, write_hyperv<kRelaxed>, nullptr},
    {"hyperv.vapic", kVapic, read_hyperv<kVapic>, write_hyperv<kVapic>, nullptr},
    {"hyperv.spinlocks", "features/hyperv/spinlocks", read_hyperv_value<kSpinlocks, kRetries>,
     write_hyperv_value<kSpinlocks, kRetries>, nullptr},
    {"hyperv.vpindex", kVpindex, read_hyperv<kVpindex>, write_hyperv<kVpindex>, nullptr},
    {"hyperv.runtime", kRuntime, read_hyperv<kRuntime>, write_hyperv<kRuntime>, nullptr},
    {"hyperv.synic", kSynic, read_hyperv<kSynic>, write_hyperv<kSynic>, nullptr},
    {"hyperv.stimer", kStimer, read_hyperv<kStimer>, write_hyperv<kStimer>, nullptr},
    {"hyperv.reset", kReset, read_hyperv<kReset>, write_hyperv<kReset>, nullptr},
    {"hyperv.vendor_id", "features/hyperv/vendor_id", read_hyperv_value<kVendorId, kValue>,
     write_hyperv_value<kVendorId, kValue>, nullptr},
    {"hyperv.frequencies", kFrequencies, read_hyperv<kFrequencies>, write_hyperv<kFrequencies>,
     nullptr},
    {"hyperv.reenlightenment", kReenlightenment, read_hyperv<kReenlightenment>,
     write_hyperv<kReenlightenment>, nullptr},
    {"hyperv.tlbflush", kTlbflush, read_hyperv<kTlbflush>, write_hyperv<kTlbflush>, nullptr},
    {"hyperv.ipi", kIpi, read_hyperv<kIpi>, write_hyperv<kIpi>, nullptr},
    {"clock.offset", kClockOffset, read_clock<kClockOffset>, write_clock_offset, nullptr},
    {"clock.rtc_tickpolicy", kRtcTickpolicy, read_clock<kRtcTickpolicy>,
     write_value<kRtcTickpolicy>, nullptr},
    {"clock.pit_tickpolicy", kPitTickpolicy, read_clock<kPitTickpolicy>,
     write_value<kPitTickpolicy>, nullptr},
    {"clock.hpet", kHpet, read_clock_switch<kHpet, kYesNo>, write_switch<kHpet, kYesNo>, nullptr},
    {"clock.hypervclock", kHypervclock, read_clock_switch<kHypervclock, kYesNo>,
     write_switch<kHypervclock, kYesNo>, nullptr},
    {"pm.suspend_to_mem", kSuspendToMem, read_switch<kSuspendToMem, kYesNo>,
     write_switch<kSuspendToMem, kYesNo>, nullptr},
    {"pm.suspend_to_disk", kSuspendToDisk, read_switch<kSuspendToDisk, kYesNo>,
     write_switch<kSuspendToDisk, kYesNo>, nullptr},
    {"tpm.model", kTpmModel, read_tpm<kTpmModel, kLibvirtTpmModel>, write_tpm_model, nullptr},
    {"tpm.backend", kTpmBackend, read_tpm<kTpmBackend, kLibvirtTpmBackend>, write_tpm_backend,
     nullptr},
    {"tpm.version", kTpmVersion, read_tpm_version, write_tpm_version, nullptr},
    {"tpm.device", kTpmDevice, read_tpm_device, write_tpm_device, nullptr},
    {"memory_backing.source", kMemorySource, read_value<kMemorySource>, write_value<kMemorySource>,
     nullptr},
    {"memory_backing.access", kMemoryAccess, read_value<kMemoryAccess>, write_value<kMemoryAccess>,
     nullptr},
    {"memory_backing.locked", "memoryBacking/locked", read_locked, write_locked, nullptr},
    {"memory_backing.hugepages", "memoryBacking/hugepages", read_hugepages, write_hugepages,
     nullptr},
}};

}  // namespace

std::span<const DomainField> domain_fields() {
  return kFields;
}

const DomainField* find_domain_field(std::string_view key) {
  const auto found = std::find_if(kFields.begin(), kFields.end(),
                                  [&](const DomainField& f) { return f.key == key; });
  return found == kFields.end() ? nullptr : &*found;
}

bool lists_enlightenments(const pugi::xml_node& hyperv) {
  return std::string(hyperv.attribute("mode").as_string("custom")) == "custom";
}

// An absent clock is libvirt's utc; a timezone or variable one is no value of clock.offset.
bool is_plain_clock(const pugi::xml_node& clock) {
  const std::string offset = clock.attribute("offset").as_string("utc");
  const auto offsets = find_vm_field("clock.offset")->choices;
  return std::find(offsets.begin(), offsets.end(), offset) != offsets.end();
}

void read_attributes(const pugi::xml_node& domain, Vm& vm) {
  for (const DomainField& field : kFields)
    if (auto value = field.read(domain)) vm.attributes[std::string(field.key)] = *value;
}

void take_out_undeclared_tpm(pugi::xml_node domain, const Vm& desired) {
  if (sets_table(desired, "tpm") || !domain_parts::records_tpm(domain)) return;
  pugi::xml_node devices = domain.child("devices");
  if (pugi::xml_node tpm = devices.child("tpm")) devices.remove_child(tpm);
}

void write_attributes(pugi::xml_node domain, const Vm& vm) {
  for (const auto& [key, value] : vm.attributes)
    if (const DomainField* field = find_domain_field(key)) field->write(domain, value);
}

}  // namespace virtform
