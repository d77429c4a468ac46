#pragma once
// The writers of every part of a domain definition virtform owns, in one pass: an update runs it
// over the live definition (merge_domain_xml), a new domain over its skeleton
// (render_domain_xml), so each part has one writer.

#include <pugixml.hpp>

#include "engine/model/vm.h"

namespace virtform {

// Patches the owned parts of `desired` into <domain>, the marker and the fragments included.
// What it does not own stays; devices it keeps keep their addresses and aliases.
void merge_into_domain(pugi::xml_node domain, const Vm& desired);

}  // namespace virtform
