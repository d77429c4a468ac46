#include "providers/libvirt/libvirt_hypervisor.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/ordered_parallel.h"

namespace virtform {

namespace {

// libvirt returns XML as malloc'ed C strings.
std::string take_string(char* text) {
  std::unique_ptr<char, decltype(&free)> owned(text, &free);
  return text ? std::string(text) : std::string();
}

// Whether the driver refused the flags themselves rather than the operation.
bool flags_unsupported() {
  int code = last_libvirt_error_code();
  return code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_INVALID_ARG ||
         code == VIR_ERR_ARGUMENT_UNSUPPORTED;
}

// A domain's definitions as libvirt sent them, before they are parsed.
struct FetchedDomain {
  std::string xml;         // the persistent definition, without its console passwords
  std::string booted_xml;  // what a running guest booted with; empty when it is not running
  bool active = false;
  bool autostart = false;
  std::optional<std::string> console_password;         // of its first console
  std::optional<std::string> booted_console_password;  // what the running console asks for
};

// A definition (`flags`: inactive or not) with its secrets, where the connection may read them: a
// console's password is compared with the one the config names.
std::string xml_with_secrets(virDomainPtr domain, unsigned flags) {
  std::string xml = take_string(virDomainGetXMLDesc(domain, flags | VIR_DOMAIN_XML_SECURE));
  if (xml.empty() && last_libvirt_error_code() == VIR_ERR_OPERATION_DENIED)
    xml = take_string(virDomainGetXMLDesc(domain, flags));
  return xml;
}

// Nothing when the domain went away while the host was being read (another tool undefined it).
std::optional<FetchedDomain> fetch_domain(virDomainPtr domain, const std::string& name, bool active,
                                          bool autostart) {
  // The persistent definition is what virtform owns; for a transient domain libvirt returns the
  // live one under the same flag.
  FetchedDomain fetched;
  fetched.xml = xml_with_secrets(domain, VIR_DOMAIN_XML_INACTIVE);
  fetched.active = active;
  fetched.autostart = autostart;
  if (fetched.xml.empty() && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return std::nullopt;
  // `name` comes from the caller: virDomainGetName here would reset the error before it is read.
  if (fetched.xml.empty())
    throw_libvirt_error("cannot read the definition of domain '" + name + "'");
  // Nothing else ever sees it: the definition goes on without it.
  fetched.console_password = take_console_passwords(fetched.xml);
  // One more round trip, for running guests only: what the guest is actually running with. A
  // guest that stopped since the listing answers with its inactive definition, so nothing here
  // is a failure to read.
  if (active) fetched.booted_xml = xml_with_secrets(domain, 0);
  if (active && fetched.booted_xml.empty()) {
    if (last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return std::nullopt;
    throw_libvirt_error("cannot read the running definition of domain '" + name + "'");
  }
  fetched.booted_console_password = take_console_passwords(fetched.booted_xml);
  return fetched;
}

LiveDomain parse_fetched(const FetchedDomain& fetched, UnownedParts unowned) {
  LiveDomain live = parse_domain_xml(fetched.xml, nullptr, unowned);
  if (live.vm.graphics) live.vm.graphics->password = fetched.console_password;
  live.running = fetched.active;
  // A recorded host (virtform capture) keeps autostart in the metadata: the test driver has none.
  live.vm.autostart = fetched.autostart || recorded_autostart(fetched.xml);
  live.vm.state = live.running ? PowerState::running : PowerState::stopped;
  if (!fetched.booted_xml.empty()) {
    live.booted = parse_domain_xml(fetched.booted_xml, nullptr, UnownedParts::none).vm;
    if (live.booted->graphics) live.booted->graphics->password = fetched.booted_console_password;
  }
  return live;
}

const char* name_of(const DomainHandle& domain) {
  return virDomainGetName(domain.get());
}
const char* name_of(const NetworkHandle& network) {
  return virNetworkGetName(network.get());
}

// The names of listed domains or networks.
template <typename Handle>
std::set<std::string> names_of(const std::vector<Handle>& handles) {
  std::set<std::string> names;
  for (const Handle& handle : handles) names.insert(name_of(handle));
  return names;
}

// The first validating define of this process runs alone (define_xml), the rest in parallel.
// libxml2 before 2.12 (Debian 12 has 2.9.14) builds its schema type tables at a process's first
// schema parse without a lock, so two first validating defines at once (in libvirtd, or in
// virtform itself with the test driver) could race there, and one failed with "Unable to parse
// RNG ...: Error type 'unsignedLong' is not exported": the first apply after a libvirtd start,
// now and then; 1.5-2.5 % of fresh test-driver applies of several new VMs
// (tests/faults/first_define_race_test.cpp). virtform's own defines no longer race each other;
// another client defining at the same moment on a just-started libvirtd still can.
std::mutex first_define;
bool defined_once = false;  // guarded by first_define: set once a define has succeeded

}  // namespace

LibvirtHypervisor::LibvirtHypervisor(const std::string& uri, std::size_t read_threads)
    : connection_(uri), read_threads_(std::clamp<std::size_t>(read_threads, 1, kMaxReadThreads)) {}

std::string LibvirtHypervisor::uri() const {
  return connection_.uri();
}

bool LibvirtHypervisor::connected() const {
  return virConnectIsAlive(connection_.get()) == 1;
}

Live LibvirtHypervisor::read_live() {
  return read_live(UnownedParts::all);
}

Live LibvirtHypervisor::read_live(UnownedParts unowned) {
  // The five listings are independent round trips, which a remote host makes costly: they are
  // asked on the read threads too, and taken in this order, so an error is the one a one-by-one
  // read would have met first. Power state and autostart come from two filtered listings, not
  // two calls per domain.
  struct Listing {
    std::vector<DomainHandle> domains;
    std::vector<NetworkHandle> networks;
  };
  constexpr unsigned int kDomainListings[] = {VIR_CONNECT_LIST_DOMAINS_ACTIVE,
                                              VIR_CONNECT_LIST_DOMAINS_AUTOSTART, 0};
  constexpr unsigned int kNetworkListings[] = {VIR_CONNECT_LIST_NETWORKS_ACTIVE, 0};
  auto list = [&](std::size_t index) {
    if (index < std::size(kDomainListings))
      return Listing{connection_.all_domains(kDomainListings[index]), {}};
    return Listing{{},
                   connection_.all_networks(kNetworkListings[index - std::size(kDomainListings)])};
  };
  std::vector<Listing> listings =
      read_in_order(std::size(kDomainListings) + std::size(kNetworkListings), read_threads_, list);
  const std::set<std::string> active = names_of(listings[0].domains);
  const std::set<std::string> autostarted = names_of(listings[1].domains);
  const std::vector<DomainHandle> domains = std::move(listings[2].domains);
  // Each thread fetches a definition and parses it while the others wait for theirs.
  auto read = [&](std::size_t index) -> std::optional<LiveDomain> {
    const std::string name = name_of(domains[index]);
    const auto fetched = fetch_domain(domains[index].get(), name, active.count(name) != 0,
                                      autostarted.count(name) != 0);
    if (!fetched) return std::nullopt;
    return parse_fetched(*fetched, unowned);
  };
  Live live;
  for (std::optional<LiveDomain>& domain : read_in_order(domains.size(), read_threads_, read))
    if (domain) live.domains.push_back(std::move(*domain));
  const std::set<std::string> active_networks = names_of(listings[3].networks);
  for (const NetworkHandle& network : listings[4].networks) {
    const std::string name = name_of(network);
    live.networks.push_back(LiveNetwork{name, active_networks.count(name) != 0});
  }
  return live;
}

std::optional<LiveDomain> LibvirtHypervisor::read_domain(const std::string& name) {
  DomainHandle domain(virDomainLookupByName(connection_.get(), name.c_str()));
  if (!domain) {
    if (last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return std::nullopt;
    throw_libvirt_error("cannot look up domain '" + name + "'");
  }
  const int active = virDomainIsActive(domain.get());
  if (active < 0) throw_libvirt_error("cannot read the state of domain '" + name + "'");
  int autostart = 0;
  if (virDomainGetAutostart(domain.get(), &autostart) < 0)
    throw_libvirt_error("cannot read the autostart of domain '" + name + "'");
  const auto fetched = fetch_domain(domain.get(), name, active == 1, autostart == 1);
  if (!fetched) return std::nullopt;
  return parse_fetched(*fetched, UnownedParts::all);
}

void LibvirtHypervisor::define_xml(const std::string& xml, const std::string& name) {
  std::unique_lock first(first_define);
  if (defined_once) first.unlock();
  DomainHandle domain(
      virDomainDefineXMLFlags(connection_.get(), xml.c_str(), VIR_DOMAIN_DEFINE_VALIDATE));
  if (first.owns_lock()) {
    // A define that failed may have failed before any schema was parsed: the next runs alone too.
    defined_once = domain != nullptr;
    first.unlock();
  }
  if (!domain) throw_libvirt_error("cannot define domain '" + name + "'");
}

void LibvirtHypervisor::define(const Vm& vm) {
  define_xml(render_domain_xml(vm), vm.name);
}

std::string LibvirtHypervisor::secure_xml(const std::string& name) const {
  std::string xml = xml_with_secrets(connection_.domain(name).get(), VIR_DOMAIN_XML_INACTIVE);
  if (xml.empty()) throw_libvirt_error("cannot read domain '" + name + "'");
  return xml;
}

// The base is the definition plan saw, with the console passwords it could not see.
void LibvirtHypervisor::redefine(const Vm& desired, const LiveDomain& live) {
  define_xml(merge_domain_xml(with_console_passwords(live.xml, secure_xml(desired.name)), desired),
             desired.name);
}

void LibvirtHypervisor::undefine(const std::string& name) {
  DomainHandle domain(virDomainLookupByName(connection_.get(), name.c_str()));
  // A transient domain has no definition to remove: once stopped, it is gone.
  if (!domain && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return;
  if (!domain) throw_libvirt_error("domain '" + name + "'");
  const int persistent = virDomainIsPersistent(domain.get());
  if (persistent < 0 && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return;
  if (persistent < 0) throw_libvirt_error("cannot read domain '" + name + "'");
  if (persistent == 0) {
    if (virDomainIsActive(domain.get()) == 1)
      throw SystemError("domain '" + name + "' is transient and still running; it goes away " +
                        "when it stops");
    return;
  }
  int snapshots = virDomainSnapshotNum(domain.get(), 0);
  if (snapshots > 0) {
    throw SystemError("domain '" + name + "' has " + std::to_string(snapshots) +
                      " snapshot(s); virtform keeps them and does not undefine it");
  }
  // Without KEEP_TPM libvirt deletes an emulated TPM's state (BitLocker's keys) with the domain.
  const unsigned keep = VIR_DOMAIN_UNDEFINE_KEEP_NVRAM | VIR_DOMAIN_UNDEFINE_KEEP_TPM;
  if (virDomainUndefineFlags(domain.get(), keep) == 0) return;
  if (!flags_unsupported()) throw_libvirt_error("cannot undefine domain '" + name + "'");
  // An older libvirt, or a driver without TPMs (the test driver): only a domain with no
  // emulated TPM may go without the flag.
  char* text = virDomainGetXMLDesc(domain.get(), VIR_DOMAIN_XML_INACTIVE);
  if (text == nullptr) throw_libvirt_error("cannot read domain '" + name + "'");
  const std::string xml = take_string(text);
  if (xml.find("<backend type='emulator'") != std::string::npos)
    throw SystemError("domain '" + name + "' has an emulated TPM, and this libvirt cannot " +
                      "undefine it without deleting the TPM's state; virtform keeps it and " +
                      "does not undefine the domain");
  if (virDomainUndefineFlags(domain.get(), VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) == 0) return;
  if (!flags_unsupported() || virDomainUndefine(domain.get()) < 0) {
    throw_libvirt_error("cannot undefine domain '" + name + "'");
  }
}

void LibvirtHypervisor::rename(const std::string& from, const std::string& to) {
  DomainHandle domain = connection_.domain(from);
  if (virDomainRename(domain.get(), to.c_str(), 0) < 0)
    throw_libvirt_error("cannot rename domain '" + from + "' to '" + to + "'");
}

// The domain handle is held until the error is read: freeing it resets libvirt's last error, and
// the message would read "no error".
void LibvirtHypervisor::set_autostart(const std::string& name, bool autostart) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainSetAutostart(domain.get(), autostart ? 1 : 0) < 0) {
    throw_libvirt_error("cannot set autostart of domain '" + name + "'");
  }
}

void LibvirtHypervisor::start(const std::string& name) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainCreate(domain.get()) < 0) {
    throw_libvirt_error("cannot start domain '" + name + "'");
  }
}

void LibvirtHypervisor::request_shutdown(const std::string& name) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainShutdownFlags(domain.get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) == 0) return;
  // Drivers without the ACPI flag (the test driver) still have their own default way.
  if (!flags_unsupported() || virDomainShutdown(domain.get()) < 0) {
    throw_libvirt_error("cannot shut down domain '" + name + "'");
  }
}

void LibvirtHypervisor::mark_start_pending(const std::string& name) {
  const std::optional<LiveDomain> domain = read_domain(name);
  if (!domain) throw SystemError("domain '" + name + "' is gone");
  define_xml(mark_start_pending_xml(with_console_passwords(domain->xml, secure_xml(name))), name);
}

void LibvirtHypervisor::destroy(const std::string& name) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainDestroy(domain.get()) < 0) {
    throw_libvirt_error("cannot stop domain '" + name + "'");
  }
}

bool LibvirtHypervisor::is_running(const std::string& name) {
  DomainHandle domain(virDomainLookupByName(connection_.get(), name.c_str()));
  // A transient domain is gone once it stops, maybe between the lookup and the question.
  if (!domain && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return false;
  if (!domain) throw_libvirt_error("domain '" + name + "'");
  int active = virDomainIsActive(domain.get());
  if (active < 0 && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return false;
  if (active < 0) throw_libvirt_error("cannot read the state of domain '" + name + "'");
  return active == 1;
}

std::string LibvirtHypervisor::live_xml(virDomainPtr domain, const std::string& name) const {
  std::string xml = take_string(virDomainGetXMLDesc(domain, 0));
  if (xml.empty()) throw_libvirt_error("cannot read domain '" + name + "'");
  return xml;
}

void LibvirtHypervisor::attach_xml(const std::string& name, const std::string& device_xml) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainAttachDeviceFlags(domain.get(), device_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    throw_libvirt_error("cannot attach a device to running domain '" + name + "'");
  }
}

void LibvirtHypervisor::detach_xml(const std::string& name, const std::string& device_xml,
                                   const std::string& what) {
  if (device_xml.empty()) {
    throw SystemError("running domain '" + name + "' has no " + what + " to detach");
  }
  DomainHandle domain = connection_.domain(name);
  if (virDomainDetachDeviceFlags(domain.get(), device_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    throw_libvirt_error("cannot detach " + what + " from running domain '" + name + "'");
  }
}

void LibvirtHypervisor::attach_live(const std::string& name, const Disk& disk) {
  std::string xml = live_xml(connection_.domain(name).get(), name);
  attach_xml(name, render_disk_xml(disk, xml));
}

void LibvirtHypervisor::detach_live(const std::string& name, const Disk& disk) {
  std::string xml = live_xml(connection_.domain(name).get(), name);
  detach_xml(name, find_device_xml(xml, disk), "disk " + disk.source);
}

void LibvirtHypervisor::attach_live(const std::string& name, const Nic& nic) {
  attach_xml(name, render_nic_xml(nic));
}

void LibvirtHypervisor::detach_live(const std::string& name, const Nic& nic) {
  std::string xml = live_xml(connection_.domain(name).get(), name);
  detach_xml(name, find_device_xml(xml, nic), "interface on " + nic.source);
}

void LibvirtHypervisor::attach_live(const std::string& name, const UsbDevice& device) {
  attach_xml(name, render_usb_xml(device));
}

void LibvirtHypervisor::detach_live(const std::string& name, const UsbDevice& device) {
  std::string xml = live_xml(connection_.domain(name).get(), name);
  detach_xml(name, find_device_xml(xml, device), "USB device " + usb_identity(device));
}

void LibvirtHypervisor::attach_live(const std::string& name, const InputDevice& input) {
  attach_xml(name, render_input_xml(input));
}

void LibvirtHypervisor::detach_live(const std::string& name, const InputDevice& input) {
  std::string xml = live_xml(connection_.domain(name).get(), name);
  detach_xml(name, find_device_xml(xml, input), "the " + input_identity(input));
}

void LibvirtHypervisor::set_memory_live(const std::string& name, std::uint64_t kib) {
  DomainHandle domain = connection_.domain(name);
  // Only ever lowers the balloon: one already below the new maximum is the guest owner's.
  virDomainInfo info;
  if (virDomainGetInfo(domain.get(), &info) == 0 && info.memory <= kib) return;
  if (virDomainSetMemoryFlags(domain.get(), kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
    throw_libvirt_error("cannot set the memory of running domain '" + name + "'");
  }
}

// Both sides at once: the redefine before it already wrote the count into the persistent
// definition, and libvirt refuses neither.
void LibvirtHypervisor::set_vcpus_live(const std::string& name, unsigned count) {
  DomainHandle domain = connection_.domain(name);
  if (virDomainSetVcpusFlags(domain.get(), count,
                             VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG) < 0) {
    throw_libvirt_error("cannot set the vCPUs of running domain '" + name + "' to " +
                        std::to_string(count));
  }
}

// Both definitions at once, so that the next boot keeps the size. A driver that takes one
// definition per call (libvirt's test driver) refuses the pair as an invalid argument: then each
// in turn.
void LibvirtHypervisor::set_balloon(const std::string& name, std::uint64_t kib) {
  DomainHandle domain = connection_.domain(name);
  const unsigned both = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;
  if (virDomainSetMemoryFlags(domain.get(), kib, both) == 0) return;
  const virErrorPtr error = virGetLastError();
  const bool one_at_a_time = error && error->code == VIR_ERR_INVALID_ARG;
  if (!one_at_a_time || virDomainSetMemoryFlags(domain.get(), kib, VIR_DOMAIN_AFFECT_CONFIG) < 0 ||
      virDomainSetMemoryFlags(domain.get(), kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
    throw_libvirt_error("cannot set the memory balloon of running domain '" + name + "'");
}

void LibvirtHypervisor::change_media_live(const std::string& name, unsigned drive,
                                          const std::string& media) {
  DomainHandle domain = connection_.domain(name);
  const std::string element = cdrom_with_media_xml(live_xml(domain.get(), name), drive, media);
  if (element.empty())
    throw SystemError("running domain '" + name + "' has no CD-ROM drive " +
                      std::to_string(drive + 1));
  if (virDomainUpdateDeviceFlags(domain.get(), element.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0)
    throw_libvirt_error("cannot change the CD-ROM media of running domain '" + name + "'");
}

void LibvirtHypervisor::set_console_password_live(const std::string& name,
                                                  const std::string& password) {
  DomainHandle domain = connection_.domain(name);
  const std::string element = console_with_password_xml(live_xml(domain.get(), name), password);
  if (element.empty()) throw SystemError("running domain '" + name + "' has no console");
  if (virDomainUpdateDeviceFlags(domain.get(), element.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0)
    throw_libvirt_error("cannot change the console password of running domain '" + name + "'");
}

void LibvirtHypervisor::set_attribute_live(const std::string& name, const std::string& key,
                                           const std::string& value) {
  const DomainField* field = find_domain_field(key);
  if (!field || !field->set_live) throw SystemError(key + " cannot be changed in a running guest");
  DomainHandle domain = connection_.domain(name);
  if (field->set_live(domain.get(), value) < 0)
    throw_libvirt_error("cannot set the " + key + " of running domain '" + name + "'");
}

}  // namespace virtform
