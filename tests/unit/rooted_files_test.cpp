// RootedHostFiles: symlinks resolved inside the root, recorded block devices, image creation.

#include "providers/host/rooted_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <utility>
#include <vector>

#include "engine/system/hypervisor.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::read_file;
using testing::TempDir;

// A recorded host: a disk reached through by-id links written the three ways udev and people do.
struct Tree {
  TempDir root{"virtform-root"};
  RootedHostFiles files{root.path()};

  Tree() {
    root.write_file("dev/sdb", "");
    root.write_file("etc/hostname", "nas\n");
    root.symlink("dev/disk/by-id/ata-RELATIVE", "../../sdb");
    root.symlink("dev/disk/by-id/ata-ABSOLUTE", "/dev/sdb");
    root.symlink("dev/disk/by-id/ata-CHAIN", "ata-ABSOLUTE");
    root.symlink("dev/disk/by-id/escape", "../../../../../../etc/hostname");
    root.symlink("loop/a", "b");
    root.symlink("loop/b", "a");
    root.symlink("images", "/var/lib/libvirt/images");
    root.make_dir("var/lib/libvirt/images");
  }
};

}  // namespace

TEST_CASE("symlinks resolve inside the root, never outside it", "[rooted_files]") {
  Tree tree;
  CHECK(tree.files.resolve("/dev/disk/by-id/ata-RELATIVE") == "/dev/sdb");
  CHECK(tree.files.resolve("/dev/disk/by-id/ata-ABSOLUTE") == "/dev/sdb");
  CHECK(tree.files.resolve("/dev/disk/by-id/ata-CHAIN") == "/dev/sdb");
  // Climbing above the root stays at the root, as ".." at "/" does.
  CHECK(tree.files.resolve("/dev/disk/by-id/escape") == "/etc/hostname");
  CHECK(tree.files.read("/dev/disk/by-id/escape") == "nas\n");
  CHECK(tree.files.resolve("/images/new.img") == "/var/lib/libvirt/images/new.img");
  CHECK(tree.files.real_path("/dev/disk/by-id/ata-CHAIN") == tree.root / "dev/sdb");
  CHECK_FALSE(tree.files.resolve("/loop/a").has_value());
  CHECK_FALSE(tree.files.exists("/loop/a"));
}

TEST_CASE("exists, read and list see the recorded tree", "[rooted_files]") {
  Tree tree;
  CHECK(tree.files.exists("/dev/disk/by-id/ata-RELATIVE"));
  CHECK(tree.files.exists("/etc/hostname"));
  CHECK_FALSE(tree.files.exists("/etc/passwd"));
  tree.root.symlink("dev/disk/by-id/ata-DANGLING", "../../sdz");
  CHECK_FALSE(tree.files.exists("/dev/disk/by-id/ata-DANGLING"));
  CHECK(tree.files.read("/etc/hostname") == "nas\n");
  CHECK_FALSE(tree.files.read("/etc/passwd").has_value());
  CHECK(tree.files.list("/dev/disk/by-id") == std::vector<std::string>{"ata-ABSOLUTE", "ata-CHAIN",
                                                                       "ata-DANGLING",
                                                                       "ata-RELATIVE", "escape"});
  CHECK(tree.files.list("/no/such/dir").empty());
}

TEST_CASE("a recorded tree stands files under /dev in for block devices", "[rooted_files]") {
  Tree tree;
  CHECK(tree.files.is_block_device("/dev/sdb"));
  CHECK(tree.files.is_block_device("/dev/disk/by-id/ata-CHAIN"));
  CHECK_FALSE(tree.files.is_block_device("/etc/hostname"));
  CHECK_FALSE(tree.files.is_block_device("/dev/disk/by-id/escape"));  // leads out of /dev
  CHECK_FALSE(tree.files.is_block_device("/dev/sdz"));
}

TEST_CASE("on the real host only real block devices count", "[rooted_files]") {
  RootedHostFiles host("/");
  CHECK(host.exists("/dev/null"));
  CHECK_FALSE(host.is_block_device("/dev/null"));  // a character device
  CHECK_FALSE(host.is_block_device("/etc/hostname"));
  CHECK(host.list("/").size() > 3);
  TempDir dir;
  std::string file = dir.write_file("dev/sdb", "");
  CHECK(host.exists(file));
  CHECK_FALSE(host.is_block_device(file));
  // The kernel follows links on the real host: a link counts as its target, a dangling one as
  // missing.
  dir.symlink("link", file);
  dir.symlink("dangling", dir.path() + "/no-such-file");
  CHECK(host.exists(dir.path() + "/link"));
  CHECK(host.read(dir.path() + "/link") == "");
  CHECK_FALSE(host.exists(dir.path() + "/dangling"));
  CHECK_FALSE(host.exists(dir.path() + "/dev/sdb/below-a-file"));
}

TEST_CASE("raw images are sparse files of the requested size", "[rooted_files]") {
  Tree tree;
  const std::uint64_t size = 8ull << 30;
  tree.files.create_image("/images/disk.img", "raw", size);
  struct stat info;
  REQUIRE(::stat((tree.root / "var/lib/libvirt/images/disk.img").c_str(), &info) == 0);
  CHECK(static_cast<std::uint64_t>(info.st_size) == size);
  CHECK(info.st_blocks < 64);  // sparse: no data written
}

TEST_CASE("qcow2 images are made by qemu-img with the requested virtual size", "[rooted_files]") {
  Tree tree;
  const std::uint64_t size = 32ull << 30;
  tree.files.create_image("/var/lib/libvirt/images/cache.qcow2", "qcow2", size);
  std::string image = read_file(tree.root / "var/lib/libvirt/images/cache.qcow2");
  REQUIRE(image.size() > 32);
  CHECK(image.substr(0, 4) == "QFI\xfb");
  std::uint64_t virtual_size = 0;  // big-endian at offset 24 of the qcow2 header
  for (int i = 0; i < 8; ++i) {
    virtual_size = (virtual_size << 8) | static_cast<unsigned char>(image[24 + i]);
  }
  CHECK(virtual_size == size);
}

TEST_CASE("an overlay reads through to its loader image and names it as the host will",
          "[rooted_files]") {
  // In a recorded tree the header names the host path, not this machine's copy of the tree.
  Tree tree;
  tree.root.write_file("var/lib/libvirt/images/loader.img", std::string(3 << 20, 'L'));
  tree.files.create_overlay("/images/dsm.tcrp.qcow2", "/var/lib/libvirt/images/loader.img");
  const auto probe = tree.files.probe_image("/var/lib/libvirt/images/dsm.tcrp.qcow2");
  REQUIRE(probe);
  CHECK(probe->format == "qcow2");
  CHECK(probe->backing_file == "/var/lib/libvirt/images/loader.img");
  CHECK(probe->virtual_bytes == 3u << 20);
  CHECK_THROWS_WITH(
      tree.files.create_overlay("/images/dsm.tcrp.qcow2", "/var/lib/libvirt/images/loader.img"),
      "refusing to create /images/dsm.tcrp.qcow2: it already exists");
  CHECK_THROWS_WITH(tree.files.create_overlay("/images/x.qcow2", "/images/none.img"),
                    "cannot create /images/x.qcow2: its backing image /images/none.img is not a "
                    "regular file");

  // On the real host qemu reads the loader's bytes through the new file.
  TempDir dir;
  const std::string loader = dir.write_file("tcrp.img", std::string(1 << 20, 'T'));
  RootedHostFiles host("/");
  host.create_overlay(dir / "vm.tcrp.qcow2", loader);
  const ProcessResult converted =
      Process({"qemu-img", "convert", "-O", "raw", dir / "vm.tcrp.qcow2", dir / "seen.raw"}).wait();
  REQUIRE(converted.exit_code == 0);
  CHECK(read_file(dir / "seen.raw") == read_file(loader));
}

TEST_CASE("create_image never overwrites", "[rooted_files]") {
  Tree tree;
  tree.root.write_file("var/lib/libvirt/images/keep.img", "precious");
  for (const char* format : {"raw", "qcow2"}) {
    INFO(format);
    REQUIRE_THROWS_WITH(tree.files.create_image("/images/keep.img", format, 1 << 20),
                        "refusing to create /images/keep.img: it already exists");
    CHECK(read_file(tree.root / "var/lib/libvirt/images/keep.img") == "precious");
  }
}

TEST_CASE("on the real host an image at a dangling link is made where the link leads",
          "[rooted_files]") {
  RootedHostFiles host("/");
  TempDir dir;
  dir.make_dir("images");
  dir.symlink("disk.qcow2", dir.path() + "/images/disk.qcow2");
  const std::string link = dir.path() + "/disk.qcow2";
  REQUIRE_FALSE(host.exists(link));  // what plan sees: an image to create
  host.create_image(link, "qcow2", 1 << 20);
  CHECK(std::filesystem::is_symlink(link));
  CHECK(read_file(dir.path() + "/images/disk.qcow2").substr(0, 4) == "QFI\xfb");
  CHECK(host.exists(link));  // and the next plan has nothing left to do
  CHECK_THROWS_WITH(host.create_image(link, "qcow2", 1 << 20),
                    "refusing to create " + link + ": it already exists");
}

TEST_CASE("create_image failures are clear and leave nothing behind", "[rooted_files]") {
  Tree tree;
  CHECK_THROWS_AS(tree.files.create_image("/images/x.vmdk", "vmdk", 1 << 20), SystemError);
  CHECK_THROWS_WITH(tree.files.create_image("/images/zero.img", "raw", 0),
                    "cannot create /images/zero.img: the size is zero");
  CHECK_THROWS_WITH(tree.files.create_image("/no/dir/x.img", "raw", 1 << 20),
                    Catch::StartsWith("cannot create /no/dir/x.img: No such file"));
  // qemu-img refuses sizes beyond what qcow2 can address; its own words reach the user.
  try {
    tree.files.create_image("/images/huge.qcow2", "qcow2", 1ull << 62);
    FAIL("qemu-img accepted a 4 EiB image");
  } catch (const SystemError& error) {
    std::string message = error.what();
    CHECK(message.find("qemu-img create -f qcow2 ") != std::string::npos);
    CHECK(message.find("failed: ") != std::string::npos);
    // qemu-img wrote to an unnamed file; the user is told the image's own name.
    CHECK(message.find("/proc/self/fd") == std::string::npos);
  }
  CHECK_FALSE(tree.files.exists("/images/huge.qcow2"));
  CHECK_FALSE(tree.files.exists("/images/zero.img"));
}

TEST_CASE("probe_image reads the format from the header, not the name", "[rooted_files]") {
  Tree tree;
  const std::string images = tree.root / "var/lib/libvirt/images";
  const ProcessResult made =
      Process({"qemu-img", "create", "-q", "-f", "qcow2", images + "/win.img", "3G"}).wait();
  REQUIRE(made.exit_code == 0);
  const auto qcow2 = tree.files.probe_image("/images/win.img");
  REQUIRE(qcow2);
  CHECK(qcow2->format == "qcow2");
  CHECK(qcow2->virtual_bytes == 3ull << 30);

  tree.root.write_file("var/lib/libvirt/images/disk.qcow2", std::string(1536, 'x'));
  const auto raw = tree.files.probe_image("/images/disk.qcow2");
  REQUIRE(raw);
  CHECK(raw->format == "raw");
  CHECK(raw->virtual_bytes == 1536);
}

TEST_CASE("probe_image knows the containers virtform never attaches", "[rooted_files]") {
  Tree tree;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"qed", std::string("QED\0", 4)},
      {"vmdk", "KDMV"},
      {"vmdk", "# Disk DescriptorFile\n"},
      {"vdi", std::string(0x40, '\0') + "\x7f\x10\xda\xbe"},
      {"vhdx", "vhdxfile"},
      {"vpc", "conectix"},
      {"luks", std::string("LUKS\xba\xbe\0\x02", 8)},
  };
  for (const auto& [format, header] : headers) {
    INFO(format);
    tree.root.write_file("var/lib/libvirt/images/disk.img", header + std::string(600, '\0'));
    const auto probe = tree.files.probe_image("/images/disk.img");
    REQUIRE(probe);
    CHECK(probe->format == format);
    CHECK_FALSE(probe->virtual_bytes);
  }
}

TEST_CASE("probe_image says nothing of placeholders, FIFOs and missing files", "[rooted_files]") {
  Tree tree;
  tree.root.write_file("var/lib/libvirt/images/placeholder.qcow2", "");
  CHECK_FALSE(tree.files.probe_image("/images/placeholder.qcow2"));
  CHECK_FALSE(tree.files.probe_image("/images/missing.img"));
  REQUIRE(::mkfifo((tree.root / "var/lib/libvirt/images/fifo.img").c_str(), 0600) == 0);
  CHECK_FALSE(tree.files.probe_image("/images/fifo.img"));  // returns at once, no writer needed

  // On the real host an empty file is an empty raw image.
  const RootedHostFiles host;
  const auto empty = host.probe_image(tree.root / "var/lib/libvirt/images/placeholder.qcow2");
  REQUIRE(empty);
  CHECK(empty->format == "raw");
  CHECK(empty->virtual_bytes == 0);
}

}  // namespace virtform

namespace virtform {
namespace {

TEST_CASE("a copied file keeps its contents, mode and owner, and never replaces one",
          "[rooted_files]") {
  TempDir dir;
  RootedHostFiles files("/");
  const std::string store = dir.write_file("old_VARS.fd", std::string("keys\0entries", 12));
  REQUIRE(::chmod(store.c_str(), 0600) == 0);
  REQUIRE(::chown(store.c_str(), 65534, 65534) == 0);  // as libvirt's qemu user owns a store
  const std::string copy = dir / "new_VARS.fd";
  files.copy_file(store, copy);
  CHECK(read_file(copy) == std::string("keys\0entries", 12));
  struct stat info {};
  REQUIRE(::stat(copy.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);
  CHECK(info.st_uid == 65534);
  CHECK(info.st_gid == 65534);
  CHECK_THROWS_WITH(files.copy_file(store, copy), Catch::Contains("already exists"));
  CHECK_THROWS_WITH(files.copy_file(dir / "missing", dir / "other"),
                    Catch::Contains("cannot read"));
}

}  // namespace
}  // namespace virtform
