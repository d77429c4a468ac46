// The floor of `virtform plan`: only the work no planner can avoid. Open the connection, list
// every domain once, fetch each one's persistent (inactive) XML. Prints the wall time of that
// work, so run.sh can set plan's time beside it.
//
//   bench_floor [URI] [--with-state] [--threads N] [--keepalive]
//                                                      default qemu:///system, 1 thread
//
// --with-state also asks, per domain, what plan asks besides the XML (is it active, does it
// autostart): two more round trips each, to show what they cost.
// --threads N fetches on N threads sharing the one connection, each taking the next domain of
// the listing: the floor of a planner that reads N domains at once.
// --keepalive runs libvirt's default event loop on a thread of its own and turns on keepalive
// (every 5 s, 3 missed), as virtform does to notice a daemon that stops answering: every call
// then also wakes the event loop, which is what that safety costs.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace virtform {
namespace {

struct FloorResult {
  int domains = 0;
  std::size_t xml_bytes = 0;  // kept so the fetched XML is visibly used
};

// Fetches one domain's inactive XML (and its state with `with_state`). False on a libvirt error:
// a domain undefined by someone else meanwhile; the floor keeps going, like plan.
bool fetch_definition(virDomainPtr domain, bool with_state, std::size_t& xml_bytes) {
  char* xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
  if (xml == nullptr) return false;
  xml_bytes += std::strlen(xml);
  std::free(xml);
  int autostart = 0;
  return !with_state ||
         (virDomainIsActive(domain) >= 0 && virDomainGetAutostart(domain, &autostart) >= 0);
}

// Fetches every domain's definition on `threads` threads, each taking the next index; frees the
// domains at the end. False on a libvirt error.
bool fetch_all_definitions(virConnectPtr connection, bool with_state, int threads,
                           FloorResult& result) {
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(connection, &domains, 0);
  if (count < 0) {
    result.domains = -1;
    return false;
  }
  std::atomic<int> next{0};
  std::atomic<bool> ok{true};
  std::atomic<std::size_t> xml_bytes{0};
  auto work = [&] {
    std::size_t bytes = 0;
    for (int i; (i = next.fetch_add(1)) < count;)
      if (!fetch_definition(domains[i], with_state, bytes)) ok = false;
    xml_bytes += bytes;
  };
  {
    std::vector<std::jthread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
  }
  for (int i = 0; i < count; ++i) virDomainFree(domains[i]);
  std::free(domains);
  result.domains = count;
  result.xml_bytes = xml_bytes;
  return ok;
}

struct FloorOptions {
  const char* uri = "qemu:///system";
  bool with_state = false;
  int threads = 1;
  bool keepalive = false;
};

int run(const FloorOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.keepalive && virEventRegisterDefaultImpl() == 0) {
    std::thread([] {
      while (virEventRunDefaultImpl() == 0) {
      }
    }).detach();
  }
  virConnectPtr connection = virConnectOpen(options.uri);
  if (connection == nullptr) {
    std::fprintf(stderr, "bench_floor: cannot connect to %s\n", options.uri);
    return 1;
  }
  if (options.keepalive && virConnectSetKeepAlive(connection, 5, 3) < 0) {
    std::fprintf(stderr, "bench_floor: %s has no keepalive\n", options.uri);
  }
  FloorResult result;
  const bool complete =
      fetch_all_definitions(connection, options.with_state, options.threads, result);
  virConnectClose(connection);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  std::printf("FLOOR domains=%d threads=%d keepalive=%d xml_bytes=%zu ms=%.3f%s\n", result.domains,
              options.threads, options.keepalive ? 1 : 0, result.xml_bytes, ms,
              complete ? "" : " incomplete=1");
  return result.domains < 0 ? 1 : 0;
}

}  // namespace
}  // namespace virtform

int main(int argc, char** argv) {
  // libvirt's default handler prints every error; the floor reports its own.
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  virtform::FloorOptions options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--with-state") == 0) {
      options.with_state = true;
    } else if (std::strcmp(argv[i], "--keepalive") == 0) {
      options.keepalive = true;
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      options.threads = std::atoi(argv[++i]);
      if (options.threads < 1 || options.threads > 256) {
        std::fprintf(stderr, "bench_floor: --threads %s: not a number from 1 to 256\n", argv[i]);
        return 2;
      }
    } else if (argv[i][0] != '-') {
      options.uri = argv[i];
    } else {
      std::fprintf(stderr, "usage: bench_floor [URI] [--with-state] [--threads N] [--keepalive]\n");
      return 2;
    }
  }
  return virtform::run(options);
}
