#include "providers/libvirt/connection.h"

#include <algorithm>
#include <memory>
#include <mutex>

namespace virtform {

namespace {

void ignore_libvirt_error(void*, virErrorPtr) {}

// libvirt prints every error to stderr unless a handler is set; virtform reports them itself.
void silence_libvirt() {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, ignore_libvirt_error); });
}

std::string take_string(char* text) {
  std::unique_ptr<char, decltype(&free)> owned(text, &free);
  return text ? std::string(text) : std::string();
}

// The socket= parameters of a query ("socket=/run/x&no_verify=1" -> "socket=/run/x").
std::string socket_parameters(const std::string& query) {
  std::string kept;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string parameter = query.substr(start, end - start);
    if (parameter.starts_with("socket=")) kept += (kept.empty() ? "" : "&") + parameter;
    start = end + 1;
  }
  return kept;
}

}  // namespace

std::string canonical_daemon_uri(const std::string& uri) {
  const std::size_t separator = uri.find("://");
  if (separator == std::string::npos) return uri;
  const std::string driver = uri.substr(0, std::min(uri.find('+'), separator));
  const std::string rest = uri.substr(separator + 3);
  const std::size_t question = rest.find('?');
  const std::string query = question == std::string::npos ? "" : rest.substr(question + 1);
  const std::string address = rest.substr(0, question);
  const std::size_t slash = address.find('/');
  const std::string authority = address.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : address.substr(slash);
  // A session daemon is one user's: the user stays part of which daemon it is.
  const std::size_t at = authority.find('@');
  const std::string user =
      at == std::string::npos || path == "/system" ? "" : authority.substr(0, at + 1);
  const std::string sockets = socket_parameters(query);
  return driver + "://" + user + path + (sockets.empty() ? "" : "?" + sockets);
}

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

std::string Connection::daemon() const {
  std::string resolved = take_string(virConnectGetURI(connection_));
  if (resolved.empty()) resolved = uri_;
  const std::string host = take_string(virConnectGetHostname(connection_));
  if (host.empty()) throw_libvirt_error("cannot read the host name of " + uri_);
  return canonical_daemon_uri(resolved) + " on " + host;
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
