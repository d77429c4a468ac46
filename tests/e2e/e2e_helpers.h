#pragma once
// Small helpers shared by the end-to-end tests: TOML text for the test guests and facts read
// from libvirt's domain XML.

#include <cstdint>
#include <filesystem>
#include <pugixml.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "tests/support/e2e.h"

namespace virtform::e2e {

// A TOML basic string.
inline std::string quoted(const std::string& text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') result += '\\';
    result += c;
  }
  return result + "\"";
}

// A size element under <domain> (<memory>, <currentMemory>) of a domain definition, in KiB.
inline std::uint64_t size_kib(const std::string& domain_xml, const char* element) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  pugi::xml_node memory = document.child("domain").child(element);
  std::uint64_t value = memory.text().as_ullong();
  std::string unit = memory.attribute("unit").as_string("KiB");
  if (unit == "MiB") value *= 1024;
  if (unit == "GiB") value *= 1024 * 1024;
  return value;
}

// The <memory> of a domain definition, in KiB.
inline std::uint64_t memory_kib(const std::string& domain_xml) {
  return size_kib(domain_xml, "memory");
}

// The <vcpu> count of a domain definition.
inline unsigned vcpu_count(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("vcpu").text().as_uint();
}

// The <uuid> of a domain definition.
inline std::string domain_uuid(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("uuid").text().as_string();
}

// A [vm.<key>] booting the e2e guest kernel directly under TCG, with a serial console the tests
// read. `initrd` picks the guest's behaviour (GuestImages::initrd_acpi or initrd_ignore).
inline std::string kernel_guest_toml(const std::string& key, const std::string& name,
                                     const std::string& initrd, const std::string& memory,
                                     unsigned vcpus, const std::string& policy_lines) {
  const GuestImages& guest = guest_images();
  return "[vm." + key + "]\n" +                           //
         "name = " + quoted(name) + "\n" +                //
         "type = \"qemu\"\n" +                            //
         "memory = " + quoted(memory) + "\n" +            //
         "vcpus = " + std::to_string(vcpus) + "\n" +      //
         "kernel = " + quoted(guest.kernel) + "\n" +      //
         "initrd = " + quoted(initrd) + "\n" +            //
         "cmdline = \"console=ttyS0 quiet\"\n" +          //
         "state = \"running\"\n" + policy_lines + "\n" +  //
         "[vm." + key + ".serial]\n" +                    //
         "type = \"pty\"\n";
}

// Removes what libvirt keeps of a domain beside its definition (the emulated TPM's state and
// log, and a store libvirt named itself), whatever happens in between: the test makes them, and
// a passing run shows virtform kept them. Declared before the Session, so that it runs after
// the session removed the domain.
struct KeptStateRemover {
  std::vector<std::filesystem::path> paths;
  ~KeptStateRemover() {
    std::error_code ignored;
    for (const auto& path : paths) std::filesystem::remove_all(path, ignored);
  }
  void add_tpm_of(const std::string& uuid, const std::string& name) {
    paths.push_back("/var/lib/libvirt/swtpm/" + uuid);
    paths.push_back("/var/log/swtpm/libvirt/qemu/" + name + "-swtpm.log");
  }
};

// What the guests print once they wait for (or ignore) the power button.
inline constexpr const char* kGuestReady = "virtform-guest: ready";

// The plan's change of the session's one guest (the last, where there are several), or null.
inline nlohmann::json guest_change(const Session& session, const nlohmann::json& plan) {
  nlohmann::json guest;
  for (const nlohmann::json& change : changes_inside(plan, session.prefix())) guest = change;
  return guest;
}

}  // namespace virtform::e2e
