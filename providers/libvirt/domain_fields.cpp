#include "providers/libvirt/domain_fields.h"

#include <algorithm>
#include <array>

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

void write_boot_menu(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node menu =
      domain_parts::os_child(domain_parts::domain_child(domain, "os"), "bootmenu");
  xml::set_attribute(menu, "enable", value == "true" ? "yes" : "no");
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

constexpr std::array<DomainField, 25> kFields = {{
    {"title", "title", child_text<kTitle>, set_child_text<kTitle>, set_title_live},
    {"description", "description", child_text<kDescription>, set_child_text<kDescription>,
     set_description_live},
    {"on_crash", "on_crash", child_text<kOnCrash>, set_child_text<kOnCrash>, nullptr},
    {"boot_menu", "os/bootmenu", read_boot_menu, write_boot_menu, nullptr},
    {"kvm_hidden", kKvmHidden, read_switch<kKvmHidden, kOnOff>, write_switch<kKvmHidden, kOnOff>,
     nullptr},
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

void write_attributes(pugi::xml_node domain, const Vm& vm) {
  for (const auto& [key, value] : vm.attributes)
    if (const DomainField* field = find_domain_field(key)) field->write(domain, value);
}

}  // namespace virtform
