#include "providers/libvirt/connection.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

namespace virtform {

namespace {

using namespace std::chrono_literals;

constexpr auto kDefaultConnectTimeout = 30s;
// A daemon that misses this many keepalive probes, one every this many seconds, is given up
// for gone: the connection closes and every call on it fails at once instead of waiting.
constexpr int kKeepAliveInterval = 5;
constexpr unsigned kKeepAliveCount = 3;

void ignore_libvirt_error(void*, virErrorPtr) {}

// libvirt prints every error to stderr unless a handler is set; virtform reports them itself.
void silence_libvirt_errors() {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, ignore_libvirt_error); });
}

// Keepalive needs an event loop, which libvirt leaves to its client: the default one, run on a
// thread of its own for the process's life. Only network connections start it: with a loop
// registered, libvirt's client hands the socket to the loop thread and back around every call,
// which made reading a thousand definitions on eight threads take twice as long
// (bench/README.md).
void start_event_loop() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (virEventRegisterDefaultImpl() != 0) return;
    std::thread([] {
      while (virEventRunDefaultImpl() == 0) {
      }
    }).detach();
  });
}

// $VIRTFORM_CONNECT_TIMEOUT seconds, else 30 s.
std::chrono::milliseconds connect_timeout() {
  const char* text = std::getenv("VIRTFORM_CONNECT_TIMEOUT");
  if (!text || !*text) return kDefaultConnectTimeout;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || seconds > 86400)
    throw SystemError(std::string("VIRTFORM_CONNECT_TIMEOUT=") + text +
                      ": not a number of seconds (at most a day)");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// One virConnectOpen on a thread of its own. An open that gives up waiting leaves it there, and
// the connection it makes, if it ever does, is closed at once.
struct OpenAttempt {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;       // guarded by mutex
  bool abandoned = false;  // guarded by mutex
  virConnectPtr connection = nullptr;
  std::string error;  // libvirt's message, read on the thread it is kept for
};

// libvirt has no open timeout: a listener that accepts and never answers (a hung daemon, a
// firewall's tarpit) keeps virConnectOpen waiting for ever.
virConnectPtr open_within_timeout(const std::string& uri) {
  const std::chrono::milliseconds timeout = connect_timeout();
  auto attempt = std::make_shared<OpenAttempt>();
  std::thread([attempt, uri] {
    virConnectPtr connection = virConnectOpen(uri.c_str());
    const std::string error = connection ? "" : virGetLastErrorMessage();
    std::lock_guard lock(attempt->mutex);
    if (attempt->abandoned) {
      if (connection) virConnectClose(connection);
      return;
    }
    attempt->connection = connection;
    attempt->error = error;
    attempt->done = true;
    attempt->finished.notify_all();
  }).detach();
  std::unique_lock lock(attempt->mutex);
  if (!attempt->finished.wait_for(lock, timeout, [&] { return attempt->done; })) {
    attempt->abandoned = true;
    char waited[32];
    std::snprintf(waited, sizeof waited, "%g s", static_cast<double>(timeout.count()) / 1000.0);
    throw SystemError("cannot connect to " + uri + ": no answer within " + waited +
                      "; is a libvirt daemon listening there? (VIRTFORM_CONNECT_TIMEOUT sets "
                      "the wait, in seconds)");
  }
  if (!attempt->connection) throw SystemError("cannot connect to " + uri + ": " + attempt->error);
  return attempt->connection;
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

bool reaches_over_network(const std::string& uri) {
  const auto separator = uri.find("://");
  if (separator == std::string::npos) return true;  // an alias or libvirt's default: unknown
  const std::string scheme = uri.substr(0, separator);
  const auto plus = scheme.find('+');
  if (plus != std::string::npos && scheme.substr(plus + 1) != "unix") return true;
  // Anything between "//" and the path names a host (or a user on one).
  const auto rest = uri.find_first_not_of('/', separator + 3);
  return rest != std::string::npos && rest == separator + 3;
}

Connection::Connection(const std::string& uri) : uri_(uri) {
  silence_libvirt_errors();
  const bool network = reaches_over_network(uri);
  if (network) start_event_loop();
  connection_ = open_within_timeout(uri);
  // Drivers that run in this process (test:///) have no keepalive and need none.
  if (network && virConnectSetKeepAlive(connection_, kKeepAliveInterval, kKeepAliveCount) < 0)
    virResetLastError();
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

std::vector<NetworkHandle> Connection::all_networks(unsigned int flags) const {
  virNetworkPtr* raw = nullptr;
  int count = virConnectListAllNetworks(connection_, &raw, flags);
  if (count < 0) throw_libvirt_error("cannot list networks on " + uri_);
  std::vector<NetworkHandle> networks;
  for (int i = 0; i < count; ++i) networks.emplace_back(raw[i]);
  free(raw);
  return networks;
}

}  // namespace virtform
