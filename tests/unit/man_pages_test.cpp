// The man pages (docs/man, made by pandoc at build time) say what the program does:
// virtform.toml(5) documents every key of the config schema, virtform(1) names every command,
// and each command's page (or virtform(1), for the common options) names every flag it takes.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"

namespace virtform {
namespace {

const std::string kManDir = VIRTFORM_MAN_DIR;

std::string read_page(const std::string& name) {
  std::ifstream in(kManDir + "/" + name);
  INFO("man page " << kManDir << "/" << name);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The roff without font changes (\f[V]...\f[R]) and with plain hyphens (\-), as a reader sees it.
std::string plain(const std::string& roff) {
  static const std::regex font(R"(\\f\[[A-Z]*\]|\\f[A-Z])");
  std::string text = std::regex_replace(roff, font, "");
  return std::regex_replace(text, std::regex(R"(\\-)"), "-");
}

// Every property name anywhere in a JSON schema: the top level's, each table's, each item's.
void collect_properties(const nlohmann::json& node, std::set<std::string>& keys) {
  if (node.is_object()) {
    for (const auto& [name, value] : node.items()) {
      if (name == "properties")
        for (const auto& [key, unused] : value.items()) keys.insert(key);
      collect_properties(value, keys);
    }
  } else if (node.is_array()) {
    for (const auto& item : node) collect_properties(item, keys);
  }
}

// The keys virtform.toml(5) documents: the first cell of each table row ("T{\n\f[V]image\f[R]"),
// and the table each section heading names in code: [vm.X.boot] -> boot, [[vm.X.disk]] -> disk,
// [loader.X] -> loader, project -> project.
std::set<std::string> documented_keys(const std::string& roff) {
  std::set<std::string> keys;
  static const std::regex row(R"(T\{\n\\f\[V\]([A-Za-z0-9_]+)\\f\[R\]\nT\})");
  for (auto match = std::sregex_iterator(roff.begin(), roff.end(), row);
       match != std::sregex_iterator(); ++match)
    keys.insert((*match)[1]);
  static const std::regex heading(R"(\n\.S[HS] \\f\[V\]\[*([A-Za-z0-9_.]+?)(\.X)?\]*\\f\[R\])");
  for (auto match = std::sregex_iterator(roff.begin(), roff.end(), heading);
       match != std::sregex_iterator(); ++match) {
    const std::string table = (*match)[1];
    keys.insert(table.substr(table.rfind('.') + 1));
  }
  return keys;
}

// What `virtform __complete WORD...` offers, without its first line (the kind).
std::vector<std::string> offered(const std::vector<std::string>& words) {
  std::vector<std::string> argv = {VIRTFORM_BINARY, "__complete"};
  argv.insert(argv.end(), words.begin(), words.end());
  const ProcessResult result = run_process(argv);
  INFO(result.describe());
  REQUIRE(result.exit_code == 0);
  std::vector<std::string> lines;
  std::istringstream in(result.out);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// `flag` as a word of its own in `text`: "--host" is not found in "--host-root".
bool names_flag(const std::string& text, const std::string& flag) {
  const std::regex word("(^|[^-A-Za-z0-9_])" + flag + "([^-A-Za-z0-9_]|$)");
  return std::regex_search(text, word);
}

}  // namespace

TEST_CASE("virtform.toml(5) documents every key of the config schema", "[man]") {
  std::ifstream in(std::string(VIRTFORM_SOURCE_DIR) + "/schemas/virtform.schema.json");
  REQUIRE(in);
  std::set<std::string> schema_keys;
  collect_properties(nlohmann::json::parse(in), schema_keys);
  REQUIRE(schema_keys.size() > 40);
  const std::set<std::string> documented = documented_keys(read_page("virtform.toml.5"));
  for (const std::string& key : schema_keys) {
    INFO("schema key '" << key << "' has no row or section in virtform.toml(5)");
    CHECK(documented.count(key) == 1);
  }
}

TEST_CASE("the key check of virtform.toml(5) finds a key row that is missing", "[man]") {
  const std::string roff = read_page("virtform.toml.5");
  REQUIRE(documented_keys(roff).count("shutdown_timeout") == 1);
  std::string without = std::regex_replace(roff, std::regex(R"(\\f\[V\]shutdown_timeout\\f\[R\])"),
                                           "\\f[V]other\\f[R]");
  CHECK(documented_keys(without).count("shutdown_timeout") == 0);
}

TEST_CASE("virtform(1) names every command, and each has a page of its own", "[man]") {
  const std::string overview = plain(read_page("virtform.1"));
  const std::vector<std::string> commands = offered({""});
  REQUIRE(commands.size() >= 7);
  for (const std::string& command : commands) {
    INFO("command " << command);
    CHECK(overview.find("virtform-" + command + "(1)") != std::string::npos);
    CHECK(read_page("virtform-" + command + ".1").find(".TH \"VIRTFORM-") != std::string::npos);
  }
}

TEST_CASE("every flag of a command is in its man page or in virtform(1)'s common options",
          "[man]") {
  const std::string overview = plain(read_page("virtform.1"));
  for (const std::string& command : offered({""})) {
    const std::string page = plain(read_page("virtform-" + command + ".1"));
    for (const std::string& flag : offered({command, "-"})) {
      if (flag == "-h" || flag == "--help") continue;
      INFO("virtform " << command << " " << flag);
      CHECK((names_flag(page, flag) || names_flag(overview, flag)));
    }
  }
}

}  // namespace virtform
