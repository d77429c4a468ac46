#pragma once
// Plan-time checks of PCI and whole-disk passthrough against the host's devices: the rules that
// keep a guest from taking storage the host still uses, a device the IOMMU cannot isolate, or
// a device another guest already has. Each problem explains how to fix it.

#include <map>
#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/host.h"
#include "engine/model/vm.h"

namespace virtform {

// A guest that wants a device or a disk.
struct Claimant {
  std::string label;        // "vm.win" for a declared VM, "domain 'nas'" for a live one
  std::string domain_name;  // its libvirt domain name
  bool declared = false;    // from the configuration (else a live domain virtform does not own)
  bool readonly = false;    // for an image: the guest only reads it
};

// Who wants what, across the configuration and libvirt's live domains.
struct Claims {
  std::map<std::string, std::vector<Claimant>> pci;    // PCI address -> claimants
  std::map<std::string, std::vector<Claimant>> disks;  // block device name (the source path when
                                                       // the host has no such disk) -> claimants
  // Image file path -> claimants; a loader image beneath overlays is claimed read-only.
  std::map<std::string, std::vector<Claimant>> images;
  std::map<std::string, std::vector<Claimant>> mdevs;  // mediated device UUID -> claimants
  // Labels of the claimants of the address / disk; empty when nobody claims it.
  std::vector<std::string> pci_labels(const std::string& address) const;
  std::vector<std::string> disk_labels(const std::string& name) const;
};

// Declared VMs claim their devices and disks; so do live domains that are not declared
// (matched by domain name). Live domains of this configuration's project that are no longer
// declared are included only with `include_undeclared_managed`: plan removes them, but
// `virtform host` shows what is true now. Another project's domains always claim.
Claims collect_claims(const Desired& desired, const Live& live, const HostDevices& host,
                      bool include_undeclared_managed);

// A function that keeps an IOMMU group from being handed to a guest.
struct GroupBlocker {
  const PciFunction* function = nullptr;  // the offending endpoint
  std::string reason;                     // "on host driver ccp", "passed to vm.other"
};

// The endpoints of `group` that stop `claimant_label` from taking its functions in the group:
// those not passed to it that are bound to a host driver or claimed by another guest. Bridges,
// pcieport, unbound functions and those on vfio-pci or pci-stub are fine.
std::vector<GroupBlocker> group_blockers(const HostDevices& host, int group,
                                         const std::string& claimant_label, const Claims& claims);

// Every passthrough rule of the plan (issue 3 "Validation"), for every declared VM: IOMMU and
// vfio-pci present; devices exist with the expected ids; IOMMU groups viable; no device or disk
// claimed twice, nor an image file a domain virtform does not manage writes too; no storage
// controller or whole disk the host still uses; /dev/sdX names (warning); boot VGA (warning);
// sibling functions left behind (warning). Diagnostics are located at the config entry, with
// resource "vm.<key>". ROM files are checked with the host files.
void check_passthrough(const Desired& desired, const Live& live, const HostDevices& host,
                       Diagnostics& diagnostics);

}  // namespace virtform
