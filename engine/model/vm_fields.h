#pragma once
// VM attributes described once. Each row is all the engine needs of an attribute: its TOML key
// and value kind (read by vm_reader), when a running guest takes a change (diff), and its
// documentation. Values live in Vm::attributes as canonical text, absent when the configuration
// leaves the attribute alone, so the model, the plan's JSON and import's TOML carry every row
// without code of their own. The libvirt provider's matching table (providers/libvirt/
// domain_fields.cpp) reads and writes each one in domain XML.
//
// A row's key may name a sub-table of [vm.X]: "hyperv.relaxed" is `relaxed` in [vm.X.hyperv]
// (TOML's own dotted key for it), and the plans, the model and the JSON use it so; a sub-table
// may have one of its own ("cpu.features.require" is `require` in [vm.X.cpu.features]).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace virtform {

struct Vm;

enum class FieldKind {
  text,     // any non-empty string
  line,     // a non-empty string without line breaks
  choice,   // one of `choices`
  boolean,  // "true" or "false"
  integer,  // a whole number from `min` to `max`, in decimal
  names,    // a non-empty list of names (lower-case letters, digits, '-', '_', '.'), each once;
            // kept sorted and joined by ", ", so that the order they are given in is no change
  cpusets,  // a non-empty list of sets of host CPUs ("2", "0-3,8"), one for each vCPU or I/O
            // thread in their order, kept in it and joined by "; "
};

// When a running guest takes a change to the attribute: now, through libvirt's live API, or
// when it next boots (a restart, where allowed).
enum class FieldTiming { live, next_boot };

struct VmField {
  std::string_view key;  // in [vm.X], and the field name in plans
  FieldKind kind;
  std::span<const std::string_view> choices;  // for FieldKind::choice
  FieldTiming timing;
  // What a domain has when nothing sets it ("" for nothing): import leaves the key out then.
  std::string_view unset;
  std::string_view meaning;  // docs/configuration.md's text for the key, word for word
  // A rule across keys, checked once the whole [vm.X] is read: what is wrong with `value` in
  // `vm` and how to fix it, or "" when it holds. nullptr: no such rule.
  std::string (*conflict)(const Vm& vm, const std::string& value) = nullptr;
  // For a live row whose device only some running guests can take: whether `running` takes
  // `value` now. nullptr: every running guest does.
  bool (*takes_live)(const std::string& value, const Vm& running) = nullptr;
  // An integer's bounds; for text and line, `max` is the longest value in characters (0: any).
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::string_view refused = "";  // characters a text may not hold
  // Like `conflict`, for a value libvirt defines but that may keep the guest from starting: a
  // warning, so that a definition import wrote plans as it is.
  std::string (*caution)(const Vm& vm, const std::string& value) = nullptr;
  // For a text or line row whose values have a form of their own: the canonical text of one, or
  // nothing when it is not of that form, which `form` describes ("a resolution such as ...").
  std::optional<std::string> (*canonical)(const std::string& text) = nullptr;
  std::string_view form = "";
  // libvirt writes it otherwise in a running guest's definition (a host-model CPU becomes the
  // model and features it stands for), which then cannot tell whether the guest booted it.
  bool expanded_when_running = false;
};

// Whether the running guest takes the row's value now (the row is live and the guest can).
bool takes_live(const VmField& field, const std::string& value, const Vm& running);

// A FieldKind::names value as its names, and names as such a value (sorted).
std::vector<std::string> names_of(const std::string& value);
std::string joined_names(std::vector<std::string> names);

// Every table-driven attribute, in the order plans show them.
std::span<const VmField> vm_fields();
const VmField* find_vm_field(std::string_view key);

// The sub-table a row's key lives in ("hyperv" for "hyperv.relaxed", "cpu.features" for
// "cpu.features.require"), "" for [vm.X] itself.
std::string_view field_table(const VmField& field);
// The key within that table ("relaxed").
std::string_view field_name(const VmField& field);
// The sub-tables the rows use, in row order.
std::span<const std::string_view> field_tables();
// Whether `vm` sets a row of the sub-table `table`.
bool sets_table(const Vm& vm, std::string_view table);

// A named set of rows' values that a sub-table's `preset` key turns on. They are defaults: a
// key the table sets itself wins.
struct FieldPreset {
  std::string_view table;  // "hyperv": `preset = "windows"` in [vm.X.hyperv]
  std::string_view name;
  std::span<const std::pair<std::string_view, std::string_view>> values;  // row key, value
  std::string_view meaning;  // docs/configuration.md's text for the preset, word for word
};
std::span<const FieldPreset> field_presets();

// Rows libvirt takes only together (a <topology>'s sockets, dies, cores and threads): once one of
// a group is set, the others are their `unset` value rather than left alone.
std::span<const std::span<const std::string_view>> field_groups();

// A boolean row that, when "true", needs another boolean row "true" too: what QEMU refuses to
// start a guest without.
struct FieldNeed {
  std::string_view key;
  std::string_view needs;
};
std::span<const FieldNeed> field_needs();

// A FieldKind::cpusets value as its sets ("0-3,8"), in order, and such sets as a value.
std::vector<std::string> cpusets_of(const std::string& value);
std::string joined_cpusets(const std::vector<std::string>& sets);

// memory_backing.hugepages: a page size in KiB from its canonical text (values.h's
// whole_unit_size); 0 for "default" and "none", which name no size.
std::uint64_t hugepage_kib(const std::string& value);

}  // namespace virtform
