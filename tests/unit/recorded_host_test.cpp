// A recorded host is input from whoever can open a pull request: it may not make plan read, or
// tell anything about, the files of the machine plan runs on.

#include "providers/host/recorded_host.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/system/hypervisor.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

const std::string kSource = VIRTFORM_SOURCE_DIR;

// A recording in `dir`: host.xml holding `elements` inside <node>, and an empty root/.
void record(const TempDir& dir, const std::string& elements) {
  dir.write_file("host.xml", "<?xml version=\"1.0\"?>\n<node>\n" + elements + "</node>\n");
  dir.make_dir("root");
}

void check(const TempDir& dir) {
  check_recorded_host(dir.path(), dir / "host.xml", dir / "root");
}

TEST_CASE("the demo host is a recording that holds everything it needs", "[recorded_host]") {
  const std::string demo = kSource + "/examples/demo-host";
  CHECK_NOTHROW(check_recorded_host(demo, demo + "/host.xml", demo + "/root"));
}

TEST_CASE("a host.xml that makes the test driver read another file is refused", "[recorded_host]") {
  TempDir dir;
  SECTION("a domain") {
    record(dir, "<domain file=\"/etc/hostname\"/>\n");
    CHECK_THROWS_WITH(check(dir), Catch::Contains(dir / "host.xml") &&
                                      Catch::Contains("<domain file=\"/etc/hostname\">"));
  }
  SECTION("a relative one, leaving the recording or not") {
    record(dir, "<network file=\"../../etc/libvirt/qemu/networks/default.xml\"/>\n");
    CHECK_THROWS_WITH(check(dir), Catch::Contains("<network file="));
  }
  SECTION("a pool's volume") {
    record(dir, "<pool type=\"dir\"><name>p</name><volume file=\"/etc/shadow\"/></pool>\n");
    CHECK_THROWS_WITH(check(dir), Catch::Contains("<volume file=\"/etc/shadow\">"));
  }
  SECTION("interfaces and node devices") {
    for (const char* element : {"interface", "device"}) {
      INFO(element);
      record(dir, std::string("<") + element + " file=\"/etc/passwd\"/>\n");
      CHECK_THROWS_WITH(check(dir), Catch::Contains(std::string("<") + element + " file="));
    }
  }
  SECTION("an entity declaration") {
    dir.write_file("host.xml",
                   "<?xml version=\"1.0\"?>\n<!DOCTYPE node [<!ENTITY x SYSTEM "
                   "\"file:///etc/hostname\">]>\n<node><domain type='test'><name>&x;</name>"
                   "</domain></node>\n");
    CHECK_THROWS_WITH(check(dir), Catch::Contains("document type declaration"));
  }
  SECTION("but a disk's file inside a domain is what domains have") {
    record(dir,
           "<domain type='test'><name>a</name><memory>1024</memory><os><type>hvm</type></os>"
           "<devices><disk type='file' device='disk'><source file='/var/lib/a.img'/>"
           "<target dev='vda'/></disk></devices></domain>\n");
    CHECK_NOTHROW(check(dir));
  }
}

TEST_CASE("a root that is, or holds, a link leading out of the recording is refused",
          "[recorded_host]") {
  TempDir dir;
  record(dir, "");
  SECTION("root itself, to /") {
    fs::remove(dir / "root");
    dir.symlink("root", "/");
    CHECK_THROWS_WITH(check(dir),
                      Catch::Contains(dir / "root") && Catch::Contains("is a link leading out of"));
  }
  SECTION("an absolute link inside") {
    dir.symlink("root/etc", "/etc");
    CHECK_THROWS_WITH(check(dir), Catch::Contains(dir / "root/etc"));
  }
  SECTION("a relative link climbing out") {
    dir.symlink("root/dev/disk/by-id/ata-X", "../../../../../../etc/shadow");
    CHECK_THROWS_WITH(check(dir), Catch::Contains("ata-X"));
  }
  SECTION("two links that each stay inside, leading out together") {
    dir.symlink("root/here", ".");
    dir.symlink("root/up", "here/..");
    CHECK_THROWS_WITH(check(dir), Catch::Contains(dir / "root/up"));
  }
  SECTION("a link to a file that does not exist is refused all the same") {
    dir.symlink("root/gone", "/no/such/virtform/file");
    CHECK_THROWS_WITH(check(dir), Catch::Contains(dir / "root/gone"));
  }
  SECTION("host.xml a link out") {
    const TempDir outside;
    outside.write_file("host.xml", "<node/>\n");
    fs::remove(dir / "host.xml");
    dir.symlink("host.xml", outside / "host.xml");
    CHECK_THROWS_WITH(check(dir), Catch::Contains(dir / "host.xml"));
  }
  SECTION("links that stay inside, as capture records them, are fine") {
    dir.write_file("root/dev/sdb", "");
    dir.symlink("root/dev/disk/by-id/ata-X", "../../sdb");
    dir.symlink("root/dev/disk/by-id/ata-MISSING", "../../sdz");
    dir.symlink("root/sys/bus/pci/devices/0000:00:01.0", "../../../devices/pci0000:00/x");
    CHECK_NOTHROW(check(dir));
    SECTION("and a root that is a link to a tree beside it") {
      fs::rename(dir / "root", dir / "root.v2");
      dir.symlink("root", "root.v2");
      CHECK_NOTHROW(check(dir));
    }
  }
}

TEST_CASE("plan against a recording with a root leading out refuses before reading it",
          "[recorded_host]") {
  TempDir dir;
  fs::copy(kSource + "/examples/demo-host", dir / "host",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove_all(dir / "host/root");
  dir.symlink("host/root", "/");
  const std::string config = kSource + "/examples/dsm";
  for (const std::vector<std::string>& where :
       {std::vector<std::string>{"--host", dir / "host"},
        std::vector<std::string>{"-c", "test://" + (dir / "host/host.xml")}}) {
    std::vector<std::string> argv{VIRTFORM_BINARY, "plan", config};
    argv.insert(argv.end(), where.begin(), where.end());
    const ProcessResult result = run_process(argv, {{"NO_COLOR", "1"}});
    INFO(result.describe());
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("error: refusing the recorded host: " + (dir / "host/root") +
                          " is a link leading out of " + (dir / "host")) != std::string::npos);
    CHECK(result.out.empty());
  }
}

}  // namespace
}  // namespace virtform
