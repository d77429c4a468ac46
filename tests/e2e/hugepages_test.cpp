// A guest on huge pages, against the real libvirtd: the test reserves a few 2 MiB pages
// (/proc/sys/vm/nr_hugepages) and gives them back afterwards, the guest boots on them (the
// host's free count drops by its memory), and the plan afterwards is empty. libvirtd needs a
// hugetlbfs mount from before it started, which ci/start-libvirt.sh makes.

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

constexpr auto kBootTimeout = 120s;
constexpr const char* kPoolCount = "/proc/sys/vm/nr_hugepages";
constexpr std::uint64_t kGuestPages = 64;  // the guest's 128 MiB

std::uint64_t number_in(const std::string& path) {
  std::uint64_t value = 0;
  std::ifstream(path) >> value;
  return value;
}

// The host's free pages of its default size (2 MiB here), as the kernel counts them.
std::uint64_t free_pages() {
  return number_in("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
}

bool hugetlbfs_mounted() {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line))
    if (line.find(" hugetlbfs ") != std::string::npos) return true;
  return false;
}

// The pages the test adds to the pool, given back when it ends, also when it fails. Declared
// before the Session, so that the guest holding them is gone first.
struct Reservation {
  explicit Reservation(std::uint64_t pages) : before(number_in(kPoolCount)) {
    std::ofstream(kPoolCount) << before + pages << "\n";
  }
  ~Reservation() { std::ofstream(kPoolCount) << before << "\n"; }
  std::uint64_t before;
};

}  // namespace

TEST_CASE("a guest on 2 MiB huge pages starts on the pages the host reserved", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  if (!hugetlbfs_mounted()) {
    if (std::getenv("CI") != nullptr)
      FAIL("no hugetlbfs is mounted (ci/start-libvirt.sh mounts one)");
    WARN("skipped: no hugetlbfs is mounted for libvirtd (ci/start-libvirt.sh mounts one)");
    return;
  }
  const Reservation reservation(kGuestPages);
  const std::uint64_t reserved = free_pages();
  REQUIRE(reserved >= kGuestPages);
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("paged");
  const std::string config =
      session.write_config(kernel_guest_toml("paged", name, guest_images().initrd_ignore, "128MiB",
                                             1, "restart = \"never\"\n") +
                           "\n[vm.paged.memory_backing]\nhugepages = \"2MiB\"\n");

  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  REQUIRE(wait_for_console(libvirt, name, kGuestReady, kBootTimeout).find(kGuestReady) !=
          std::string::npos);
  CHECK(libvirt.xml(name).find("<page size='2048' unit='KiB'/>") != std::string::npos);
  // QEMU took the guest's memory from the pool.
  CHECK(free_pages() + kGuestPages <= reserved);
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
}

}  // namespace virtform::e2e
