#include "providers/host/file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "engine/system/hypervisor.h"

namespace virtform {
namespace {

[[noreturn]] void fail(const std::string& path, int error) {
  throw SystemError("cannot write " + path + ": " + std::strerror(error));
}

// Writes all of `text`, retrying short writes; the errno of the failure, or 0.
int write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t count = ::write(fd, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno;
    written += static_cast<std::size_t>(count);
  }
  return 0;
}

// The mode a new file gets from open(2) with 0666: what the user's umask allows. umask(2) can
// only be read by setting it, so it is set back at once (virtform's other threads create no
// files meanwhile).
mode_t default_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

// A terminal, a pipe or /dev/stdout has no directory to put a new file in, and nothing to
// replace: the text is written to it as it is.
void write_in_place(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) fail(path, errno);
  int error = write_all(fd, text);
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) fail(path, error);
}

// Writes `text` to a new file in the directory of `target` and renames it over `target`, with
// the mode and owner of the file it replaces (`existing`, if any).
void replace_file(const std::string& path, const std::string& target, const std::string& text,
                  const struct stat* existing) {
  const auto slash = target.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : target.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string temporary = directory + "." + name + ".XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) fail(path, errno);
  const mode_t mode = existing ? existing->st_mode & 07777 : default_mode();
  // Best effort: only root may give the file away, and then the owner is kept (an edit under sudo
  // must not leave the user's plan file root's).
  if (existing) (void)!::fchown(fd, existing->st_uid, existing->st_gid);
  int error = ::fchmod(fd, mode) == 0 ? write_all(fd, text) : errno;
  // Durable before the rename, so a crash cannot leave the name pointing at an empty file.
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temporary.c_str(), target.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    fail(path, error);
  }
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno != ENOENT) fail(path, errno);
    // A new file, or a dangling link: the link is replaced by the file, as a shell's > would not,
    // but a link to nowhere holds nothing to keep.
    return replace_file(path, path, text, nullptr);
  }
  if (!S_ISREG(info.st_mode)) return write_in_place(path, text);
  // A link to a regular file: the file it leads to is replaced, and the link stays.
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) fail(path, errno);
  replace_file(path, resolved, text, &info);
}

}  // namespace virtform
