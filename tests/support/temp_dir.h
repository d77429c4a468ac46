#pragma once
// A temporary directory for a test, removed with everything in it when the test ends; and reading
// back the files a test made.

#include <filesystem>
#include <string>

namespace virtform::testing {

class TempDir {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp) named "<prefix>-XXXXXX".
  explicit TempDir(const std::string& prefix = "virtform-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory's absolute path, without a trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + relative.
  std::string operator/(const std::string& relative) const;

  // Writes `content` to `relative` (creating parent directories); returns the full path.
  std::string write_file(const std::string& relative, const std::string& content) const;
  // Creates the directory `relative` and its parents; returns the full path.
  std::string make_dir(const std::string& relative) const;
  // Creates a symlink at `relative` holding `target` verbatim (creating parent directories);
  // returns the link's full path.
  std::string symlink(const std::string& relative, const std::string& target) const;

 private:
  std::string path_;
};

// The whole content of the file at `path`, byte for byte; "" when it cannot be read.
std::string read_file(const std::string& path);

// A domain definition of tests/fixtures/libvirt as libvirt 9 writes it back; throws when there is
// no such fixture, so that a misspelt name fails the test instead of reading as an empty domain.
std::string libvirt_fixture(const std::string& name);

}  // namespace virtform::testing
