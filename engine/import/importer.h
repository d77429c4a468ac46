#pragma once
// Live domains -> configuration (virtform import): the model read back from libvirt becomes the
// Desired that declares it exactly as it is, in the vocabulary of docs/configuration.md (written
// as TOML by engine/render/config_toml.h). Applying the result plans no changes; what the
// vocabulary cannot say is reported, never dropped from the domain (updates keep what they do not
// own).

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/system/host_files.h"

namespace virtform {

// A valid resource key from any name: letters, digits, '-' and '_' are kept, anything else
// becomes '-'. "Windows 11" -> "Windows-11".
std::string resource_key_from(const std::string& name);

// One live domain to import, with what parse_domain_xml could not express about it.
struct ImportSource {
  LiveDomain domain;
  Diagnostics unexpressed;  // warnings whose resource is "vm.<key as libvirt reads it>"
  // Elements no key owns that import declares as [[vm.X.xml]], so the config keeps them.
  std::vector<XmlFragment> fragments;
};

// The configuration that declares the domains as they are. Keys come from virtform's marker, else
// from the domain name; a raw file disk on usb booted first becomes a [loader.X]; unmanaged
// domains get adopt = true; the project is the managed domains' one. UEFI variable templates the
// live domain does not name are taken from QEMU's firmware descriptors in `files`. Everything
// that cannot be expressed lands in `warnings` ("not expressed in virtform: ...", resource
// "vm.<key>"). A domain naming a relative path is left out, with an error in `warnings`: the
// config could not declare it, and a plan would refuse the TOML.
Desired desired_from_live(const std::vector<ImportSource>& sources, const HostFiles& files,
                          Diagnostics& warnings);

}  // namespace virtform
