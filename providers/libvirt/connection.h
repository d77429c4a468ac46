#pragma once
// RAII over libvirt's handles. Every failure becomes a SystemError carrying libvirt's own message
// (virGetLastErrorMessage), and libvirt's default habit of printing errors to stderr is silenced.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/system/hypervisor.h"

namespace virtform {

struct DomainFree {
  void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
struct NetworkFree {
  void operator()(virNetworkPtr network) const { virNetworkFree(network); }
};
// Owned handles; freed (not destroyed) when they go out of scope.
using DomainHandle = std::unique_ptr<virDomain, DomainFree>;
using NetworkHandle = std::unique_ptr<virNetwork, NetworkFree>;

// Throws SystemError "<what>: <libvirt's last error message>".
[[noreturn]] void throw_libvirt_error(const std::string& what);
// The last libvirt error code of this thread (VIR_ERR_*), VIR_ERR_OK when none.
int last_libvirt_error_code();

// `uri` without what only says how the daemon is reached: the transport ("qemu+ssh" -> "qemu"),
// the host and port (the daemon's own host name stands for them), the user for a system daemon,
// and the query but for a socket= that names another local daemon.
std::string canonical_daemon_uri(const std::string& uri);

// Whether connecting to `uri` may cross a network or ask for a password: ssh, tcp, tls, a host
// name, an alias or a command libvirt runs. Only there do keepalive probes matter: on a local
// UNIX socket a daemon that dies is an end of file at once.
bool reaches_over_network(const std::string& uri);

// One read-write connection. libvirt's connections are thread-safe; this class adds no mutable
// state, so one Connection may serve several threads.
class Connection {
 public:
  // Opens `uri` read-write; throws SystemError when it cannot, or when the daemon has not
  // answered within $VIRTFORM_CONNECT_TIMEOUT seconds (default 30). Over a network, a
  // daemon that stops answering later is noticed by keepalive probes, and the calls on it fail.
  explicit Connection(const std::string& uri);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The URI as given.
  const std::string& uri() const { return uri_; }
  // The daemon this connection reaches, the same for every URI spelling of it ("qemu:///system"
  // and "qemu+unix:///system"): the URI libvirt resolved (aliases, the default URI) in its
  // canonical form, and the host name the daemon reports. "qemu:///system on vm".
  std::string daemon() const;
  // The raw handle, for calls this class does not wrap.
  virConnectPtr get() const { return connection_; }

  // The domain called `name`; throws SystemError when there is none.
  DomainHandle domain(const std::string& name) const;
  // Every domain, or only those matching VIR_CONNECT_LIST_DOMAINS_* `flags`: one round trip.
  std::vector<DomainHandle> all_domains(unsigned int flags = 0) const;
  // Every network, or only those matching VIR_CONNECT_LIST_NETWORKS_* `flags`: one round trip.
  std::vector<NetworkHandle> all_networks(unsigned int flags = 0) const;

 private:
  std::string uri_;                     // as given to the constructor
  virConnectPtr connection_ = nullptr;  // open for the object's whole life
};

}  // namespace virtform
