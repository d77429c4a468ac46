#include "engine/plan/disk_layout.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace virtform {

namespace {

using Place = std::pair<unsigned, unsigned>;  // controller, unit

// The loader's unit on controller 0: an AHCI controller's last port; on scsi the last unit that
// every SCSI controller model has, lsilogic's seven included.
constexpr unsigned kScsiLoaderUnit = 6;

unsigned units_per_controller(DiskBus bus) {
  return bus == DiskBus::sata ? kSataPorts : kScsiUnits;
}

unsigned loader_unit(DiskBus bus) {
  return bus == DiskBus::sata ? kSataPorts - 1 : kScsiLoaderUnit;
}

bool is_loader(const Disk& disk) {
  return !disk.loader.empty();
}

std::optional<Place> place_of(const Disk& disk) {
  if (!disk.controller || !disk.unit) return std::nullopt;
  return Place{*disk.controller, *disk.unit};
}

void put(Disk& disk, Place place) {
  disk.controller = place.first;
  disk.unit = place.second;
}

// The places of one bus of one guest, taken in the order of the rules in disk_layout.h.
class BusLayout {
 public:
  BusLayout(DiskBus bus, Vm& vm, const LiveDomain* live) : bus_(bus), live_(live) {
    for (Disk& disk : vm.disks)
      if (disk.bus == bus) disks_.push_back(&disk);
    for (std::size_t i = 0; i < vm.cdroms.size(); ++i) {
      if (vm.cdroms[i].bus != bus) continue;
      disks_.push_back(&vm.cdroms[i]);
      cdrom_index_[&vm.cdroms[i]] = i;
    }
  }

  void lay_out(const Vm& desired) {
    hold_pins();
    if (live_) hold_others(desired);
    if (live_) keep_live_places();
    for (Disk* disk : unplaced())
      if (is_loader(*disk)) put(*disk, take(loader_place()));
    // A new disk may be plugged into the running guest at once: not where it still has one.
    if (live_ && live_->booted) {
      for (const Disk& running : live_->booted->disks) hold_if_on_bus(running);
      for (const Disk& running : live_->booted->cdroms) hold_if_on_bus(running);
    }
    for (Disk* disk : unplaced()) put(*disk, take(first_free(disk->controller)));
  }

 private:
  void hold_pins() {
    for (Disk* disk : disks_)
      if (auto place = place_of(*disk)) taken_.insert(*place);
  }

  // Places the config does not own but cannot use: disks virtform does not express, and disks
  // the running guest still has although the config removed them.
  void hold_others(const Vm& desired) {
    for (const Disk& other : live_->unexpressed_disks) hold_if_on_bus(other);
    if (!live_->booted) return;
    for (const Disk& running : live_->booted->disks)
      if (!desired.find_disk(running.source)) hold_if_on_bus(running);
    const std::vector<Disk>& drives = live_->booted->cdroms;
    for (std::size_t i = desired.cdroms.size(); i < drives.size(); ++i) hold_if_on_bus(drives[i]);
  }

  // What the domain has of a desired disk: the disk of its source, or the CD-ROM drive of its
  // place in the order of drives.
  const Disk* live_counterpart(const Disk* disk) const {
    const auto drive = cdrom_index_.find(disk);
    if (drive == cdrom_index_.end()) return live_->vm.find_disk(disk->source);
    const std::vector<Disk>& drives = live_->vm.cdroms;
    return drive->second < drives.size() ? &drives[drive->second] : nullptr;
  }

  void hold_if_on_bus(const Disk& disk) {
    if (auto place = place_of(disk); place && disk.bus == bus_) taken_.insert(*place);
  }

  // Disks the domain has keep their places: the loader its own, the data disks theirs in the
  // config's order.
  void keep_live_places() {
    std::vector<Disk*> kept;
    std::vector<Place> places;
    for (Disk* disk : unplaced()) {
      const Disk* current = live_counterpart(disk);
      if (!current || current->bus != bus_) continue;
      auto place = place_of(*current);
      if (!place || taken_.count(*place)) continue;
      // A disk pinned to a controller stays on it: kept only there, and never swapped away.
      if (disk->controller && *disk->controller != place->first) continue;
      taken_.insert(*place);
      // CD-ROM drives keep theirs too: the data disks' order is not theirs to follow.
      if (is_loader(*disk) || disk->controller || cdrom_index_.count(disk)) {
        put(*disk, *place);
        continue;
      }
      kept.push_back(disk);
      places.push_back(*place);
    }
    std::sort(places.begin(), places.end());
    for (std::size_t i = 0; i < kept.size(); ++i) put(*kept[i], places[i]);
  }

  std::vector<Disk*> unplaced() const {
    std::vector<Disk*> result;
    for (Disk* disk : disks_)
      if (!place_of(*disk)) result.push_back(disk);
    return result;
  }

  // The end of controller 0, or the nearest free unit below it.
  Place loader_place() const {
    for (unsigned unit = loader_unit(bus_) + 1; unit-- > 0;)
      if (!taken_.count({0, unit})) return {0, unit};
    return first_free(std::nullopt);
  }

  // The first free unit on `only`, or on the first controller with one.
  Place first_free(std::optional<unsigned> only) const {
    for (unsigned controller = only.value_or(0);; ++controller) {
      for (unsigned unit = 0; unit < units_per_controller(bus_); ++unit)
        if (!taken_.count({controller, unit})) return {controller, unit};
      if (only) return {controller, units_per_controller(bus_)};  // full: refused by the plan
    }
  }

  Place take(Place place) {
    taken_.insert(place);
    return place;
  }

  DiskBus bus_;
  const LiveDomain* live_;
  std::vector<Disk*> disks_;  // on this bus, in config order: the disks, then the CD-ROMs
  std::map<const Disk*, std::size_t> cdrom_index_;  // a CD-ROM's place among the VM's drives
  std::set<Place> taken_;
};

}  // namespace

Vm lay_out_disks(const Vm& desired, const LiveDomain* live) {
  Vm placed = desired;
  for (std::vector<Disk>* list : {&placed.disks, &placed.cdroms}) {
    for (Disk& disk : *list) {
      if (has_units(disk.bus)) continue;
      disk.controller.reset();
      disk.unit.reset();
    }
  }
  for (DiskBus bus : {DiskBus::sata, DiskBus::scsi}) BusLayout(bus, placed, live).lay_out(desired);
  return placed;
}

std::vector<std::pair<const Disk*, std::string>> layout_conflicts(const Vm& placed,
                                                                  const LiveDomain* live) {
  std::vector<std::pair<const Disk*, std::string>> conflicts;
  std::vector<const Disk*> all;
  for (const Disk& disk : placed.disks) all.push_back(&disk);
  for (const Disk& cdrom : placed.cdroms) all.push_back(&cdrom);
  for (const Disk* each : all) {
    const Disk& disk = *each;
    if (!has_units(disk.bus) || !disk.unit) continue;
    if (*disk.unit >= units_per_controller(disk.bus)) {
      conflicts.emplace_back(&disk, "disk " + disk.source + " is pinned to " + to_string(disk.bus) +
                                        " controller " + std::to_string(*disk.controller) +
                                        ", which has no free unit left; pin it to another one");
      continue;
    }
    if (!live) continue;
    for (const Disk& other : live->unexpressed_disks) {
      if (other.bus != disk.bus || place_of(other) != place_of(disk)) continue;
      conflicts.emplace_back(
          &disk, "disk " + disk.source + " is pinned to " + describe_place(disk) +
                     ", where domain '" + live->vm.name + "' has a disk virtform does not express" +
                     (other.source.empty() ? std::string(" (an empty CD-ROM drive)")
                                           : " (" + other.source + ")") +
                     "; pin another unit, or detach that disk first");
    }
  }
  return conflicts;
}

bool place_held_by_other(const Disk& disk, const Vm& vm) {
  if (!has_units(disk.bus) || !place_of(disk)) return false;
  return std::any_of(vm.disks.begin(), vm.disks.end(), [&](const Disk& other) {
    return other.source != disk.source && other.bus == disk.bus &&
           place_of(other) == place_of(disk);
  });
}

std::string describe_place(const Disk& disk) {
  if (!has_units(disk.bus) || !disk.controller || !disk.unit) return "";
  return to_string(disk.bus) + " " + std::to_string(*disk.controller) + ":" +
         std::to_string(*disk.unit);
}

std::vector<std::string> moved_disks(const Vm& desired, const Vm& live) {
  std::vector<std::string> moved;
  for (const Disk& disk : desired.disks) {
    const Disk* current = live.find_disk(disk.source);
    if (!current) continue;
    const std::string before = describe_place(*current), after = describe_place(disk);
    if (before.empty() || before == after) continue;
    moved.push_back(disk.source + ": " + before + " -> " +
                    (after.empty() ? to_string(disk.bus) : after));
  }
  return moved;
}

}  // namespace virtform
