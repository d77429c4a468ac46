#pragma once
// The libvirt side of engine/model/vm_fields.h: where each table-driven attribute lives in domain
// XML, and how a running guest takes one whose row says it is live. One row per attribute.

#include <libvirt/libvirt.h>

#include <optional>
#include <pugixml.hpp>
#include <span>
#include <string>
#include <string_view>

#include "engine/model/vm.h"

namespace virtform {

struct DomainField {
  std::string_view key;  // the key of its engine row
  // What it lives in, as a path below <domain> (field_path.h): an element the key owns whole
  // ("on_crash", "os/bootmenu"), or a part of one that several rows share, owned only where the
  // VM sets the row ("features/hyperv/relaxed/@state", "clock/@offset"; domain_ownership.h).
  std::string_view path;
  // The value in a <domain>, or nothing when it says nothing.
  std::optional<std::string> (*read)(const pugi::xml_node& domain);
  // Writes the value into a <domain>, replacing what was there.
  void (*write)(pugi::xml_node domain, const std::string& value);
  // Gives the running guest the value (virDomain* with VIR_DOMAIN_AFFECT_LIVE); -1 on failure,
  // with libvirt's error set. Only for rows whose engine row is FieldTiming::live.
  int (*set_live)(virDomainPtr domain, const std::string& value);
  // Which of the elements at `path` it owns, for a path it shares (a <channel> by its target's
  // name, the first <video>); nullptr: every one.
  bool (*expresses)(const pugi::xml_node& element) = nullptr;
};

std::span<const DomainField> domain_fields();
const DomainField* find_domain_field(std::string_view key);

// Whether an element rows share says what they read: <hyperv> in libvirt's custom mode (in
// passthrough mode the guest gets the host's set whatever it lists), a <clock> at an offset
// clock.offset takes. Elsewhere its rows read nothing and import takes the element whole.
bool lists_enlightenments(const pugi::xml_node& hyperv);
bool is_plain_clock(const pugi::xml_node& clock);

// Every attribute the domain has into vm.attributes.
void read_attributes(const pugi::xml_node& domain, Vm& vm);
// Takes out the TPM the domain's marker records virtform writing when `desired` declares none;
// libvirt keeps an emulated one's state on the host.
void take_out_undeclared_tpm(pugi::xml_node domain, const Vm& desired);
// Every attribute `vm` sets, into the domain.
void write_attributes(pugi::xml_node domain, const Vm& vm);

}  // namespace virtform
