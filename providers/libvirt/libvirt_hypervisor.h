#pragma once
// The Hypervisor interface carried out with libvirt: domains are defined from rendered XML,
// redefined from merged XML, and read back through domain_xml.

#include <cstddef>
#include <string>

#include "engine/system/hypervisor.h"
#include "providers/libvirt/connection.h"
#include "providers/libvirt/domain_xml.h"

namespace virtform {

class LibvirtHypervisor : public Hypervisor {
 public:
  // How many domains read_live reads at once by default. The daemon serves a few calls of one
  // client at a time (libvirtd's max_client_requests, 5 by default), and the threads mostly
  // wait for its answers, so more threads than cores pay off.
  static constexpr std::size_t kDefaultReadThreads = 8;
  static constexpr std::size_t kMaxReadThreads = 64;

  // Opens `uri` read-write ("qemu:///system", "test:///default", "test:///path/host.xml").
  // read_live reads `read_threads` domains at once over the one connection (1: one by one).
  explicit LibvirtHypervisor(const std::string& uri,
                             std::size_t read_threads = kDefaultReadThreads);

  std::string uri() const override;
  // Which daemon this is, whatever URI spelling reached it (Connection::daemon()).
  std::string daemon() const { return connection_.daemon(); }
  // Three listings of domains (all, active, autostarted) and two of networks, asked at once;
  // then each domain's XML, fetched and parsed on `read_threads` threads, in the listing's
  // order. An error is the one a one-by-one read would have met first.
  Live read_live() override;
  // The same, keeping the domains' unowned parts only as `unowned` says (parse_domain_xml).
  Live read_live(UnownedParts unowned);
  std::optional<LiveDomain> read_domain(const std::string& name) override;

  void define(const Vm& vm) override;
  void redefine(const Vm& desired, const LiveDomain& live) override;
  // Refuses domains with snapshots, whose metadata would otherwise be lost with them. A
  // transient domain, stopped (and so gone), has nothing to undefine: that is no error.
  void undefine(const std::string& name) override;
  void rename(const std::string& from, const std::string& to) override;

  void set_autostart(const std::string& name, bool autostart) override;
  void start(const std::string& name) override;
  void request_shutdown(const std::string& name) override;
  void mark_start_pending(const std::string& name) override;
  void destroy(const std::string& name) override;
  // False for a domain that is gone, as a transient one is once stopped.
  bool is_running(const std::string& name) override;

  void attach_live(const std::string& name, const Disk& disk) override;
  void detach_live(const std::string& name, const Disk& disk) override;
  void attach_live(const std::string& name, const Nic& nic) override;
  void attach_live(const std::string& name, const UsbDevice& device) override;
  void detach_live(const std::string& name, const UsbDevice& device) override;
  void attach_live(const std::string& name, const InputDevice& input) override;
  void detach_live(const std::string& name, const InputDevice& input) override;
  // The persistent definition with its console passwords, which every other read leaves out.
  std::string secure_xml(const std::string& name) const;
  void detach_live(const std::string& name, const Nic& nic) override;
  void set_memory_live(const std::string& name, std::uint64_t kib) override;
  void set_vcpus_live(const std::string& name, unsigned count) override;
  void set_balloon(const std::string& name, std::uint64_t kib) override;
  void set_console_password_live(const std::string& name, const std::string& password) override;
  void change_media_live(const std::string& name, unsigned drive,
                         const std::string& media) override;
  void set_attribute_live(const std::string& name, const std::string& key,
                          const std::string& value) override;

  // Whether the connection to the daemon is still open (a stopped or restarted libvirtd closes
  // it for good).
  bool connected() const;

 private:
  // The running guest's current XML (not the persistent one), for hot-plug.
  std::string live_xml(virDomainPtr domain, const std::string& name) const;
  void define_xml(const std::string& xml, const std::string& name);
  void attach_xml(const std::string& name, const std::string& device_xml);
  void detach_xml(const std::string& name, const std::string& device_xml, const std::string& what);

  Connection connection_;     // read-write, shared by every call; libvirt synchronises it
  std::size_t read_threads_;  // at least 1
};

}  // namespace virtform
