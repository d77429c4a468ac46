#include "engine/plan/fragment_diff.h"

#include <algorithm>

namespace virtform {
namespace {

bool present(const XmlFragment& fragment, const LiveDomain& live) {
  return std::any_of(live.unowned.begin(), live.unowned.end(), [&](const XmlFragment& element) {
    return element.parent == fragment.parent && contains(element.element, fragment.element);
  });
}

bool declared(const Vm& desired, const XmlFragment& fragment) {
  return std::any_of(desired.xml.begin(), desired.xml.end(), [&](const XmlFragment& wanted) {
    return wanted.parent == fragment.parent && wanted.xml == fragment.xml;
  });
}

}  // namespace

std::vector<FieldChange> fragment_changes(const Vm& desired, const LiveDomain& live,
                                          Disruption disruption) {
  // What virtform wrote that is still there and no longer declared: taken out, or replaced by a
  // declared fragment of the same path.
  std::vector<const XmlFragment*> stale;
  for (const XmlFragment& recorded : live.vm.xml)
    if (!declared(desired, recorded) && present(recorded, live)) stale.push_back(&recorded);
  std::vector<FieldChange> fields;
  for (const XmlFragment& wanted : desired.xml) {
    if (present(wanted, live)) continue;
    auto replaced = std::find_if(stale.begin(), stale.end(), [&](const XmlFragment* recorded) {
      return recorded->path() == wanted.path();
    });
    std::string before;
    if (replaced != stale.end()) {
      before = (*replaced)->xml;
      stale.erase(replaced);
    }
    fields.push_back({fragment_label(wanted), before, wanted.xml, disruption});
  }
  for (const XmlFragment* recorded : stale)
    fields.push_back({fragment_label(*recorded), recorded->xml, "", disruption});
  return fields;
}

}  // namespace virtform
