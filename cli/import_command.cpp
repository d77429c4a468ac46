// virtform import NAME...: TOML that declares existing domains exactly as they are, so that
// applying it (adopting unmanaged ones) plans no changes. What virtform's vocabulary cannot say
// is printed as a warning and written as a comment; the domain keeps it either way.

#include <iostream>

#include "cli/commands.h"
#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/file_writer.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/libvirt_hypervisor.h"

namespace virtform {

namespace {

// Each named domain with what its XML holds beyond the model; a missing name is an error.
std::vector<ImportSource> read_domains(const Live& live, const std::vector<std::string>& names,
                                       Diagnostics& diagnostics) {
  std::vector<ImportSource> sources;
  for (const std::string& name : names) {
    const LiveDomain* domain = live.find_domain(name);
    if (!domain) {
      diagnostics.push_back(
          {Severity::error, "no domain named '" + name + "' (see `virsh list --all`)", {}, ""});
      continue;
    }
    ImportSource source{*domain, {}, importable_fragments(domain->xml)};
    parse_domain_xml(domain->xml, &source.unexpressed);
    sources.push_back(std::move(source));
  }
  return sources;
}

bool write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return bool(std::cout);
  }
  try {
    write_file_atomically(path, text);
    return true;
  } catch (const SystemError& error) {
    std::cerr << "error: " << error.what() << "\n";
    return false;
  }
}

}  // namespace

int run_import(const CommonOptions& options, const ImportOptions& import_options) {
  Session session = open_session(options, /*config_required=*/false);
  LibvirtHypervisor hypervisor(session.uri, read_threads(options));
  const Live live = hypervisor.read_live();

  Diagnostics diagnostics;
  const std::vector<ImportSource> sources = read_domains(live, import_options.domains, diagnostics);
  if (has_errors(diagnostics)) {
    for (const Diagnostic& diagnostic : diagnostics) std::cerr << format(diagnostic) << "\n";
    return kExitError;
  }
  const Desired desired = desired_from_live(sources, *session.files, diagnostics);
  for (const Diagnostic& diagnostic : diagnostics) std::cerr << format(diagnostic) << "\n";
  if (has_errors(diagnostics)) return kExitError;  // nothing written: no half an import
  return write_output(import_options.output, render_config_toml(desired, diagnostics)) ? kExitOk
                                                                                       : kExitError;
}

}  // namespace virtform
