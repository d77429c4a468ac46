// The shell completion scripts of dist/completion, run in the real shells: bash's completion
// function called as bash calls it (COMP_WORDS, COMP_CWORD), fish's `complete -C`, and zsh's
// script parsed. What they offer is what `virtform __complete` says.

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

const std::string kCompletion = std::string(VIRTFORM_SOURCE_DIR) + "/dist/completion";
const std::string kDemoHostFile = std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host/host.xml";

// The lines `script` prints in a bash that has loaded the completion script, run in `directory`.
std::vector<std::string> bash_lines(const std::string& script, const std::string& directory = ".") {
  const std::string program =
      "cd '" + directory + "' && source '" + kCompletion + "/virtform.bash' && " + script;
  const ProcessResult result = run_process({"bash", "--norc", "--noprofile", "-c", program});
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  std::vector<std::string> lines;
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// COMPREPLY after bash's completion of the last of `words` (as bash splits them: at ':' too).
std::vector<std::string> bash_complete(const std::vector<std::string>& words,
                                       const std::string& directory = ".") {
  std::string array = "'" + std::string(VIRTFORM_BINARY) + "'";
  for (const std::string& word : words) array += " '" + word + "'";
  return bash_lines("COMP_WORDS=(" + array + "); COMP_CWORD=" + std::to_string(words.size()) +
                        "; _virtform; printf '%s\\n' \"${COMPREPLY[@]}\"",
                    directory);
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("bash: the script registers its function for virtform", "[completion]") {
  CHECK(bash_lines("complete -p virtform") ==
        std::vector<std::string>{"complete -F _virtform virtform"});
}

TEST_CASE("bash completes commands and a command's flags", "[completion]") {
  CHECK(bash_complete({"pl"}) == std::vector<std::string>{"plan"});
  CHECK(bash_complete({"plan", "--de"}) == std::vector<std::string>{"--detailed-exitcode"});
  const std::vector<std::string> apply = bash_complete({"apply", "--"});
  CHECK(has(apply, "--auto-approve"));
  CHECK(has(apply, "--parallelism"));
  CHECK_FALSE(has(apply, "--json"));
}

TEST_CASE("bash completes file names for paths and directories for --host", "[completion]") {
  TempDir dir{"virtform-completion"};
  dir.write_file("nas.toml", "");
  std::filesystem::create_directory(dir.path() + "/snapshot");
  CHECK(bash_complete({"plan", "n"}, dir.path()) == std::vector<std::string>{"nas.toml"});
  CHECK(bash_complete({"plan", "--host", ""}, dir.path()) == std::vector<std::string>{"snapshot"});
}

TEST_CASE("bash completes import's domain names from the host of a test:/// URI", "[completion]") {
  // bash has split the URI at its ':' (COMP_WORDBREAKS); the script joins it again.
  CHECK(bash_complete({"import", "-c", "test", ":", "//" + kDemoHostFile, "h"}) ==
        std::vector<std::string>{"homeassistant"});
  CHECK(bash_complete({"import", "-c", "test", ":", "///default", ""}) ==
        std::vector<std::string>{"test"});
}

TEST_CASE("fish completes commands, flags and domain names", "[completion]") {
  const std::string bin = std::filesystem::path(VIRTFORM_BINARY).parent_path();
  auto fish = [&](const std::string& line) {
    const std::string program =
        "source '" + kCompletion + "/virtform.fish'; complete -C '" + line + "'";
    const ProcessResult result = run_process({"fish", "--no-config", "-c", program},
                                             {{"PATH", bin + ":" + std::getenv("PATH")}});
    INFO(result.describe());
    REQUIRE(result.exit_code == 0);
    std::vector<std::string> lines;
    std::istringstream in(result.out);
    for (std::string candidate; std::getline(in, candidate);)
      lines.push_back(candidate.substr(0, candidate.find('\t')));
    return lines;
  };
  CHECK(fish("virtform pl") == std::vector<std::string>{"plan"});
  CHECK(has(fish("virtform plan --j"), "--json"));
  CHECK(fish("virtform import -c test://" + kDemoHostFile + " ho") ==
        std::vector<std::string>{"homeassistant"});
}

TEST_CASE("zsh: the script parses", "[completion]") {
  const ProcessResult result = run_process({"zsh", "--no-rcs", "-n", kCompletion + "/_virtform"});
  INFO(result.describe());
  CHECK(result.exit_code == 0);
}

}  // namespace virtform
