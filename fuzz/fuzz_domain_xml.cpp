// libFuzzer target: libvirt domain XML -> LiveDomain, as plan reads each domain of the host
// (parse_domain_xml, then the recorded autostart of a captured host). XML that is not
// well-formed is refused with SystemError, which the CLI reports; anything else escaping (or a
// sanitizer report) is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/system/hypervisor.h"
#include "providers/libvirt/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  try {
    // With `unexpressed`, as import reads it: the same reader plus its warnings.
    virtform::Diagnostics unexpressed;
    virtform::LiveDomain live = virtform::parse_domain_xml(xml, &unexpressed);
    live.vm.autostart = virtform::recorded_autostart(xml);
  } catch (const virtform::SystemError&) {
    // A clean refusal: the message names the domain definition and the XML error.
  }
  return 0;
}
