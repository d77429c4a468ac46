// docs/bad-inputs.md is a table of bad inputs and the error each gives. This test runs every row
// of it: the virtform binary, in a copy of tests/fixtures/bad-inputs/ with the demo host beside
// it as host/, must exit with the row's code, print the row's error line, run no apply step and
// leave every file as it was. So the document cannot drift from what virtform does.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;

// One row of the table.
struct Row {
  int number = 0;
  std::vector<std::string> arguments;  // after "virtform"
  int exit_code = 0;
  std::string error;    // the stderr line, or its beginning when `prefix`
  bool prefix = false;  // the table's text ends in "…"
  std::string command;  // as written, for messages
};

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// The text of a Markdown code span (`x` or `` x ``), or the cell itself if it is not one.
std::string code_span(const std::string& cell) {
  std::string text = trim(cell);
  std::size_t ticks = 0;
  while (ticks < text.size() && text[ticks] == '`') ++ticks;
  if (ticks == 0 || text.size() < 2 * ticks) return text;
  text = text.substr(ticks, text.size() - 2 * ticks);
  if (text.size() >= 2 && text.front() == ' ' && text.back() == ' ')
    text = text.substr(1, text.size() - 2);
  return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator))
    if (separator != ' ' || !part.empty()) parts.push_back(part);
  return parts;
}

bool is_number(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// "| 3 | what | `virtform ...` | 1 | `message` |": rows are the table lines whose first cell
// is a number; the header and the separator lines are not.
std::vector<Row> read_table(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<Row> rows;
  std::string line;
  constexpr std::string_view kEllipsis = "…";
  while (std::getline(in, line)) {
    if (line.rfind("| ", 0) != 0) continue;
    std::vector<std::string> cells = split(line, '|');
    if (cells.size() < 2 || !is_number(trim(cells[1]))) continue;
    INFO(line);
    REQUIRE(cells.size() == 6);  // "" + five cells
    Row row;
    row.number = std::stoi(trim(cells[1]));
    row.command = code_span(cells[3]);
    row.arguments = split(row.command, ' ');
    REQUIRE(!row.arguments.empty());
    REQUIRE(row.arguments.front() == "virtform");
    row.arguments.erase(row.arguments.begin());
    row.exit_code = std::stoi(trim(cells[4]));
    row.error = code_span(cells[5]);
    if (row.error.ends_with(kEllipsis)) {
      row.error.resize(row.error.size() - kEllipsis.size());
      row.prefix = true;
    }
    rows.push_back(row);
  }
  return rows;
}

// Every file, directory and link under `root` with what it holds, to show that nothing changed.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = fs::relative(entry.path(), root).string();
    if (entry.is_symlink()) {
      tree[name] = "-> " + fs::read_symlink(entry.path()).string();
    } else if (entry.is_directory()) {
      tree[name] = "(directory)";
    } else {
      std::ifstream file(entry.path(), std::ios::binary);
      tree[name] = std::string(std::istreambuf_iterator<char>(file), {});
    }
  }
  return tree;
}

bool has_line(const std::string& text, const Row& row) {
  for (const std::string& line : split(text, '\n')) {
    if (row.prefix ? line.rfind(row.error, 0) == 0 : line == row.error) return true;
  }
  return false;
}

TEST_CASE("every bad input in docs/bad-inputs.md gives the error the table says, changing nothing",
          "[bad-inputs]") {
  const std::vector<Row> rows = read_table(kSource + "/docs/bad-inputs.md");
  REQUIRE(rows.size() >= 30);

  TempDir work{"virtform-bad-inputs"};
  fs::copy(kSource + "/tests/fixtures/bad-inputs", work.path(), fs::copy_options::recursive);
  fs::copy(kSource + "/examples/demo-host", work / "host",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  TempDir locks{"virtform-bad-inputs-lock"};
  const std::map<std::string, std::string> environment = {
      {"NO_COLOR", "1"}, {"VIRTFORM_LOCK_DIR", locks.path()}, {"LIBVIRT_DEFAULT_URI", ""}};
  const auto before = snapshot(work.path());

  std::set<int> numbers;
  for (const Row& row : rows) {
    INFO("row " << row.number << ": " << row.command);
    CHECK(numbers.insert(row.number).second);
    // Every row is an error: one that exits 0 belongs fixed, not documented.
    CHECK(row.exit_code != 0);
    CHECK((row.error.rfind("error: ", 0) == 0 || row.error.find(": error: ") != std::string::npos));

    std::vector<std::string> argv = {"env", "-C", work.path(), VIRTFORM_BINARY};
    argv.insert(argv.end(), row.arguments.begin(), row.arguments.end());
    const ProcessResult result = run_process(argv, environment, std::chrono::minutes(2));
    INFO(result.describe());
    CHECK(result.exit_code == row.exit_code);
    CHECK(has_line(result.err, row));
    CHECK(result.out.find(": started") == std::string::npos);  // no apply step ran
    CHECK(result.err.find("Sanitizer") == std::string::npos);  // in a sanitized build
    CHECK(result.err.find("runtime error") == std::string::npos);
    CHECK(snapshot(work.path()) == before);
  }
}

}  // namespace
}  // namespace virtform
