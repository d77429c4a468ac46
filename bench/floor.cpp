// The floor of `virtform plan`: only the work no planner can avoid. Open the connection, list
// every domain once, fetch each one's persistent (inactive) XML. Prints the wall time of that
// work, so run.sh can set plan's time beside it.
//
//   bench_floor [URI] [--with-state]     default qemu:///system
//
// --with-state also asks, per domain, what plan asks besides the XML (is it active, does it
// autostart): two more round trips each, to show what they cost.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace virtform {
namespace {

struct FloorResult {
  int domains = 0;
  std::size_t xml_bytes = 0;  // kept so the fetched XML is visibly used
};

// Fetches every domain's inactive XML (and its state with `with_state`); frees each domain as it
// goes. False on a libvirt error.
bool fetch_all_definitions(virConnectPtr connection, bool with_state, FloorResult& result) {
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(connection, &domains, 0);
  if (count < 0) {
    result.domains = -1;
    return false;
  }
  bool ok = true;
  for (int i = 0; i < count; ++i) {
    char* xml = virDomainGetXMLDesc(domains[i], VIR_DOMAIN_XML_INACTIVE);
    if (xml == nullptr) {
      ok = false;  // a domain undefined by someone else meanwhile; keep going, like plan
    } else {
      result.xml_bytes += std::strlen(xml);
      std::free(xml);
    }
    int autostart = 0;
    if (with_state &&
        (virDomainIsActive(domains[i]) < 0 || virDomainGetAutostart(domains[i], &autostart) < 0)) {
      ok = false;
    }
    virDomainFree(domains[i]);
  }
  std::free(domains);
  result.domains = count;
  return ok;
}

int run(const char* uri, bool with_state) {
  const auto start = std::chrono::steady_clock::now();
  virConnectPtr connection = virConnectOpen(uri);
  if (connection == nullptr) {
    std::fprintf(stderr, "bench_floor: cannot connect to %s\n", uri);
    return 1;
  }
  FloorResult result;
  const bool complete = fetch_all_definitions(connection, with_state, result);
  virConnectClose(connection);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  std::printf("FLOOR domains=%d xml_bytes=%zu ms=%.3f%s\n", result.domains, result.xml_bytes, ms,
              complete ? "" : " incomplete=1");
  return result.domains < 0 ? 1 : 0;
}

}  // namespace
}  // namespace virtform

int main(int argc, char** argv) {
  // libvirt's default handler prints every error; the floor reports its own.
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  const bool with_state = argc > 2 && std::strcmp(argv[2], "--with-state") == 0;
  return virtform::run(argc > 1 ? argv[1] : "qemu:///system", with_state);
}
