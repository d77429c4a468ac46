#pragma once
// The one merge of a repeatable device kind (disks, NICs, host devices, ...) into <devices>:
// which live elements are candidates, how the desired items pair with them, and how a paired
// element is updated and a new one appended. A new device kind is one DeviceCollection.

#include <cstddef>
#include <functional>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <vector>

namespace virtform {

// A live element the model reads, and what it reads there.
template <typename Item>
struct Candidate {
  pugi::xml_node element;
  Item item;
};

template <typename Item>
struct DeviceCollection {
  const char* element;  // its name under <devices>: "disk", "interface", ...
  // The model's reading of a live element. Only what it reads is a candidate: an element the
  // model cannot express (a SCSI host device, a 9p filesystem) is never paired nor removed.
  std::optional<Item> (*read)(const pugi::xml_node& element, std::string* why_not);
  // For each desired item, the index of its candidate, or -1 for a new one.
  std::vector<int> (*pair)(const std::vector<Item>& desired,
                           const std::vector<Candidate<Item>>& candidates);
  std::function<void(pugi::xml_node element, const Item& desired)> update;
  std::function<void(pugi::xml_node devices, const Item& desired)> append;
};

template <typename Item>
std::vector<Candidate<Item>> candidates(const pugi::xml_node& devices,
                                        const DeviceCollection<Item>& kind) {
  std::vector<Candidate<Item>> found;
  for (pugi::xml_node element : devices.children(kind.element))
    if (auto item = kind.read(element, nullptr)) found.push_back({element, std::move(*item)});
  return found;
}

// Pairs each desired item with the first unpaired candidate that is the same device (`same`:
// its identity, such as a disk's source), in desired order.
template <typename Item, bool (*same)(const pugi::xml_node& element, const Item& item)>
std::vector<int> pair_by_identity(const std::vector<Item>& desired,
                                  const std::vector<Candidate<Item>>& candidates) {
  std::vector<int> pairs(desired.size(), -1);
  std::vector<bool> taken(candidates.size(), false);
  for (std::size_t d = 0; d < desired.size(); ++d) {
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      if (taken[c] || !same(candidates[c].element, desired[d])) continue;
      taken[c] = true;
      pairs[d] = static_cast<int>(c);
      break;
    }
  }
  return pairs;
}

// Brings the kind's elements under `devices` to `desired`: unpaired candidates are removed
// first, so what they held (a disk's target name) is free for what is added; then each desired
// item, in order, updates its candidate or is appended.
template <typename Item>
void merge_collection(pugi::xml_node devices, const DeviceCollection<Item>& kind,
                      const std::vector<Item>& desired) {
  const std::vector<Candidate<Item>> live = candidates(devices, kind);
  const std::vector<int> pairs = kind.pair(desired, live);
  std::vector<bool> paired(live.size(), false);
  for (int c : pairs)
    if (c >= 0) paired[static_cast<std::size_t>(c)] = true;
  for (std::size_t c = 0; c < live.size(); ++c)
    if (!paired[c]) devices.remove_child(live[c].element);
  for (std::size_t d = 0; d < desired.size(); ++d) {
    if (pairs[d] < 0) {
      kind.append(devices, desired[d]);
    } else {
      kind.update(live[static_cast<std::size_t>(pairs[d])].element, desired[d]);
    }
  }
}

}  // namespace virtform
