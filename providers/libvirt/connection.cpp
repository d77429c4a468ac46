#include "providers/libvirt/connection.h"

#include <mutex>

namespace virtform {

namespace {

void ignore_libvirt_error(void*, virErrorPtr) {}

// libvirt prints every error to stderr unless a handler is set; virtform reports them itself.
void silence_libvirt() {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, ignore_libvirt_error); });
}

}  // namespace

void throw_libvirt_error(const std::string& what) {
  throw SystemError(what + ": " + virGetLastErrorMessage());
}

int last_libvirt_error_code() {
  virErrorPtr error = virGetLastError();
  return error ? error->code : VIR_ERR_OK;
}

Connection::Connection(const std::string& uri) : uri_(uri) {
  silence_libvirt();
  connection_ = virConnectOpen(uri.c_str());
  if (!connection_) throw_libvirt_error("cannot connect to " + uri);
}

Connection::~Connection() {
  virConnectClose(connection_);
}

DomainHandle Connection::domain(const std::string& name) const {
  DomainHandle domain(virDomainLookupByName(connection_, name.c_str()));
  if (!domain) throw_libvirt_error("domain '" + name + "'");
  return domain;
}

std::vector<DomainHandle> Connection::all_domains(unsigned int flags) const {
  virDomainPtr* raw = nullptr;
  int count = virConnectListAllDomains(connection_, &raw, flags);
  if (count < 0) throw_libvirt_error("cannot list domains on " + uri_);
  std::vector<DomainHandle> domains;
  for (int i = 0; i < count; ++i) domains.emplace_back(raw[i]);
  free(raw);
  return domains;
}

std::vector<NetworkHandle> Connection::all_networks() const {
  virNetworkPtr* raw = nullptr;
  int count = virConnectListAllNetworks(connection_, &raw, 0);
  if (count < 0) throw_libvirt_error("cannot list networks on " + uri_);
  std::vector<NetworkHandle> networks;
  for (int i = 0; i < count; ++i) networks.emplace_back(raw[i]);
  free(raw);
  return networks;
}

}  // namespace virtform
