#pragma once
// The desired and the live host in one vocabulary: plain values, compared with ==.
// Config builds these from TOML; the libvirt provider reads live domain XML back into them.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/dsm_guest.h"
#include "engine/model/enum_names.h"
#include "engine/model/host.h"
#include "engine/model/xml_fragment.h"

namespace virtform {

enum class DomainType { kvm, qemu };
enum class FirmwareKind { bios, uefi };
enum class PowerState { running, stopped };
enum class RestartPolicy { never, allowed };
enum class DiskBus { virtio, scsi, sata, usb, ide };
enum class DiskSource { block, file };
enum class NicSource { bridge, network };
enum class GraphicsType { none, spice, vnc };

// The names these travel by, in the config, the plan's JSON and domain XML: one table per enum,
// read both ways by enum_names.h (and to_string below). The config lists its choices in this
// order.
inline constexpr EnumNames<DomainType, 2> kDomainTypeNames{
    {{DomainType::kvm, "kvm"}, {DomainType::qemu, "qemu"}}};
inline constexpr EnumNames<FirmwareKind, 2> kFirmwareKindNames{
    {{FirmwareKind::bios, "bios"}, {FirmwareKind::uefi, "uefi"}}};
inline constexpr EnumNames<PowerState, 2> kPowerStateNames{
    {{PowerState::running, "running"}, {PowerState::stopped, "stopped"}}};
inline constexpr EnumNames<RestartPolicy, 2> kRestartPolicyNames{
    {{RestartPolicy::never, "never"}, {RestartPolicy::allowed, "allowed"}}};
inline constexpr EnumNames<DiskBus, 5> kDiskBusNames{{{DiskBus::virtio, "virtio"},
                                                      {DiskBus::scsi, "scsi"},
                                                      {DiskBus::sata, "sata"},
                                                      {DiskBus::usb, "usb"},
                                                      {DiskBus::ide, "ide"}}};
inline constexpr EnumNames<DiskSource, 2> kDiskSourceNames{
    {{DiskSource::block, "block"}, {DiskSource::file, "file"}}};
inline constexpr EnumNames<NicSource, 2> kNicSourceNames{
    {{NicSource::bridge, "bridge"}, {NicSource::network, "network"}}};
inline constexpr EnumNames<GraphicsType, 3> kGraphicsTypeNames{
    {{GraphicsType::spice, "spice"}, {GraphicsType::vnc, "vnc"}, {GraphicsType::none, "none"}}};

// Units of a disk controller: an AHCI (sata) controller has six ports, and virtio-scsi addresses
// 16384 units on its bus. Controllers beyond the eighth of a bus are refused as a likely typo.
inline constexpr unsigned kSataPorts = 6;
inline constexpr unsigned kScsiUnits = 16384;
inline constexpr unsigned kLastDiskController = 7;

// What a whole block device gets when its disk leaves cache and io unset: bypassing the host's
// page cache keeps the guest's writes honest.
inline constexpr const char* kBlockCache = "none";
inline constexpr const char* kBlockIo = "native";

// A disk of a guest: a whole host block device passed raw, or an image file.
struct Disk {
  DiskSource kind = DiskSource::file;
  std::string source;  // block device path or image file path: the disk's identity
  DiskBus bus = DiskBus::virtio;
  std::string format = "raw";         // "raw" or "qcow2" (block devices are always raw)
  std::optional<std::uint64_t> size;  // bytes; an image file missing on the host is created
                                      // with this size (config only, never read back)
  bool readonly = false;
  std::optional<unsigned> boot_order;  // 1 for a VM's boot loader image; `boot` for others
  std::string loader;                  // the [loader.X] this disk comes from; "" for plain disks
  std::optional<std::string> sha256;   // a loader image's content, when the loader names it;
                                       // recorded in virtform's metadata, so a new image shows
  std::string backing;  // a loader overlay's base: the shared loader image this VM's own qcow2
                        // reads through to (config only; "" for a disk that is its own image)
  // Where a sata or scsi disk sits: its controller's index on the bus and its unit there. The
  // config may pin both; the planner's layout (engine/plan/disk_layout.h) places the rest, and
  // they are read back from libvirt's <address type='drive'>.
  std::optional<unsigned> controller;
  std::optional<unsigned> unit;
  // QEMU's cache mode ("none", "writeback", ...; "default" for QEMU's own) and I/O mode
  // ("native", "threads", "io_uring"): owned only when set.
  std::optional<std::string> cache;
  std::optional<std::string> io;
  // The options of engine/model/disk_options.h, by key, as canonical text; absent = left alone.
  std::map<std::string, std::string> options;
  Location where;  // config only

  bool operator==(const Disk&) const = default;
};

struct Nic {
  NicSource kind = NicSource::network;
  std::string source;  // bridge name or libvirt network name
  std::string model = "virtio";
  std::optional<std::string> mac;  // owned only when the config sets it; else libvirt assigns
  Location where;                  // config only

  bool operator==(const Nic&) const = default;
};

// A host PCI function passed to the guest.
struct PciDevice {
  std::string address;                // canonical "0000:08:00.0"
  std::optional<std::string> vendor;  // expected ids (config only): "1002"
  std::optional<std::string> device;  //   "1638"
  std::optional<std::string> rom;     // ROM file given to the guest
  bool managed = true;                // libvirt detaches/reattaches it around the guest's life
  std::optional<std::string> bind;    // "vfio-pci": virtform binds it before the guest starts
  // The ROM BAR shown to the guest (<rom bar>); unset, left alone (libvirt shows it).
  std::optional<bool> rombar;
  // Where the guest sees it (canonical, "0000:06:00.0"); unset, libvirt places it. A GPU and
  // its audio function at one guest slot is how they sit on a real card, which some drivers
  // expect.
  std::optional<std::string> guest_address;
  // Function 0 of a guest slot that other functions share (<address multifunction='on'>):
  // derived from the VM's guest addresses in the config, read live.
  bool multifunction = false;
  Location where;  // config only

  bool operator==(const PciDevice&) const = default;
};

// A host USB device passed to the guest ([[vm.X.usb]]): found by its ids, by where it sits on
// the host's buses, or by both, which picks one of several devices with the same ids. The parts
// libvirt finds it by are its identity.
struct UsbDevice {
  std::string vendor;              // 4 lower-case hex digits, "046d"; "" when found by address
  std::string product;             //   "c52b"
  std::optional<unsigned> bus;     // the host's bus number (busnum) and the device's number
  std::optional<unsigned> device;  //   on it (devnum), which a new one gets at each plug-in
  // The guest starts without it when the host lacks it (startupPolicy='optional').
  bool optional = false;
  // Config only: the host port ("1-4.2") or the serial number the device is declared by. libvirt
  // knows neither, so each plan gives bus and device from the device the host has there now.
  std::string port;
  std::string serial;
  Location where;  // config only

  bool operator==(const UsbDevice&) const = default;
};

// A mediated device (a vGPU slice of a host GPU) given to the guest ([[vm.X.mdev]]): one the
// host made (mdevctl), by its UUID.
struct MdevDevice {
  std::string uuid;                // lower case, as sysfs and libvirt name it: its identity
  std::string model = "vfio-pci";  // "vfio-pci", "vfio-ccw" or "vfio-ap"
  bool display = false;            // the guest's console shows its screen (display='on')
  Location where;                  // config only

  bool operator==(const MdevDevice&) const = default;
};

// A keyboard, mouse or tablet on the guest's virtio or USB bus, or a host input device passed
// through (evdev: its events go to the guest) ([[vm.X.input]]). The PS/2 keyboard and mouse
// libvirt gives every x86 guest, and the USB tablet of `tablet`, are not among them.
struct InputDevice {
  std::string type = "keyboard";  // "keyboard", "mouse", "tablet" or "evdev"
  std::string bus = "virtio";     // "virtio" or "usb"; "" for evdev
  std::string source;             // evdev: the host's device ("/dev/input/by-id/...-event-kbd")
  bool grab = false;              // evdev: the guest takes every host keyboard (grab='all')
  std::string grab_toggle;        // evdev: the keys that switch them over ("ctrl-ctrl"), or ""
  bool repeat = false;            // evdev: the guest repeats held keys itself
  Location where;                 // config only

  bool operator==(const InputDevice&) const = default;
};

// "virtio keyboard", "evdev /dev/input/by-id/...": what tells a guest's inputs apart.
std::string input_identity(const InputDevice& input);

// "046d:c52b", "bus 1 device 4", "046d:c52b at bus 1 device 4": the parts libvirt finds a USB
// device by.
std::string usb_identity(const UsbDevice& device);
// The identity, with the port or serial the config declares it by: "port 1-4 (bus 1 device 4)",
// "046d:c52b serial 0A1B". A device declared by port or serial before its bus and device are
// known has only these.
std::string usb_declared_as(const UsbDevice& device);
// Whether the config finds the device by its port or serial, which plan turns into its bus and
// device.
bool is_placed_by_host(const UsbDevice& device);
// Whether `seen` is the device `declared` names: the same in every part `declared` sets. A
// running guest's definition adds the bus and device number libvirt found a device by ids at.
bool names_usb(const UsbDevice& declared, const UsbDevice& seen);

// A host directory shared with the guest over virtiofs ([[vm.X.share]]): the guest mounts it by
// its tag (mount -t virtiofs TAG /mnt).
struct Share {
  std::string source;  // the host directory
  std::string tag;     // the mount tag: the share's identity
  bool readonly = false;
  Location where;  // config only

  bool operator==(const Share&) const = default;
};

// Where libvirt keeps a UEFI guest's own variable store unless told otherwise.
inline constexpr const char* kDefaultNvramDirectory = "/var/lib/libvirt/qemu/nvram";
// That store for the domain `name`: <kDefaultNvramDirectory>/<name>_VARS.fd.
std::string default_nvram_path(const std::string& name);

// Where libvirt keeps an emulated TPM's state: <kTpmStateDirectory>/<domain uuid>, made when the
// guest first starts and deleted with the domain unless its undefinition keeps it.
inline constexpr const char* kTpmStateDirectory = "/var/lib/libvirt/swtpm";

struct Firmware {
  FirmwareKind kind = FirmwareKind::bios;
  std::string code;           // UEFI code image (OVMF_CODE); empty until resolved from descriptors
  std::string vars_template;  // UEFI variables template (OVMF_VARS)
  std::string nvram;          // this VM's own variable store, made from the template by libvirt
  // libvirt picks the image at each start (firmware='efi'); code and template are then its own.
  bool autoselect = false;
  // Secure Boot with enrolled keys: a secure loader and SMM. Unset, the config leaves it to the
  // image it names; read live, unset is a domain that does not ask for it.
  std::optional<bool> secure_boot = std::nullopt;

  bool operator==(const Firmware&) const = default;
};

// A console's listen for no network socket (<listen type='none'/>): clients reach it through
// libvirt alone, as SPICE's OpenGL needs.
inline constexpr const char* kListenNone = "none";

struct Graphics {
  GraphicsType type = GraphicsType::none;
  std::string listen;  // address, kListenNone, or "" for libvirt's default
  // A fixed port (autoport='no'); unset, the config leaves the port alone and a new console
  // takes the next free one from 5900.
  std::optional<unsigned> port;
  // SPICE drawing with the host's GPU (<gl enable>), and the GPU's render node it takes
  // (<gl rendernode>); owned where the config sets them.
  std::optional<bool> gl = std::nullopt;
  std::optional<std::string> rendernode = std::nullopt;
  // Where the console's password comes from (config only, and saved plans): a file whose first
  // line it is, or an environment variable; at most one is set, and neither is owned unset.
  std::string password_file = "";
  std::string password_env = "";
  // The password itself (<graphics passwd>): read from its source before a plan or a define, and
  // read live from the definition libvirt gives with its secrets. Never written to a plan, a
  // config, or anything shown.
  std::optional<std::string> password = std::nullopt;

  bool operator==(const Graphics&) const = default;
};

// Direct kernel boot: the guest starts this kernel instead of a boot loader on a disk.
struct DirectKernel {
  std::string kernel;   // kernel image path on the host
  std::string initrd;   // initramfs path, may be empty
  std::string cmdline;  // kernel command line, may be empty

  bool operator==(const DirectKernel&) const = default;
};

struct Serial {
  std::string type = "pty";

  bool operator==(const Serial&) const = default;
};

// One guest. Optional fields are owned only when set: absent means "leave it as it is".
struct Vm {
  std::string key;                  // config table key: [vm.<key>]; resource address "vm.<key>"
  std::string project = "default";  // the config's project (Desired::project), in the marker
  std::string name;                 // libvirt domain name
  DomainType type = DomainType::kvm;
  std::uint64_t memory_kib = 1024 * 1024;  // the maximum (<memory>)
  // The balloon's size (<currentMemory>), up to the maximum: owned only when set. The config sets
  // it from `memory` when `memory_max` names the maximum; read live, what libvirt has.
  std::optional<std::uint64_t> current_memory_kib;
  // The vCPUs the guest runs with; the most it can have is vcpus_max when that is set, else
  // vcpus itself. Read live, vcpus_max is set only when the domain says a current count.
  unsigned vcpus = 1;
  std::optional<unsigned> vcpus_max;
  std::string machine = "q35";  // alias ("q35", "pc") or a full machine type
  Firmware firmware;
  std::optional<DirectKernel> kernel;
  std::vector<Disk> disks;  // includes the boot loader disk, first in boot order
  // CD-ROM drives, in the guest's order, which is their identity: a drive is the same drive with
  // another ISO in it, so a new ISO is a media change. Each is a read-only raw Disk whose source
  // is the ISO image ("" for an empty drive) on sata, scsi or ide.
  std::vector<Disk> cdroms;
  std::vector<Nic> nics;
  std::vector<PciDevice> pci;
  std::vector<UsbDevice> usb;
  std::vector<MdevDevice> mdevs;
  std::vector<InputDevice> inputs;
  std::vector<Share> shares;
  std::optional<Graphics> graphics;
  std::optional<Serial> serial;
  std::optional<bool> autostart;
  std::optional<PowerState> state;
  // The attributes of engine/model/vm_fields.h, by key, as canonical text; absent = left alone.
  std::map<std::string, std::string> attributes;
  // Of those, the ones a preset or a profile set rather than their own key (config only): key ->
  // "preset windows", "profile windows11", shown beside the value in plans. A profile's firmware
  // and serial console are recorded here by those fields' names too.
  std::map<std::string, std::string> attribute_origins;
  // Where each attribute was set (config only): host checks on a value report there.
  std::map<std::string, Location> attribute_places;
  // `profile = "..."` (config only): engine/model/profiles.h, or "dsm".
  std::string profile;
  // A Synology DSM guest (config only): its defaults, checks and disk slot map.
  std::optional<DsmGuest> dsm;
  // [[vm.X.xml]]: elements declared as XML, owned whole; read live, the ones virtform's marker
  // records having written.
  std::vector<XmlFragment> xml;

  // How virtform may treat the guest; never part of the domain definition.
  RestartPolicy restart = RestartPolicy::never;
  std::chrono::seconds shutdown_timeout{120};
  bool force_stop = false;
  bool adopt = false;
  Location where;  // config only

  // The disk whose source is `source` (a disk's identity), or nullptr.
  const Disk* find_disk(const std::string& source) const;
  // Where `attribute` was set, else the VM's own table: where its checks report.
  Location where_set(const std::string& attribute) const;

  bool operator==(const Vm&) const = default;
};

// How virtform treats a guest when it stops it, as the VM declared it when virtform last wrote
// its definition: removal, which has no declaration left, goes by it.
struct LifecyclePolicy {
  RestartPolicy restart = RestartPolicy::never;
  std::chrono::seconds shutdown_timeout{120};
  bool force_stop = false;

  bool operator==(const LifecyclePolicy&) const = default;
};

// A bootloader disk image shared by VMs ([loader.X]).
struct Loader {
  std::string key;
  std::string image;
  std::optional<std::string> sha256;
  Location where;

  bool operator==(const Loader&) const = default;
};

// Where a VM's copy-on-write overlay on a shared loader lives when [vm.X.boot] names no path:
// beside the loader image, "<vm key>.<loader key>.qcow2", after "<project>." outside the
// default project, so two projects' VMs of one key get two files. The key, not the domain
// name, so a rename keeps the guest's writes to its loader.
std::string default_overlay_path(const Vm& vm, const Loader& loader);

// Everything the configuration declares.
struct Desired {
  // Which managed domains this configuration answers for: a managed domain of another project
  // is never treated as an orphan of this one, so several configs can share a host.
  std::string project = "default";
  std::map<std::string, Loader> loaders;  // by key
  std::vector<Vm> vms;                    // in config order

  const Vm* find_vm(const std::string& key) const;
};

// One libvirt domain as it is now.
struct LiveDomain {
  Vm vm;                 // read back from the persistent (inactive) XML; key from the marker
  bool managed = false;  // carries virtform's marker in <metadata>, written for this domain
  // Carries a marker written for another domain (its recorded UUID is not this one's): a copy
  // made with the metadata (virt-clone, an edited dumpxml). Not managed: never changed or removed.
  bool copied = false;
  bool running = false;  // active right now
  std::string uuid;
  std::string xml;  // the persistent definition, kept so updates patch rather than replace
  // Its <disk>s the model cannot express (an IDE disk, a network CD-ROM), by kind, source, readonly
  // and place alone: not owned, but they claim their storage as any disk does (an empty CD-ROM
  // drive has no source, only its place).
  std::vector<Disk> unexpressed_disks;
  // A restart of this running guest timed out with its power-button press still pending: if the
  // guest shuts down later, virtform starts it again, as it was running before that apply.
  bool start_pending = false;
  // The marker records that virtform wrote the guest's TPM ([vm.X.tpm]): a VM that no longer
  // declares one has it taken out, its state left on the host.
  bool recorded_tpm = false;
  // The policy the marker records; nothing for a marker written before markers recorded it.
  std::optional<LifecyclePolicy> recorded_policy;
  // What a running guest booted with (its live definition): a persistent change that has not
  // reached it yet shows here as a difference. Empty when the domain is not running.
  std::optional<Vm> booted;
  // Every element of the definition no key owns, where a fragment could stand for it (children
  // of <domain>, <devices>, <features>, <os>): what a declared fragment is looked for in.
  std::vector<XmlFragment> unowned;
};

struct LiveNetwork {
  std::string name;
  bool active = false;
};

// The host as it is now: what plan diffs against.
struct Live {
  std::vector<LiveDomain> domains;
  std::vector<LiveNetwork> networks;
  std::vector<std::string> bridges;      // host bridge interfaces
  std::set<std::string> existing_files;  // which of the image files the config names exist
  HostDevices devices;  // PCI functions, IOMMU groups and block devices of the host

  bool file_exists(const std::string& path) const;

  const LiveDomain* find_domain(const std::string& name) const;
  const LiveNetwork* find_network(const std::string& name) const;
};

// Whether `vm` has a host USB device that `declared` names.
bool has_usb(const Vm& vm, const UsbDevice& declared);
// Whether `vm` has an input of the same identity as `input`.
bool has_input(const Vm& vm, const InputDevice& input);

// The most vCPUs the guest can have: vcpus_max, or vcpus without it (the <vcpu> count).
unsigned most_vcpus(const Vm& vm);

// The VM's declared lifecycle policy.
LifecyclePolicy policy_of(const Vm& vm);

// The memory the guest is given now: its balloon's size, or the maximum when it has none set.
std::uint64_t current_memory_of(const Vm& vm);

// Whether the guest can give memory back: not with balloon = "none".
bool has_balloon(const Vm& vm);

// Whether other processes on the host may map the guest's memory (memory_backing.access =
// "shared"), as a vhost-user device's daemon (virtiofsd) must.
bool shares_memory(const Vm& vm);

// A bus whose disks sit on numbered controller units (sata, scsi).
bool has_units(DiskBus bus);

// Machine types: the aliases "q35" and "pc" name their family's newest versioned type, which
// libvirt writes in their place at define time ("pc-q35-7.2", "pc-i440fx-7.2"), so an alias
// names every versioned type of its family and nothing else.
bool same_machine(const std::string& desired, const std::string& live);
bool is_q35(const std::string& machine);

// Pairs desired NICs with live ones: by MAC (in any case) when the config sets one, else by
// kind, source and model, in order. For each desired NIC the index of its live NIC, or -1.
std::vector<int> match_nics(const std::vector<Nic>& desired, const std::vector<Nic>& live);

// Names used in messages, JSON and XML: "kvm", "uefi", "virtio", ... (from the tables above).
std::string to_string(DomainType value);
std::string to_string(FirmwareKind value);
std::string to_string(PowerState value);
std::string to_string(RestartPolicy value);
std::string to_string(DiskBus value);
std::string to_string(DiskSource value);
std::string to_string(NicSource value);
std::string to_string(GraphicsType value);

// "4 GiB", "512 MiB", "1536 KiB": the largest unit that divides evenly.
std::string format_kib(std::uint64_t kib);
std::string format_bytes(std::uint64_t bytes);

}  // namespace virtform
