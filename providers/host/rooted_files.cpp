#include "providers/host/rooted_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <sstream>
#include <string_view>

#include "engine/model/digest.h"
#include "engine/system/hypervisor.h"

namespace virtform {
namespace {

// As the kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
constexpr int kMaxSymlinkHops = 40;

std::deque<std::string> components_of(const std::string& path) {
  std::deque<std::string> components;
  std::stringstream stream(path);
  std::string part;
  while (std::getline(stream, part, '/')) {
    if (!part.empty() && part != ".") components.push_back(part);
  }
  return components;
}

std::string join(const std::vector<std::string>& components) {
  std::string path;
  for (const std::string& part : components) path += "/" + part;
  return path.empty() ? "/" : path;
}

std::optional<std::string> read_link(const std::string& path) {
  std::vector<char> buffer(4096);
  ssize_t length = ::readlink(path.c_str(), buffer.data(), buffer.size());
  if (length < 0 || static_cast<std::size_t>(length) >= buffer.size()) return std::nullopt;
  return std::string(buffer.data(), static_cast<std::size_t>(length));
}

// `real` opened for reading if it is a regular file, else -1. Opened without waiting (a FIFO
// would wait for a writer) and checked on the descriptor, so what is read is what was checked.
int open_regular_file(const std::string& real) {
  const int fd = ::open(real.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat info;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) return fd;
  ::close(fd);
  return -1;
}

[[noreturn]] void fail(const std::string& message, int error) {
  throw SystemError(message + ": " + std::strerror(error));
}

// Runs `qemu-img create -f qcow2 <target> <bytes>` (with `-u -b <backing> -F raw` for an
// overlay: the backing file is named, not opened, so a recorded tree's paths work too) without a
// shell; throws with its stderr, in which `target` reads as `shown`. `inherited_fd`, if not -1,
// stays open in qemu-img: the target may be that descriptor's /proc/self/fd path.
void run_qemu_img_create(const std::string& target, const std::string& shown,
                         const ImageRecipe& recipe, int inherited_fd = -1) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail("cannot create a pipe for qemu-img", errno);
  std::string size = std::to_string(recipe.bytes);
  std::vector<const char*> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  if (!recipe.backing.empty())
    argv.insert(argv.end(), {"-u", "-b", recipe.backing.c_str(), "-F", "raw"});
  argv.insert(argv.end(), {target.c_str(), size.c_str(), nullptr});
  pid_t pid = ::fork();
  if (pid < 0) fail("cannot start qemu-img", errno);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDOUT_FILENO);
    if (inherited_fd >= 0) ::fcntl(inherited_fd, F_SETFD, 0);
    ::signal(SIGPIPE, SIG_DFL);  // virtform ignores it (for libvirt's socket); qemu-img need not
    ::execvp("qemu-img", const_cast<char* const*>(argv.data()));
    std::string message = std::string("cannot run qemu-img: ") + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, message.data(), message.size());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string errors;
  char buffer[512];
  ssize_t count;
  while ((count = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    errors.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  // After a failure qemu-img deletes its target by name, which an unnamed file does not have (and
  // a hidden one is deleted by virtform anyway): its complaint about that is not the user's.
  const std::string cleanup = "qemu-img: Error when deleting file " + target + ": ";
  if (auto at = errors.find(cleanup); inherited_fd >= 0 && at != std::string::npos)
    errors.erase(at, errors.find('\n', at) - at + 1);
  while (!errors.empty() && errors.back() == '\n') errors.pop_back();
  for (auto at = errors.find(target); at != std::string::npos;
       at = errors.find(target, at + shown.size()))
    errors.replace(at, target.size(), shown);
  const std::string over = recipe.backing.empty() ? "" : " over " + recipe.backing;
  throw SystemError("qemu-img create -f qcow2 " + shown + over + " " + size + " failed" +
                    (errors.empty() ? std::string() : ": " + errors));
}

// Gives the image its size: a sparse raw file, or a qcow2 header written by qemu-img.
void write_image(int fd, const std::string& target, const std::string& shown,
                 const ImageRecipe& recipe) {
  if (recipe.format == "qcow2") return run_qemu_img_create(target, shown, recipe, fd);
  if (::ftruncate(fd, static_cast<off_t>(recipe.bytes)) != 0)
    fail("cannot size " + shown + " to " + std::to_string(recipe.bytes) + " bytes", errno);
}

// Flushes a directory's entries (a name just linked in) to disk. Best effort: the image is made
// and named by then, and a failure here says nothing about it that the next plan would not see.
void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Closes a descriptor when it goes out of scope.
struct ClosedOnExit {
  int fd;
  ~ClosedOnExit() { ::close(fd); }
};

SystemError already_exists(const std::string& path) {
  return SystemError("refusing to create " + path + ": it already exists");
}

// The hidden name an image is made under where there are no unnamed files: ".NAME.virtform-"
// and six hex digits.
constexpr std::size_t kHiddenSuffixDigits = 6;
std::string hidden_prefix(const std::string& name) {
  return "." + name + ".virtform-";
}

// Removes what an apply killed while it made the image `name` in `directory` left: its hidden
// files. Only an apply making the very same image at this moment (from another host sharing the
// directory: the lock keeps this host's applies apart) could still be writing one, and of two
// such applies one must fail anyway.
void remove_stale_hidden(const std::string& directory, const std::string& name) {
  DIR* dir = ::opendir(directory.c_str());
  if (!dir) return;
  const std::string prefix = hidden_prefix(name);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view entry_name = entry->d_name;
    if (entry_name.size() != prefix.size() + kHiddenSuffixDigits || !entry_name.starts_with(prefix))
      continue;
    const std::string_view digits = entry_name.substr(prefix.size());
    if (std::all_of(digits.begin(), digits.end(),
                    [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }))
      ::unlink((directory + std::string(entry_name)).c_str());
  }
  ::closedir(dir);
}

// Opens a new, empty file under a hidden name beside `real`, returned in `temporary`. Mode 0644
// less the umask, as for every image: not mkstemp, whose 0600 would have to be widened by reading
// the umask, which (umask(2) sets it to read it) races the files other steps create meanwhile.
int open_hidden_beside(const std::string& real, const std::string& path, std::string& temporary) {
  const std::size_t slash = real.rfind('/');
  const std::string directory = real.substr(0, slash + 1);
  const std::string name = real.substr(slash + 1);
  remove_stale_hidden(directory, name);
  std::random_device random;
  for (int attempt = 0; attempt < 16; ++attempt) {
    char suffix[kHiddenSuffixDigits + 1];
    std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffffU);
    temporary = directory + hidden_prefix(name) + suffix;
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) {
      if (fd < 0) fail("cannot create " + path, errno);
      return fd;
    }
  }
  fail("cannot create " + path, EEXIST);
}

// Whether link(2) or rename(2) failed because the file system does not support the call, rather
// than for a reason that any other way to name the file would meet too.
bool unsupported(int error) {
  return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == EPERM;
}

// Gives the finished image at `temporary` its name, never replacing a file someone made there
// meanwhile: link(2), else rename(2) with RENAME_NOREPLACE, else (a FUSE server with neither)
// a plain rename once the name is seen to be free, which only a file made in between could lose.
void give_name(const std::string& temporary, const std::string& real, const std::string& path) {
  if (::link(temporary.c_str(), real.c_str()) == 0) {
    ::unlink(temporary.c_str());
    return;
  }
  if (errno == EEXIST) throw already_exists(path);
  if (!unsupported(errno)) fail("cannot create " + path, errno);
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, real.c_str(), RENAME_NOREPLACE) == 0)
    return;
  if (errno == EEXIST) throw already_exists(path);
  if (!unsupported(errno)) fail("cannot create " + path, errno);
  struct stat info;
  if (::lstat(real.c_str(), &info) == 0) throw already_exists(path);
  if (::rename(temporary.c_str(), real.c_str()) != 0) fail("cannot create " + path, errno);
}

// For file systems without unnamed files (FUSE, NFS): the image is made
// under a hidden name in its directory and named once whole, so a kill or a full disk leaves at
// most that hidden file, never a partial image under the name the plan looks for.
void create_beside(const std::string& path, const std::string& real, const ImageRecipe& recipe) {
  std::string temporary;
  const int fd = open_hidden_beside(real, path, temporary);
  try {
    {
      ClosedOnExit closer{fd};
      write_image(fd, temporary, real, recipe);
      if (::fsync(fd) != 0) fail("cannot write " + path, errno);
    }
    // Closed before it is named: FUSE and NFS keep a file that is open when its name goes away
    // under a hidden name of their own (.fuse_hidden*, .nfs*) until it is closed.
    give_name(temporary, real, path);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

// The header bytes that name an image format, as qemu's own probes read them. Any of them means
// the file is a container, never a disk to hand a guest raw.
struct FormatMagic {
  const char* format;
  std::size_t offset;
  std::string_view magic;
};
constexpr FormatMagic kFormatMagics[] = {
    {"qcow2", 0, std::string_view("QFI\xfb", 4)},
    {"qed", 0, std::string_view("QED\0", 4)},
    {"vmdk", 0, "KDMV"},
    {"vmdk", 0, "# Disk DescriptorFile"},
    {"vdi", 0x40, std::string_view("\x7f\x10\xda\xbe", 4)},
    {"vhdx", 0, "vhdxfile"},
    {"vpc", 0, "conectix"},
    {"luks", 0, std::string_view("LUKS\xba\xbe", 6)},
};
constexpr std::size_t kProbedBytes = 512;
constexpr std::size_t kQcow2SizeOffset = 24;  // big-endian u64: the virtual size in bytes

std::uint64_t big_endian_u64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (const char byte : bytes.substr(0, 8)) value = value << 8 | static_cast<unsigned char>(byte);
  return value;
}

ImageProbe probe_header(std::string_view header, std::uint64_t file_bytes) {
  for (const FormatMagic& known : kFormatMagics) {
    if (header.size() < known.offset + known.magic.size() ||
        header.substr(known.offset, known.magic.size()) != known.magic)
      continue;
    ImageProbe probe{known.format, std::nullopt, ""};
    if (probe.format == "qcow2" && header.size() >= kQcow2SizeOffset + 8)
      probe.virtual_bytes = big_endian_u64(header.substr(kQcow2SizeOffset));
    return probe;
  }
  return {"raw", file_bytes, ""};
}

// The backing file a qcow2 header names: its offset (u64 at 8) and length (u32 at 16), at most
// 1023 bytes, as qemu allows. "" when it has none or the name cannot be read.
std::string qcow2_backing_file(int fd, const char* header, std::size_t length) {
  if (length < 20) return "";
  const std::uint64_t offset = big_endian_u64(std::string_view(header + 8, 8));
  const std::uint64_t size = big_endian_u64(std::string_view(header + 16, 4));
  if (offset == 0 || size == 0 || size > 1023) return "";
  std::string name(size, '\0');
  if (::pread(fd, name.data(), size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size))
    return "";
  return name;
}

}  // namespace

RootedHostFiles::RootedHostFiles(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::optional<std::string> RootedHostFiles::resolve(const std::string& path) const {
  std::deque<std::string> pending = components_of(path);
  std::vector<std::string> resolved;
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == "..") {
      // ".." at the root stays at the root, as it does on the real "/".
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    resolved.push_back(part);
    std::string here = root_ + join(resolved);
    struct stat info;
    if (::lstat(here.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) continue;
    if (++hops > kMaxSymlinkHops) return std::nullopt;
    auto target = read_link(here);
    if (!target) return std::nullopt;
    resolved.pop_back();
    // An absolute target starts again at the root — the recorded tree's, not this machine's.
    if (!target->empty() && target->front() == '/') resolved.clear();
    std::deque<std::string> target_parts = components_of(*target);
    pending.insert(pending.begin(), target_parts.begin(), target_parts.end());
  }
  return join(resolved);
}

std::optional<std::string> RootedHostFiles::real_path(const std::string& path) const {
  // On the real host the kernel follows the links itself, in one system call rather than an
  // lstat per path component: links cannot lead out of "/".
  if (is_real_host() && path.starts_with('/')) return path;
  auto resolved = resolve(path);
  if (!resolved) return std::nullopt;
  return is_real_host() ? *resolved : root_ + *resolved;
}

bool RootedHostFiles::exists(const std::string& path) const {
  auto real = real_path(path);
  struct stat info;
  return real && ::stat(real->c_str(), &info) == 0;
}

bool RootedHostFiles::is_block_device(const std::string& path) const {
  auto real = real_path(path);
  struct stat info;
  if (!real || ::stat(real->c_str(), &info) != 0) return false;
  if (S_ISBLK(info.st_mode)) return true;
  // A recording holds no device nodes: a regular file under its /dev stands for one.
  return !is_real_host() && S_ISREG(info.st_mode) && real->starts_with(root_ + "/dev/");
}

bool RootedHostFiles::is_regular_file(const std::string& path) const {
  auto real = real_path(path);
  struct stat info;
  return real && ::stat(real->c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::optional<std::string> RootedHostFiles::read(const std::string& path) const {
  auto real = real_path(path);
  if (!real) return std::nullopt;
  const int fd = open_regular_file(*real);
  if (fd < 0) return std::nullopt;
  ClosedOnExit closer{fd};
  std::string text;
  char buffer[65536];
  ssize_t count = 0;
  while ((count = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(count));
  if (count < 0) return std::nullopt;
  return text;
}

std::vector<std::string> RootedHostFiles::list(const std::string& directory) const {
  std::vector<std::string> names;
  auto real = real_path(directory);
  if (!real) return names;
  DIR* dir = ::opendir(real->c_str());
  if (!dir) return names;
  while (const dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<ImageProbe> RootedHostFiles::probe_image(const std::string& path) const {
  const auto real = real_path(path);
  if (!real) return std::nullopt;
  // Non-blocking, and regular files only: a FIFO or a device never answers a probe.
  const int fd = ::open(real->c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  ClosedOnExit closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  if (info.st_size == 0 && !is_real_host()) return std::nullopt;
  char header[kProbedBytes];
  std::size_t length = 0;
  while (length < sizeof header) {
    const ssize_t count =
        ::pread(fd, header + length, sizeof header - length, static_cast<off_t>(length));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return std::nullopt;
    if (count == 0) break;
    length += static_cast<std::size_t>(count);
  }
  ImageProbe probe =
      probe_header(std::string_view(header, length), static_cast<std::uint64_t>(info.st_size));
  if (probe.format == "qcow2") probe.backing_file = qcow2_backing_file(fd, header, length);
  return probe;
}

void RootedHostFiles::create_image(const std::string& path, const std::string& format,
                                   std::uint64_t bytes) {
  if (format != "raw" && format != "qcow2") {
    throw SystemError("cannot create " + path + ": unknown image format \"" + format + "\"");
  }
  if (bytes == 0) throw SystemError("cannot create " + path + ": the size is zero");
  create(path, {format, bytes, ""});
}

void RootedHostFiles::create_overlay(const std::string& path, const std::string& backing) {
  const auto real_backing = real_path(backing);
  struct stat info;
  if (!real_backing || ::stat(real_backing->c_str(), &info) != 0 || !S_ISREG(info.st_mode))
    throw SystemError("cannot create " + path + ": its backing image " + backing +
                      " is not a regular file");
  create(path, {"qcow2", static_cast<std::uint64_t>(info.st_size), backing});
}

// A new image appears under its name complete or not at all: it is made as an unnamed file in its
// directory (O_TMPFILE) and linked in once whole, or, where the file system has no unnamed files,
// under a hidden name (create_beside). A kill, a Ctrl-C that stops qemu-img too, or a full disk
// never leaves an empty or half-written image that the next plan would take for the real one.
void RootedHostFiles::create(const std::string& path, const ImageRecipe& recipe) {
  // Links are followed by hand here even on the real host: a path that is a dangling link does
  // not exist for `exists`, so the plan creates it, and the image is made where the link leads.
  auto resolved = resolve(path);
  if (!resolved) throw SystemError("cannot create " + path + ": too many levels of symbolic links");
  const std::string real = is_real_host() ? *resolved : root_ + *resolved;
  struct stat info;
  if (::lstat(real.c_str(), &info) == 0) throw already_exists(path);
  const std::string directory = real.substr(0, real.rfind('/') + 1);
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    create_beside(path, real, recipe);
    sync_directory(directory);
    return;
  }
  if (fd < 0) fail("cannot create " + path, errno);
  ClosedOnExit closer{fd};
  const std::string unnamed = "/proc/self/fd/" + std::to_string(fd);
  write_image(fd, unnamed, real, recipe);
  // On disk before it has a name, so a power loss cannot leave a named but empty image.
  if (::fsync(fd) != 0) fail("cannot write " + path, errno);
  // linkat never replaces: an image someone made meanwhile is kept, and this one is dropped.
  if (::linkat(AT_FDCWD, unnamed.c_str(), AT_FDCWD, real.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    if (errno == EEXIST) throw already_exists(path);
    fail("cannot create " + path, errno);
  }
  sync_directory(directory);
}

void RootedHostFiles::copy_file(const std::string& from, const std::string& to) {
  const auto source = real_path(from);
  const auto resolved = resolve(to);
  if (!source || !resolved) throw SystemError("cannot copy " + from + " to " + to);
  const std::string real = is_real_host() ? *resolved : root_ + *resolved;
  struct stat info;
  if (::lstat(real.c_str(), &info) == 0) throw already_exists(to);
  // Not blocking: a FIFO where the store should be is refused below, not waited on.
  const int in = ::open(source->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) fail("cannot read " + from, errno);
  ClosedOnExit in_closer{in};
  if (::fstat(in, &info) != 0 || !S_ISREG(info.st_mode))
    throw SystemError("cannot copy " + from + ": not a regular file");
  std::string temporary;
  const int out = open_hidden_beside(real, to, temporary);
  try {
    {
      ClosedOnExit out_closer{out};
      char buffer[65536];
      for (ssize_t count; (count = ::read(in, buffer, sizeof buffer)) != 0;) {
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) fail("cannot read " + from, errno);
        if (::write(out, buffer, static_cast<std::size_t>(count)) != count)
          fail("cannot write " + to, errno);
      }
      // The copy stays as readable as the original, to the same user (libvirt's qemu user).
      if (::fchmod(out, info.st_mode & 07777) != 0 ||
          ::fchown(out, info.st_uid, info.st_gid) != 0 || ::fsync(out) != 0)
        fail("cannot write " + to, errno);
    }
    give_name(temporary, real, to);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(real.substr(0, real.rfind('/') + 1));
}

std::optional<std::string> RootedHostFiles::sha256(const std::string& path) const {
  const auto real = real_path(path);
  if (!real) return std::nullopt;
  const int fd = open_regular_file(*real);
  if (fd < 0) return std::nullopt;
  ClosedOnExit closer{fd};
  // Streamed: loader images run to hundreds of MiB.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  ssize_t count = 0;
  while ((count = ::read(fd, buffer.data(), buffer.size())) > 0)
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(count));
  if (count < 0) return std::nullopt;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  return to_hex(digest, length);
}

}  // namespace virtform
