// A virsh loop edits the descriptions of three stopped guests while 20 applies, one after
// another, change their memory. A step re-reads its domain just before it writes: an edit made
// before the plan is merged and kept, one made between the plan and that re-read is refused, and
// the refusal names the domain. libvirt has no compare-and-swap define, so an edit that lands
// between the re-read and the define (one parse and one RPC) can still be overwritten. The test
// counts those, and checks that every edit lost was lost that way: it landed while an apply ran
// that wrote its domain without refusing it. Between two applies the loop makes one more edit of
// each domain while none runs: the next apply must keep it.
//
// The loop reads each description before it sets the next one, so it sees an edit put back
// unless its own next edit came first: the count is a lower bound.

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/faults/fault_helpers.h"

namespace virtform::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kApplies = 20;
constexpr const char* kKeys[] = {"a", "b", "c"};

// One loop per domain, until the stop file appears. Each line of <logs>/<domain>: the iteration,
// the times ($EPOCHREALTIME) before and after the edit, whether virsh made it (1 or 0), and the
// description read just before it.
constexpr const char* kEditLoop = R"sh(set -u
uri=$1 logs=$2 stop=$3
shift 3
edit() {
  local domain=$1 i=0 before_edit seen made
  while [ ! -e "$stop" ]; do
    i=$((i + 1))
    seen=$(virsh -q -c "$uri" desc "$domain" --config 2>/dev/null) || seen="(read failed)"
    before_edit=$EPOCHREALTIME
    made=1
    virsh -q -c "$uri" desc "$domain" --config "vf-edit $i $domain" >/dev/null 2>&1 || made=0
    echo "$i $before_edit $EPOCHREALTIME $made $seen" >>"$logs/$domain"
  done
}
for domain in "$@"; do edit "$domain" & done
wait
)sh";

// Seconds since the epoch, as bash's $EPOCHREALTIME counts them.
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::uint64_t memory_mib(int round) {
  return 128 + 4 * static_cast<std::uint64_t>(round);
}

std::string guests_toml(const Session& session, int round) {
  std::string toml = "project = " + quoted(session.project()) + "\n";
  for (const char* key : kKeys)
    toml += std::string("\n[vm.") + key + "]\nname = " + quoted(session.domain(key)) +
            "\ntype = \"qemu\"\nmemory = \"" + std::to_string(memory_mib(round)) +
            "MiB\"\nstate = \"stopped\"\n";
  return toml;
}

std::string edit_text(int iteration, const std::string& domain) {
  return "vf-edit " + std::to_string(iteration) + " " + domain;
}

// The <description> of a domain definition ("" when it has none).
std::string description_of(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("description").text().as_string();
}

std::string refusal(const std::string& domain) {
  return "domain '" + domain +
         "' changed since the plan (its definition was edited); run `virtform plan` again";
}

// One edit of the loop.
struct Edit {
  int iteration = 0;
  double before_edit = 0;
  double after_edit = 0;
  bool made = false;
  std::string seen;  // the description just before it
};

std::vector<Edit> edits_of(const fs::path& log) {
  std::vector<Edit> edits;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (in.eof()) break;  // a line the loop is still writing
    std::istringstream fields(line);
    Edit edit;
    int made = 0;
    fields >> edit.iteration >> edit.before_edit >> edit.after_edit >> made;
    if (!fields) FAIL(log << ": " << line);
    edit.made = made == 1;
    std::getline(fields >> std::ws, edit.seen);
    edits.push_back(edit);
  }
  return edits;
}

struct ApplyRun {
  int round = 0;
  double started = 0;
  double ended = 0;
  std::set<std::string> refused;  // the domains whose update it refused
};

// The domains whose update the apply refused. A step that failed must have been refused, with a
// message naming the domain of that step; nothing may be skipped, and every line that speaks of
// a change since the plan names one of the test's domains.
std::set<std::string> refused_domains(const ProcessResult& applied,
                                      const std::map<std::string, std::string>& domain_of_key) {
  std::set<std::string> ours;
  for (const auto& [key, domain] : domain_of_key) ours.insert(domain);
  std::set<std::string> refused;
  std::istringstream lines(applied.output());
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.find(": skipped") == std::string::npos);
    if (line.find("changed since the plan") != std::string::npos) {
      const auto named = std::count_if(ours.begin(), ours.end(), [&](const std::string& domain) {
        return line.find("domain '" + domain + "'") != std::string::npos;
      });
      CHECK(named == 1);
    }
    const auto failed = line.find("/update: FAILED after ");
    if (failed == std::string::npos) {
      CHECK(line.find("FAILED") == std::string::npos);
      continue;
    }
    const std::string step = line.substr(0, failed);
    const auto domain =
        step.starts_with("vm.") ? domain_of_key.find(step.substr(3)) : domain_of_key.end();
    REQUIRE(domain != domain_of_key.end());
    CHECK(line.ends_with(": " + refusal(domain->second)));
    refused.insert(domain->second);
  }
  return refused;
}

// Whether an edit landed while the apply ran.
bool during(const Edit& edit, const ApplyRun& run) {
  return edit.before_edit < run.ended && edit.after_edit > run.started;
}

// How many edits of one domain the loop saw overwritten. Each must have landed while an apply
// ran that wrote the domain without refusing it, and what came back must be an earlier edit of
// that domain (or none): what the step re-read.
int losses_of(const std::string& domain, const std::vector<Edit>& edits,
              const std::vector<ApplyRun>& runs) {
  int losses = 0;
  const Edit* last = nullptr;  // the last edit virsh made
  for (const Edit& edit : edits) {
    const std::string expected = last ? edit_text(last->iteration, domain) : "";
    if (edit.seen != expected) {
      INFO(domain << ": read \"" << edit.seen << "\" where it had written \"" << expected << "\"");
      REQUIRE(last);
      bool earlier_edit = edit.seen.empty();
      for (const Edit* earlier = edits.data(); earlier != last; ++earlier)
        earlier_edit |= earlier->made && edit_text(earlier->iteration, domain) == edit.seen;
      CHECK(earlier_edit);
      CHECK(std::any_of(runs.begin(), runs.end(), [&](const ApplyRun& run) {
        return during(*last, run) && !run.refused.count(domain);
      }));
      ++losses;
    }
    if (edit.made) last = &edit;
  }
  return losses;
}

// Waits until the loop has made an edit of each domain that began after `after`.
void wait_for_edits_after(const fs::path& logs, const std::vector<std::string>& domains,
                          double after) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (const std::string& domain : domains) {
    INFO("the loop's next edit of " << domain);
    while (true) {
      const std::vector<Edit> edits = edits_of(logs / domain);
      if (!edits.empty() && edits.back().before_edit > after) break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(20ms);
    }
  }
}

}  // namespace

TEST_CASE("outside edits made during 20 applies are kept or refused naming their domain",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  std::map<std::string, std::string> domain_of_key;
  std::vector<std::string> domains;
  for (const char* key : kKeys) {
    domain_of_key[key] = session.domain(key);
    domains.push_back(session.domain(key));
  }
  std::string config = session.write_config(guests_toml(session, 0));
  {
    const ProcessResult created = session.apply(config);
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
  }

  const fs::path logs = session.dir() / "edits";
  fs::create_directories(logs);
  const fs::path stop = session.dir() / "stop-editing";
  std::vector<std::string> loop_argv = {"bash", "-c",          kEditLoop,    "edit-loop",
                                        uri(),  logs.string(), stop.string()};
  loop_argv.insert(loop_argv.end(), domains.begin(), domains.end());
  Process loop(loop_argv, {{"LC_ALL", "C"}}, /*own_process_group=*/true);
  wait_for_edits_after(logs, domains, 0);

  // Each round changes only the memory of the same three domains: the first apply's plan showed
  // that nothing outside the sandbox changes, so the rounds apply directly.
  std::map<std::string, std::uint64_t> memory_kib_of;  // what each domain last took
  for (const std::string& domain : domains) memory_kib_of[domain] = memory_mib(0) * 1024;
  std::vector<ApplyRun> runs;
  for (int round = 1; round <= kApplies; ++round) {
    config = session.write_config(guests_toml(session, round));
    ApplyRun run{round, now_seconds(), 0, {}};
    const ProcessResult applied =
        session.virtform({"apply", config, "-c", uri(), "--auto-approve"});
    run.ended = now_seconds();
    INFO("apply " << round << "\n" << applied.describe());
    run.refused = refused_domains(applied, domain_of_key);
    CHECK(applied.exit_code == (run.refused.empty() ? 0 : 1));
    // A refused domain keeps its memory; every other one takes this round's.
    for (auto& [domain, memory] : memory_kib_of) {
      INFO(domain);
      const std::uint64_t now = memory_kib(libvirt.xml(domain, /*inactive=*/true));
      CHECK(now == (run.refused.count(domain) ? memory : memory_mib(round) * 1024));
      memory = now;
    }
    runs.push_back(run);
    wait_for_edits_after(logs, domains, run.ended);
  }
  std::ofstream(stop).put('\n');
  const ProcessResult stopped = loop.wait(1min);
  INFO("the edit loop: exit code " << stopped.exit_code << "\n" << stopped.err);
  REQUIRE(stopped.exit_code == 0);

  std::size_t edits = 0, raced = 0, refusals = 0;
  int lost = 0;
  for (const ApplyRun& run : runs) refusals += run.refused.size();
  for (const std::string& domain : domains) {
    const std::vector<Edit> made = edits_of(logs / domain);
    for (const Edit& edit : made) {
      INFO(domain << ": edit " << edit.iteration);
      CHECK(edit.made);
      ++edits;
      raced += std::any_of(runs.begin(), runs.end(),
                           [&](const ApplyRun& run) { return during(edit, run); });
    }
    lost += losses_of(domain, made, runs);
  }
  std::cout << "edit loop test: " << edits << " edits (" << raced << " while an apply ran), "
            << refusals << " of " << kApplies * std::size(kKeys) << " updates refused, " << lost
            << " edits seen lost between a step's re-read and its define" << std::endl;
  CHECK(raced > 0);

  // With the loop stopped, the last edits are made before the plan: merged, never refused.
  for (const std::string& domain : domains) {
    const ProcessResult described = run_process(
        {"virsh", "-q", "-c", uri(), "desc", domain, "--config", "vf-edit last " + domain});
    INFO(described.describe());
    REQUIRE(described.exit_code == 0);
  }
  config = session.write_config(guests_toml(session, kApplies + 1));
  const ProcessResult last = session.virtform({"apply", config, "-c", uri(), "--auto-approve"});
  INFO(last.describe());
  REQUIRE(last.exit_code == 0);
  for (const std::string& domain : domains) {
    INFO(domain);
    const std::string xml = libvirt.xml(domain, /*inactive=*/true);
    CHECK(description_of(xml) == "vf-edit last " + domain);
    CHECK(memory_kib(xml) == memory_mib(kApplies + 1) * 1024);
  }
  const ProcessResult again = detailed_plan(session, config);
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

}  // namespace virtform::e2e
