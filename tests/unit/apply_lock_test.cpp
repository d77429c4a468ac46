// The apply lock's directory and file: nobody else can plant a link or hold the directory.

#include "providers/host/apply_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr const char* kDaemon = "test:///lock on host";
constexpr uid_t kNobody = 65534;

// Points VIRTFORM_LOCK_DIR at `dir` for the test's duration.
class LockDirectory {
 public:
  explicit LockDirectory(const std::string& dir) { setenv("VIRTFORM_LOCK_DIR", dir.c_str(), 1); }
  ~LockDirectory() { unsetenv("VIRTFORM_LOCK_DIR"); }
  LockDirectory(const LockDirectory&) = delete;
  LockDirectory& operator=(const LockDirectory&) = delete;
};

mode_t mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(lstat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

TEST_CASE("the apply lock directory is made for its owner alone", "[apply_lock]") {
  TempDir dir;
  const std::string locks = dir / "locks";
  LockDirectory env(locks);
  const auto lock = ApplyLock::acquire(kDaemon, "virtform apply");
  CHECK(mode_of(locks) == 0700);
  CHECK(fs::path(lock->path()).parent_path() == locks);
  CHECK(mode_of(lock->path()) == 0600);
}

TEST_CASE("a link planted as the lock file is refused and its target left alone", "[apply_lock]") {
  TempDir dir;
  const std::string locks = dir.make_dir("locks");
  fs::permissions(locks, fs::perms::owner_all, fs::perm_options::replace);
  LockDirectory env(locks);
  const std::string path = ApplyLock::acquire(kDaemon, "virtform apply")->path();
  fs::remove(path);
  const std::string victim = dir.write_file("victim", "precious\n");
  fs::create_symlink(victim, path);
  CHECK_THROWS_WITH(
      ApplyLock::acquire(kDaemon, "virtform apply"),
      Catch::Contains("refusing the apply lock " + path) && Catch::Contains("symbolic link"));
  CHECK(testing::read_file(victim) == "precious\n");
}

TEST_CASE("a lock directory others could write to, or not ours, is refused", "[apply_lock]") {
  TempDir dir;
  const std::string locks = dir.make_dir("locks");
  LockDirectory env(locks);
  SECTION("writable by its group") {
    fs::permissions(locks, fs::perms::owner_all | fs::perms::group_all, fs::perm_options::replace);
    CHECK_THROWS_WITH(ApplyLock::acquire(kDaemon, "virtform apply"),
                      Catch::Contains("refusing the apply lock directory " + locks) &&
                          Catch::Contains("others can write to it (mode 770)") &&
                          Catch::Contains("VIRTFORM_LOCK_DIR"));
  }
  SECTION("writable by all, even with the sticky bit") {
    fs::permissions(locks, fs::perms::all | fs::perms::sticky_bit, fs::perm_options::replace);
    CHECK_THROWS_WITH(ApplyLock::acquire(kDaemon, "virtform apply"),
                      Catch::Contains("others can write to it"));
  }
  SECTION("owned by another user") {
    if (geteuid() != 0) {
      WARN("skipped: only root can give a directory to another user");
      return;
    }
    fs::permissions(locks, fs::perms::owner_all, fs::perm_options::replace);
    REQUIRE(chown(locks.c_str(), kNobody, kNobody) == 0);
    CHECK_THROWS_WITH(ApplyLock::acquire(kDaemon, "virtform apply"),
                      Catch::Contains("refusing the apply lock directory " + locks) &&
                          Catch::Contains("belongs to uid 65534"));
  }
  SECTION("a link to a directory") {
    const std::string elsewhere = dir.make_dir("elsewhere");
    fs::permissions(elsewhere, fs::perms::owner_all, fs::perm_options::replace);
    fs::remove(locks);
    fs::create_symlink(elsewhere, locks);
    CHECK_THROWS_WITH(ApplyLock::acquire(kDaemon, "virtform apply"),
                      Catch::Contains("refusing the apply lock directory " + locks) &&
                          Catch::Contains("symbolic link"));
    CHECK(fs::is_empty(elsewhere));
  }
  SECTION("not a directory") {
    fs::remove(locks);
    dir.write_file("locks", "");
    CHECK_THROWS_WITH(ApplyLock::acquire(kDaemon, "virtform apply"),
                      Catch::Contains("refusing the apply lock directory " + locks) &&
                          Catch::Contains("not a directory"));
  }
}

TEST_CASE("a daemon name too long for a file name still gets a lock of its own", "[apply_lock]") {
  TempDir dir;
  LockDirectory env(dir / "locks");
  const std::string base = "test:///" + std::string(300, 'x');
  const auto first = ApplyLock::acquire(base + "/a.xml on host", "virtform apply");
  const auto second = ApplyLock::acquire(base + "/b.xml on host", "virtform apply");
  CHECK(first->path() != second->path());
  CHECK(fs::path(first->path()).filename().string().size() < 255);
}

}  // namespace
}  // namespace virtform
