// virtform __complete: what the shell completion scripts offer, asked of the command line itself.
// Commands and flags come from the CLI11 app, values by the kind of each option, domain names
// from libvirt (its test driver here).

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "support/counting_listener.h"
#include "support/process.h"

namespace virtform {
namespace {

const std::string kDemoHost =
    "test://" + std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host/host.xml";

struct Offer {
  std::string kind;  // words, files or dirs
  std::vector<std::string> candidates;
};

Offer complete(const std::vector<std::string>& words) {
  std::vector<std::string> argv = {VIRTFORM_BINARY, "__complete"};
  argv.insert(argv.end(), words.begin(), words.end());
  const ProcessResult result = run_process(argv, {}, std::chrono::seconds(30));
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  Offer offer;
  std::istringstream in(result.out);
  std::getline(in, offer.kind);
  for (std::string line; std::getline(in, line);) offer.candidates.push_back(line);
  return offer;
}

bool has(const std::vector<std::string>& candidates, const std::string& candidate) {
  return std::find(candidates.begin(), candidates.end(), candidate) != candidates.end();
}

}  // namespace

TEST_CASE("__complete offers the commands, those starting with the word typed", "[complete]") {
  const Offer all = complete({""});
  CHECK(all.kind == "words");
  CHECK(all.candidates == std::vector<std::string>{"validate", "plan", "apply", "host", "graph",
                                                   "import", "capture"});
  CHECK(complete({"p"}).candidates == std::vector<std::string>{"plan"});
  CHECK(complete({"-"}).candidates == std::vector<std::string>{"-h", "--help", "--version"});
}

TEST_CASE("__complete offers a command's own flags", "[complete]") {
  const Offer plan = complete({"plan", "-"});
  CHECK(plan.kind == "words");
  for (const char* flag : {"--json", "--out", "--restart", "-c", "--connect", "--host",
                           "--host-root", "--detailed-exitcode", "--no-color", "-v"})
    CHECK(has(plan.candidates, flag));
  CHECK_FALSE(has(plan.candidates, "--auto-approve"));
  CHECK(complete({"apply", "--a"}).candidates == std::vector<std::string>{"--auto-approve"});
  // Flags already typed do not change what the command takes.
  CHECK(has(complete({"apply", "--restart", "--pa"}).candidates, "--parallelism"));
}

TEST_CASE("__complete asks the shell for files or directories by the option's kind", "[complete]") {
  CHECK(complete({"plan", ""}).kind == "files");
  CHECK(complete({"plan", "--out", ""}).kind == "files");
  CHECK(complete({"apply", "--plan", "pl"}).kind == "files");
  CHECK(complete({"plan", "--host", ""}).kind == "dirs");
  CHECK(complete({"host", "--host-root", "/s"}).kind == "dirs");
  CHECK(complete({"capture", ""}).kind == "dirs");
  CHECK(complete({"import", "-o", ""}).kind == "files");
  // A value virtform cannot guess (a URI, a number) offers nothing.
  const Offer uri = complete({"plan", "-c", ""});
  CHECK(uri.kind == "words");
  CHECK(uri.candidates.empty());
  CHECK(complete({"apply", "--parallelism", ""}).candidates.empty());
}

TEST_CASE("__complete offers the domain names of the host import connects to", "[complete]") {
  CHECK(complete({"import", "-c", "test:///default", ""}).candidates ==
        std::vector<std::string>{"test"});
  const Offer demo = complete({"import", "--connect", kDemoHost, "h"});
  CHECK(demo.kind == "words");
  CHECK(demo.candidates == std::vector<std::string>{"homeassistant"});
  CHECK(complete({"import", "--connect=" + kDemoHost, ""}).candidates ==
        std::vector<std::string>{"homeassistant"});
  // A domain already named is not offered again.
  CHECK(complete({"import", "-c", kDemoHost, "homeassistant", ""}).candidates.empty());
}

TEST_CASE("__complete takes the URI from LIBVIRT_DEFAULT_URI when none is typed", "[complete]") {
  const ProcessResult result = run_process({VIRTFORM_BINARY, "__complete", "import", ""},
                                           {{"LIBVIRT_DEFAULT_URI", "test:///default"}});
  INFO(result.describe());
  CHECK(result.out == "words\ntest\n");
}

TEST_CASE("__complete offers nothing, and does not fail, where it cannot read", "[complete]") {
  // A remote host is never contacted: no network wait, no ssh password prompt.
  testing::CountingListener remote;
  CHECK(complete({"import", "-c", remote.uri(), ""}).candidates.empty());
  CHECK(remote.accepted() == 0);
  CHECK(complete({"import", "-c", "test:///nonexistent/host.xml", ""}).candidates.empty());
  CHECK(complete({"nosuchcommand", "-"}).candidates.empty());
}

}  // namespace virtform
