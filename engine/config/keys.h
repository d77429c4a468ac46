#pragma once
// The configuration's vocabulary: which keys each table accepts, and the nearest known key for
// a misspelt one.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace virtform::keys {

// Top level: [loader.X] and [vm.X].
extern const std::span<const std::string_view> kTopLevel;
// [loader.X]
extern const std::span<const std::string_view> kLoader;
// [vm.X]
extern const std::span<const std::string_view> kVm;
// [vm.X.boot]
extern const std::span<const std::string_view> kBoot;
// [[vm.X.disk]]
extern const std::span<const std::string_view> kDisk;
// [[vm.X.nic]]
extern const std::span<const std::string_view> kNic;
// [vm.X.graphics]
extern const std::span<const std::string_view> kGraphics;
// [vm.X.serial]
extern const std::span<const std::string_view> kSerial;
// [[vm.X.pci]]
extern const std::span<const std::string_view> kPci;
extern const std::span<const std::string_view> kDsm;
// [[vm.X.xml]]
extern const std::span<const std::string_view> kXml;
// [[vm.X.usb]]
extern const std::span<const std::string_view> kUsb;
// [[vm.X.input]]
extern const std::span<const std::string_view> kInput;
// [[vm.X.mdev]]
extern const std::span<const std::string_view> kMdev;
// [[vm.X.share]]
extern const std::span<const std::string_view> kShare;

// [vm.X.hyperv], [vm.X.clock], ...: the sub-table of attribute rows (vm_fields.h) named `table`.
std::span<const std::string_view> attribute_table(std::string_view table);

// Edits (insert, delete, substitute, swap two neighbours) turning one word into the other.
std::size_t edit_distance(std::string_view from, std::string_view to);

// The candidate closest to `word`, if it is close enough to be what was meant: a typo, not a
// different word. Ties go to the earlier candidate.
std::optional<std::string> nearest(std::string_view word,
                                   std::span<const std::string_view> candidates);

}  // namespace virtform::keys
