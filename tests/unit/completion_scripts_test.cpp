// The shell completion scripts of dist/completion, run in the real shells: bash's completion
// function called as bash calls it (COMP_WORDS, COMP_CWORD), fish's `complete -C`, and zsh's
// function with `words` and CURRENT set. What they offer is what `virtform __complete` says.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;
using Lines = std::vector<std::string>;

const std::string kCompletion = std::string(VIRTFORM_SOURCE_DIR) + "/dist/completion";
const std::string kDemoHostFile = std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host/host.xml";

// The standard output of `shell args... program`, line by line; it must succeed.
Lines shell_lines(std::vector<std::string> argv, const std::string& program,
                  const std::map<std::string, std::string>& env = {}) {
  argv.push_back(program);
  const ProcessResult result = run_process(argv, env);
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  Lines lines;
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The virtform binary and `words` as a shell array's items: 'build/virtform' 'plan' '--j'.
std::string quoted_command_line(const Lines& words) {
  std::string items = "'" + std::string(VIRTFORM_BINARY) + "'";
  for (const std::string& word : words) items += " '" + word + "'";
  return items;
}

// What `script` prints in a bash that has loaded the completion script, run in `directory`.
Lines bash_lines(const std::string& script, const std::string& directory = ".") {
  return shell_lines(
      {"bash", "--norc", "--noprofile", "-c"},
      "cd '" + directory + "' && source '" + kCompletion + "/virtform.bash' && " + script);
}

// COMPREPLY after bash's completion of the last of `words` (as bash splits them: at ':' too).
Lines bash_complete(const Lines& words, const std::string& directory = ".") {
  return bash_lines("COMP_WORDS=(" + quoted_command_line(words) +
                        "); COMP_CWORD=" + std::to_string(words.size()) +
                        "; _virtform; printf '%s\\n' \"${COMPREPLY[@]}\"",
                    directory);
}

// fish's candidates for the command line `line` (virtform found on PATH), without descriptions.
Lines fish_complete(const std::string& line) {
  const std::string bin = std::filesystem::path(VIRTFORM_BINARY).parent_path();
  Lines lines =
      shell_lines({"fish", "--no-config", "-c"},
                  "source '" + kCompletion + "/virtform.fish'; complete -C '" + line + "'",
                  {{"PATH", bin + ":" + std::getenv("PATH")}});
  for (std::string& candidate : lines)
    candidate.erase(std::min(candidate.find('\t'), candidate.size()));
  return lines;
}

// compadd and _files work only inside a completion widget, which needs a terminal: here they
// print what the script hands them, and the script's function runs as the widget would run it,
// with `words` and CURRENT set.
Lines zsh_complete(const Lines& words) {
  return shell_lines({"zsh", "--no-rcs", "-c"},
                     "compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }\n"
                     "_files() { print -- \"_files $*\" }\n"
                     "words=(" +
                         quoted_command_line(words) +
                         ")\n"
                         "CURRENT=" +
                         std::to_string(words.size() + 1) +
                         "\n"
                         "source '" +
                         kCompletion + "/_virtform'\n");
}

bool has(const Lines& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("bash: the script registers its function for virtform", "[completion]") {
  CHECK(bash_lines("complete -p virtform") == Lines{"complete -F _virtform virtform"});
}

TEST_CASE("bash completes commands and a command's flags", "[completion]") {
  CHECK(bash_complete({"pl"}) == Lines{"plan"});
  CHECK(bash_complete({"plan", "--de"}) == Lines{"--detailed-exitcode"});
  const Lines apply = bash_complete({"apply", "--"});
  CHECK(has(apply, "--auto-approve"));
  CHECK(has(apply, "--parallelism"));
  CHECK_FALSE(has(apply, "--json"));
}

TEST_CASE("bash completes file names for paths and directories for --host", "[completion]") {
  TempDir dir{"virtform-completion"};
  dir.write_file("nas.toml", "");
  std::filesystem::create_directory(dir.path() + "/snapshot");
  CHECK(bash_complete({"plan", "n"}, dir.path()) == Lines{"nas.toml"});
  CHECK(bash_complete({"plan", "--host", ""}, dir.path()) == Lines{"snapshot"});
}

TEST_CASE("bash completes import's domain names from the host of a test:/// URI", "[completion]") {
  // bash has split the URI at its ':' (COMP_WORDBREAKS); the script joins it again.
  CHECK(bash_complete({"import", "-c", "test", ":", "//" + kDemoHostFile, "h"}) ==
        Lines{"homeassistant"});
  CHECK(bash_complete({"import", "-c", "test", ":", "///default", ""}) == Lines{"test"});
}

TEST_CASE("fish completes commands, flags and domain names", "[completion]") {
  CHECK(fish_complete("virtform pl") == Lines{"plan"});
  CHECK(has(fish_complete("virtform plan --j"), "--json"));
  CHECK(fish_complete("virtform import -c test://" + kDemoHostFile + " ho") ==
        Lines{"homeassistant"});
}

TEST_CASE("zsh completes commands, flags, directories and domain names", "[completion]") {
  CHECK(zsh_complete({"pl"}) == Lines{"plan"});
  CHECK(has(zsh_complete({"plan", "--"}), "--detailed-exitcode"));
  CHECK(zsh_complete({"plan", "--host", ""}) == Lines{"_files -/"});
  CHECK(zsh_complete({"plan", ""}) == Lines{"_files "});
  CHECK(zsh_complete({"import", "-c", "test://" + kDemoHostFile, "h"}) == Lines{"homeassistant"});
}

}  // namespace virtform
