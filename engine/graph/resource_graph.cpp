#include "engine/graph/resource_graph.h"

// Boost 1.74's edge iterators hold a boost::optional that GCC 12 wrongly reports as possibly
// uninitialised once inlined here; the warning is about Boost's code, not this file's.
// clang has no such warning (nor the false report) and would warn about the unknown name.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/graph/topological_sort.hpp>
#include <map>
#include <set>
#include <sstream>

#include "engine/model/text.h"

namespace virtform {

namespace {

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
using Vertex = Graph::vertex_descriptor;

Step make_step(const Change& change, StepKind kind, std::string target) {
  Step step;
  step.id = change.address + "/" + to_string(kind);
  step.kind = kind;
  step.address = change.address;
  step.target = std::move(target);
  return step;
}

void chain(std::vector<Step>& steps, Step step) {
  if (!steps.empty()) step.after.push_back(steps.back().id);
  steps.push_back(std::move(step));
}

// One step per operation, in the order of VmOperations; the update step carries every operation
// that rides on the redefinition. Until a rename or a define, the steps act on the live domain's
// name; after, on the desired one.
std::vector<Step> vm_steps(const Change& change) {
  const VmOperations& operations = change.operations;
  const std::string& live = change.live_name;
  const std::string& name = change.desired ? change.desired->name : live;
  std::vector<Step> steps;
  if (operations.shut_down) chain(steps, make_step(change, StepKind::stop, live));
  if (operations.undefine) chain(steps, make_step(change, StepKind::undefine, live));
  if (operations.rename) chain(steps, make_step(change, StepKind::rename, live));
  if (operations.define) chain(steps, make_step(change, StepKind::define, name));
  if (operations.redefine) chain(steps, make_step(change, StepKind::update, name));
  switch (operations.power) {
    case PowerOperation::start:
      chain(steps, make_step(change, StepKind::start, name));
      break;
    case PowerOperation::stop:
      // A guest shut down first stays so.
      if (!operations.shut_down) chain(steps, make_step(change, StepKind::stop, name));
      break;
    case PowerOperation::restart:
      chain(steps, make_step(change, StepKind::restart, name));
      break;
    case PowerOperation::none:
      break;
  }
  return steps;
}

std::vector<Step> steps_for(const Change& change) {
  if (change.action == Action::none) return {};
  switch (change.kind) {
    case ResourceKind::vm:
      return vm_steps(change);
    case ResourceKind::image:
      return {make_step(change, StepKind::create_image, change.name)};
    case ResourceKind::pci:
      return {make_step(
          change,
          change.action == Action::remove ? StepKind::restore_driver : StepKind::bind_driver,
          change.name)};
    case ResourceKind::loader:
    case ResourceKind::network:
    case ResourceKind::bridge:
      return {};
  }
  return {};
}

class StepGraph {
 public:
  StepGraph(const std::vector<Change>& changes, Diagnostics& diagnostics)
      : changes_(changes), diagnostics_(diagnostics) {}

  std::vector<Step> ordered() {
    collect_steps();
    if (!link_dependencies() || !acyclic_resources()) return {};
    return sort();
  }

 private:
  void collect_steps() {
    for (const Change& change : changes_) {
      by_address_[change.address] = &change;
      for (Step& step : steps_for(change)) {
        steps_of_[change.address].push_back(step.id);
        index_[step.id] = steps_.size();
        steps_.push_back(std::move(step));
      }
    }
  }

  // A resource's steps wait for those of what it depends on; when the dependency is being
  // removed, the order turns around: the dependent goes first.
  bool link_dependencies() {
    bool ok = true;
    for (const Change& change : changes_) {
      for (const std::string& dependency : change.depends_on) {
        auto found = by_address_.find(dependency);
        if (found == by_address_.end()) {
          diagnostics_.push_back({Severity::error,
                                  "depends on " + dependency + ", which is neither declared nor " +
                                      "present on the host",
                                  {},
                                  change.address});
          ok = false;
          continue;
        }
        if (found->second->action == Action::remove) {
          order(change.address, dependency);
        } else {
          order(dependency, change.address);
        }
      }
    }
    return ok;
  }

  // Every step of `first` comes before the first step of `then`.
  void order(const std::string& first, const std::string& then) {
    const auto& before = steps_of_[first];
    const auto& after = steps_of_[then];
    if (before.empty() || after.empty()) return;
    Step& head = steps_[index_[after.front()]];
    head.after.insert(head.after.end(), before.begin(), before.end());
  }

  // Cycles are looked for between resources, so the message names what the user declared.
  bool acyclic_resources() {
    Graph graph(changes_.size());
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < changes_.size(); ++i) position[changes_[i].address] = i;
    std::vector<std::string> names;
    for (const Change& change : changes_) names.push_back(change.address);
    for (std::size_t i = 0; i < changes_.size(); ++i)
      for (const std::string& dependency : changes_[i].depends_on)
        boost::add_edge(position.at(dependency), i, graph);
    return report_cycles(graph, names) == 0;
  }

  std::vector<Step> sort() {
    Graph graph(steps_.size());
    for (std::size_t i = 0; i < steps_.size(); ++i)
      for (const std::string& id : steps_[i].after) boost::add_edge(index_.at(id), i, graph);
    std::vector<Vertex> reversed;
    try {
      boost::topological_sort(graph, std::back_inserter(reversed));
    } catch (const boost::not_a_dag&) {
      std::vector<std::string> names;
      for (const Step& step : steps_) names.push_back(step.address);
      report_cycles(graph, names);
      return {};
    }
    std::vector<Step> result;
    for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) result.push_back(steps_[*it]);
    return result;
  }

  // One error per strongly connected component with more than one vertex (or a self-loop),
  // naming the resources in it. Returns how many were found.
  int report_cycles(const Graph& graph, const std::vector<std::string>& names) {
    std::vector<int> component(boost::num_vertices(graph));
    const int count = boost::strong_components(
        graph, boost::make_iterator_property_map(component.begin(),
                                                 boost::get(boost::vertex_index, graph)));
    std::vector<std::set<std::string>> members(static_cast<std::size_t>(count));
    std::vector<std::size_t> sizes(static_cast<std::size_t>(count), 0);
    for (std::size_t v = 0; v < component.size(); ++v) {
      const auto c = static_cast<std::size_t>(component[v]);
      members[c].insert(names[v]);
      ++sizes[c];
    }
    std::set<std::size_t> cyclic;
    for (std::size_t c = 0; c < sizes.size(); ++c)
      if (sizes[c] > 1) cyclic.insert(c);
    for (auto [edge, end] = boost::edges(graph); edge != end; ++edge)
      if (boost::source(*edge, graph) == boost::target(*edge, graph))
        cyclic.insert(static_cast<std::size_t>(component[boost::source(*edge, graph)]));
    for (std::size_t c : cyclic) {
      const std::string list = join({members[c].begin(), members[c].end()}, ", ");
      diagnostics_.push_back({Severity::error,
                              "dependency cycle between " + list + "; break one of the references",
                              {},
                              *members[c].begin()});
    }
    return static_cast<int>(cyclic.size());
  }

  const std::vector<Change>& changes_;
  Diagnostics& diagnostics_;
  std::vector<Step> steps_;
  std::map<std::string, std::size_t> index_;                  // step id -> position
  std::map<std::string, std::vector<std::string>> steps_of_;  // address -> step ids
  std::map<std::string, const Change*> by_address_;
};

}  // namespace

std::vector<Step> order_steps(const std::vector<Change>& changes, Diagnostics& diagnostics) {
  return StepGraph(changes, diagnostics).ordered();
}

std::string to_dot(const std::vector<Change>& changes) {
  Graph graph(changes.size());
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < changes.size(); ++i) index[changes[i].address] = i;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (const std::string& dependency : changes[i].depends_on) {
      auto found = index.find(dependency);
      if (found != index.end()) boost::add_edge(found->second, i, graph);
    }
  }
  auto label = [&](std::ostream& out, Vertex v) {
    const Change& change = changes[v];
    std::string text = change.address;
    if (change.action != Action::none) text = symbol(change.action) + " " + text;
    out << "[label=" << boost::escape_dot_string(text)
        << ", action=" << boost::escape_dot_string(to_string(change.action)) << "]";
  };
  std::ostringstream out;
  boost::write_graphviz(out, graph, label);
  return out.str();
}

}  // namespace virtform
