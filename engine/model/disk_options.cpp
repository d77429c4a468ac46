#include "engine/model/disk_options.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "engine/model/vm.h"

namespace virtform {
namespace {

// domaincommon.rng's discard and detect_zeroes values.
constexpr std::array<std::string_view, 2> kDiscardModes = {"unmap", "ignore"};
constexpr std::array<std::string_view, 3> kZeroDetection = {"off", "on", "unmap"};

// Where libvirt's QEMU driver takes each: a WWN only on SCSI (it refuses one on SATA), a rotation
// rate on SCSI and SATA, an I/O thread only for virtio-blk (virtio-scsi's is its controller's).
constexpr std::array<DiskBus, 1> kScsiOnly = {DiskBus::scsi};
constexpr std::array<DiskBus, 2> kScsiAndSata = {DiskBus::scsi, DiskBus::sata};
constexpr std::array<DiskBus, 1> kVirtioOnly = {DiskBus::virtio};

// QEMU gives a SCSI disk's serial 36 characters; a virtio-blk ID and an ATA serial hold 20, and
// QEMU cuts a longer one short without a word.
constexpr std::size_t kScsiSerialLength = 36;
constexpr std::size_t kSerialLength = 20;

// The WWN digits: libvirt takes an optional "0x" before them.
std::string_view wwn_digits(std::string_view value) {
  return value.starts_with("0x") || value.starts_with("0X") ? value.substr(2) : value;
}

std::string option_or(const Disk& disk, const std::string& key, const std::string& otherwise) {
  const auto found = disk.options.find(key);
  return found == disk.options.end() ? otherwise : found->second;
}

// QEMU frees the zeroes it finds only where the disk passes discards on.
std::string detect_zeroes_conflict(const Vm&, const Disk& disk, const std::string& value) {
  if (value != "unmap" || option_or(disk, "discard", "") == "unmap") return "";
  return "detect_zeroes = \"unmap\" needs discard = \"unmap\" on the same disk: QEMU frees the "
         "zeroes it finds only where discards reach the image; set discard = \"unmap\", or "
         "detect_zeroes = \"on\"";
}

// libvirt refuses a serial outside domaincommon.rng's characters ("contains unsafe characters").
std::string serial_conflict(const Vm&, const Disk& disk, const std::string& value) {
  const bool safe = std::all_of(value.begin(), value.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '+' || c == '-' || c == ' ';
  });
  if (!safe)
    return "serial \"" + value +
           "\" holds a character libvirt refuses: use letters, digits, spaces and _ . + -";
  if (disk.bus != DiskBus::scsi && value.size() > kSerialLength)
    return "serial must be at most " + std::to_string(kSerialLength) + " characters on the " +
           to_string(disk.bus) + " bus, which QEMU cuts a longer one to; got " +
           std::to_string(value.size()) + " (a scsi disk takes " +
           std::to_string(kScsiSerialLength) + ")";
  return "";
}

std::string wwn_conflict(const Vm&, const Disk&, const std::string& value) {
  const std::string_view digits = wwn_digits(value);
  const bool hex = digits.size() == 16 && std::all_of(digits.begin(), digits.end(), [](char c) {
                     return std::isxdigit(static_cast<unsigned char>(c));
                   });
  if (hex) return "";
  return "wwn must be 16 hex digits, such as \"5000c50015ea71ac\"; got \"" + value + "\"";
}

// libvirt refuses a disk on an I/O thread the guest does not have. Where the VM leaves its
// iothreads to the domain, libvirt checks at apply.
std::string iothread_conflict(const Vm& vm, const Disk&, const std::string& value) {
  const auto threads = vm.attributes.find("iothreads");
  if (threads == vm.attributes.end() || std::stoll(threads->second) >= std::stoll(value)) return "";
  return "iothread = " + value +
         " names an I/O thread the guest does not have (iothreads = " + threads->second +
         "): set iothreads = " + value + " or more in [vm." + vm.key + "], or a lower iothread";
}

// What QEMU tells the guest: 1 is a solid-state disk, 1025 to 65534 an RPM; the rest is
// reserved by the SCSI and ATA standards.
std::string rotation_rate_conflict(const Vm&, const Disk&, const std::string& value) {
  const long long rate = std::stoll(value);
  if (rate == 1 || rate >= 1025) return "";
  return "rotation_rate must be 1 (a solid-state disk) or an RPM from 1025 to 65534; got " + value;
}

constexpr std::array<DiskOption, 6> kOptions = {{
    {.field = {.key = "discard",
               .kind = FieldKind::choice,
               .choices = kDiscardModes,
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "what the disk does with the guest's discards, TRIM (`<driver "
                          "discard>`): `unmap` passes them on and frees their space in the image "
                          "or device, `ignore` drops them"}},
    {.field = {.key = "detect_zeroes",
               .kind = FieldKind::choice,
               .choices = kZeroDetection,
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "whether QEMU looks for writes of zeroes (`<driver detect_zeroes>`): "
                          "`off`, `on`, or `unmap`, which frees their space and needs "
                          "`discard = \"unmap\"`"},
     .conflict = detect_zeroes_conflict},
    {.field = {.key = "serial",
               .kind = FieldKind::line,
               .choices = {},
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "the serial number the guest sees (`<serial>`): letters, digits, spaces "
                          "and `_ . + -`, at most 20 characters (36 on `scsi`)",
               .max = kScsiSerialLength},
     .conflict = serial_conflict},
    {.field = {.key = "wwn",
               .kind = FieldKind::line,
               .choices = {},
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "`scsi` only: the disk's World Wide Name (`<wwn>`), 16 hex digits, as "
                          "the guest's `/dev/disk/by-id/wwn-0x...` names it"},
     .buses = kScsiOnly,
     .conflict = wwn_conflict},
    {.field = {.key = "iothread",
               .kind = FieldKind::integer,
               .choices = {},
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "`virtio` only: the I/O thread that serves the disk, from 1 "
                          "(`<driver iothread>`); the guest needs that many (`<iothreads>`)",
               .min = 1,
               .max = 65535},
     .buses = kVirtioOnly,
     .conflict = iothread_conflict},
    {.field = {.key = "rotation_rate",
               .kind = FieldKind::integer,
               .choices = {},
               .timing = FieldTiming::next_boot,
               .unset = "",
               .meaning = "`scsi` and `sata` only: the disk's speed as the guest is told it "
                          "(`<target rotation_rate>`): `1` for a solid-state disk, or its RPM "
                          "from 1025 to 65534",
               .min = 1,
               .max = 65534},
     .buses = kScsiAndSata,
     .conflict = rotation_rate_conflict},
}};

}  // namespace

std::span<const DiskOption> disk_options() {
  return kOptions;
}

const DiskOption* find_disk_option(std::string_view key) {
  const auto found = std::find_if(kOptions.begin(), kOptions.end(),
                                  [&](const DiskOption& o) { return o.field.key == key; });
  return found == kOptions.end() ? nullptr : &*found;
}

bool takes_option(const DiskOption& option, DiskBus bus) {
  return option.buses.empty() ||
         std::find(option.buses.begin(), option.buses.end(), bus) != option.buses.end();
}

std::string canonical_option(const DiskOption& option, const std::string& value) {
  if (option.field.key != "wwn") return value;
  std::string digits(wwn_digits(value));
  std::transform(digits.begin(), digits.end(), digits.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return digits;
}

}  // namespace virtform
