#pragma once
// What a plan was computed from, reduced to one digest per resource it depends on, so that a
// saved plan can be refused once the host has moved on, naming what moved.

#include <map>
#include <string>
#include <vector>

#include "engine/model/vm.h"

namespace virtform {

// "domain DSM" -> digest of its definition, power state and autostart; "network default",
// "file /path", "pci 0000:08:00.0" -> their state. Only what the plan looked at is included:
// every managed domain and every resource a declared VM names.
using Fingerprint = std::map<std::string, std::string>;

Fingerprint fingerprint(const Desired& desired, const Live& live);

// The digest a fingerprint holds for one domain: its persistent definition, power state and
// autostart. Apply compares it before each step that writes the domain.
std::string domain_fingerprint(const LiveDomain& domain);

// Digest of the declared model (not of the TOML text: comments and layout do not matter).
std::string config_digest(const Desired& desired);

// What differs between the fingerprint a plan was made from and the host now, one line each:
// "domain 'DSM' changed", "file /x appeared". Empty when nothing did.
std::vector<std::string> staleness(const Fingerprint& then, const Fingerprint& now);

}  // namespace virtform
