// SIGKILL of `virtform apply` at many points of a multi-VM plan. After every kill, `plan` then
// `apply` must converge to "no changes", every domain of the fleet must carry the managed marker
// (none duplicated, none left behind by a rename), and no byte of any disk may have changed.
//
// The delays are drawn from a seeded generator: the seed is printed, and VIRTFORM_FAULT_SEED
// replays a run. VIRTFORM_FAULT_KILLS sets how many kills a run makes (default 30).

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/faults/fault_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1024ULL * 1024;

// What a disk image apply creates from `size` must look like once it exists.
struct CreatedImage {
  std::string format;  // "raw" or "qcow2"
  std::uint64_t bytes = 0;
};

// Whether qemu-img reads `path` as an image of this format and size: an empty file passes for a
// raw image of 0 bytes, so format and size tell a half-made image apart.
void check_image(const std::string& path, const CreatedImage& image) {
  const nlohmann::json info = image_info(path);
  CHECK(info.value("format", "") == image.format);
  CHECK(info.value("virtual-size", 0ULL) == image.bytes);
}

// Files that exist before the first apply: their bytes must never change.
struct FleetFiles {
  std::string data_a;   // random contents, on alpha
  std::string data_b;   // random contents, added to alpha by the second shape
  std::string loader;   // alpha's USB boot image
  std::string whole;    // a loop device: alpha's whole disk
  std::string backing;  // the loop device's backing file
};

// One configuration of the fleet.
struct FleetShape {
  std::string toml;
  std::set<std::string> domains;                // what libvirt must hold once applied
  std::map<std::string, CreatedImage> created;  // the images apply makes from `size`
};

// The fleet alternates between two shapes, so kills land in creations, updates of stopped and
// running guests, a rename, and removals (which keep every image). Each round also points the
// scratch VM at an image of its own, so every round creates an image.
class Fleet {
 public:
  Fleet(const Session& session, FleetFiles files, bool with_nic)
      : session_(session), files_(std::move(files)), with_nic_(with_nic) {}

  FleetShape shape(int round) const {
    const bool second = round % 2 == 1;
    FleetShape shape;
    std::string& toml = shape.toml;
    toml += "[loader.boot]\nimage = " + quoted(files_.loader) + "\n";

    toml += vm("alpha", shape, second ? "160MiB" : "128MiB", second ? 2 : 1, "q35");
    toml += "\n[vm.alpha.boot]\nloader = \"boot\"\nbus = \"usb\"\n";
    toml += created_disk("alpha", "alpha.qcow2", "qcow2", 64 * kMiB, shape);
    toml += "\n[[vm.alpha.disk]]\nfile = " + quoted(files_.data_a) + "\n";
    toml += "\n[[vm.alpha.disk]]\nsource = " + quoted(files_.whole) + "\nbus = \"scsi\"\n";
    if (second)
      toml += "\n[[vm.alpha.disk]]\nfile = " + quoted(files_.data_b) + "\nbus = \"sata\"\n";

    if (!second) {
      toml += vm("beta", shape, "64MiB", 1, "pc");
      toml += created_disk("beta", "beta.raw", "raw", 8 * kMiB, shape);
      if (with_nic_) toml += "\n[[vm.beta.nic]]\nnetwork = \"default\"\n";
    }

    // A running guest: its changes wait for its next boot, and no kill may stop or restart it.
    const std::string gamma = session_.domain("gamma");
    shape.domains.insert(gamma);
    toml += "\n" + kernel_guest_toml("gamma", gamma, guest_images().initrd_acpi,
                                     second ? "144MiB" : "128MiB", 1,
                                     second ? "autostart = true\n" : "autostart = false\n");
    toml += created_disk("gamma", "gamma.qcow2", "qcow2", 16 * kMiB, shape);

    toml += vm("delta", shape, "64MiB", 1, "q35", second ? "delta-renamed" : "delta");
    toml += created_disk("delta", "delta.qcow2", "qcow2", 16 * kMiB, shape);

    if (second) {
      toml += vm("epsilon", shape, "64MiB", 1, "q35");
      toml += created_disk("epsilon", "epsilon.qcow2", "qcow2", 16 * kMiB, shape);
    }

    toml += vm("scratch", shape, "64MiB", 1, "q35");
    toml += created_disk("scratch", "scratch-" + std::to_string(round) + ".qcow2", "qcow2",
                         16 * kMiB, shape);
    return shape;
  }

  // Every domain name either shape declares.
  std::set<std::string> all_domains() const {
    std::set<std::string> names = shape(0).domains;
    for (const std::string& name : shape(1).domains) names.insert(name);
    return names;
  }

 private:
  std::string vm(const std::string& key, FleetShape& shape, const std::string& memory,
                 unsigned vcpus, const std::string& machine, const std::string& suffix = "") const {
    const std::string name = session_.domain(suffix.empty() ? key : suffix);
    shape.domains.insert(name);
    return "\n[vm." + key + "]\nname = " + quoted(name) +
           "\ntype = \"qemu\"\nmachine = " + quoted(machine) + "\nmemory = " + quoted(memory) +
           "\nvcpus = " + std::to_string(vcpus) + "\nstate = \"stopped\"\n";
  }

  std::string created_disk(const std::string& key, const std::string& file,
                           const std::string& format, std::uint64_t bytes,
                           FleetShape& shape) const {
    const std::string path = (session_.dir() / file).string();
    shape.created[path] = {format, bytes};
    return "\n[[vm." + key + ".disk]]\nfile = " + quoted(path) + "\nformat = " + quoted(format) +
           "\nsize = \"" + std::to_string(bytes / kMiB) + "MiB\"\n";
  }

  const Session& session_;
  FleetFiles files_;
  bool with_nic_;
};

// The checksum of every disk byte the fleet has ever had: files made before the first apply and
// every image apply created since. Nothing may change them; removals keep them.
class DiskLedger {
 public:
  void track(const std::string& path) { sums_[path] = sha256_of(path); }

  // Images apply created since the last call are whole (the declared format and virtual size)
  // and join the ledger; then every entry is checked.
  void check(const std::map<std::string, CreatedImage>& created) {
    for (const auto& [path, image] : created) {
      if (sums_.count(path)) continue;
      check_image(path, image);
      track(path);
    }
    for (const auto& [path, sum] : sums_) {
      INFO("disk " << path);
      CHECK(sha256_of(path) == sum);
    }
  }

  std::size_t size() const { return sums_.size(); }

 private:
  std::map<std::string, std::string> sums_;
};

// Every domain under the session's prefix carries the marker and is one the fleet declares.
void check_fleet_domains(Session& session, const std::set<std::string>& allowed) {
  for (const std::string& name : session.libvirt().domain_names()) {
    if (!name.starts_with(session.prefix())) continue;
    INFO("domain " << name);
    CHECK(session.libvirt().is_managed(name));
    CHECK(allowed.count(name) == 1);
  }
}

// How long an unkilled apply takes, and how long its steps take from the first one's start.
struct ApplyTiming {
  long long apply_ms = 0;
  long long steps_ms = 0;
};

// What apply prints as each step begins.
constexpr const char* kStepStarted = ": started";

// `plan` then `apply` after an interruption, and the plan after that is empty.
ApplyTiming converge(Session& session, const std::string& config, const FleetShape& shape,
                     DiskLedger& ledger) {
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());
  const auto started = std::chrono::steady_clock::now();
  Process apply({VIRTFORM_BINARY, "apply", config, "-c", uri(), "--auto-approve"},
                {{"NO_COLOR", "1"}});
  const bool stepped = apply.wait_for_output(kStepStarted, 5min);
  const long long steps_began = elapsed_ms(started);
  ProcessResult applied = apply.wait(5min);
  const long long took = elapsed_ms(started);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  ProcessResult again = detailed_plan(session, config);
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  CHECK(domains_under(session) == shape.domains);
  check_fleet_domains(session, shape.domains);
  ledger.check(shape.created);
  return {took, stepped ? took - steps_began : 0};
}

// Where a kill falls: three in four among the steps (a delay after the first one began, within
// how long they take), the rest anywhere in the apply, reading the host included. On a host
// with many domains the reading is most of an apply, and delays from its start alone would
// rarely reach a step.
struct KillPoint {
  bool among_steps = false;
  std::chrono::milliseconds delay{0};

  std::string describe() const {
    return std::to_string(delay.count()) + " ms after " +
           (among_steps ? "the first step began" : "apply started");
  }
};

KillPoint kill_point(const ApplyTiming& timing, std::mt19937_64& random) {
  KillPoint point;
  point.among_steps = std::bernoulli_distribution(0.75)(random);
  const long long window = point.among_steps ? timing.steps_ms : timing.apply_ms;
  point.delay =
      std::chrono::milliseconds(std::uniform_int_distribution<long long>(0, window)(random));
  return point;
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

int kills_wanted() {
  const char* text = std::getenv("VIRTFORM_FAULT_KILLS");
  return text != nullptr && *text != '\0' ? std::stoi(text) : 30;
}

}  // namespace

TEST_CASE("apply killed at random points of a multi-VM plan always converges, keeping every disk",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  const auto test_started = std::chrono::steady_clock::now();
  const std::uint64_t seed = seed_from_environment("VIRTFORM_FAULT_SEED");
  std::cout << "kill test: seed " << seed << " (VIRTFORM_FAULT_SEED=" << seed
            << " replays this run)" << std::endl;
  std::mt19937_64 random(seed);

  Session session;
  FleetFiles files;
  files.data_a = session.add_raw_image("data-a.raw", 2 * kMiB);
  files.data_b = session.add_raw_image("data-b.raw", 2 * kMiB);
  files.loader = session.add_raw_image("loader.img", 1 * kMiB);
  const LoopDevice& loop = session.add_loop_device(16 * kMiB);
  files.whole = loop.device();
  files.backing = loop.backing_file().string();
  const Fleet fleet(session, files, session.libvirt().has_network("default"));
  const std::set<std::string> every_domain = fleet.all_domains();

  DiskLedger ledger;
  for (const std::string& path : {files.data_a, files.data_b, files.loader, files.whole})
    ledger.track(path);

  // Unkilled applies of both shapes: the fleet exists, and how long an apply takes tells where
  // the kills may land. The first creates everything and starts the guest; the next two are
  // like the rounds that follow.
  std::map<int, ApplyTiming> timing;
  int round = 0;
  for (; round < 3; ++round) {
    const FleetShape shape = fleet.shape(round);
    const std::string config = session.write_config(shape.toml);
    timing[round % 2] = converge(session, config, shape, ledger);
  }
  const std::string gamma = session.domain("gamma");
  REQUIRE(session.libvirt().is_running(gamma));
  const int gamma_id = session.libvirt().id(gamma);
  for (const auto& [shape, measured] : timing)
    std::cout << "kill test: an unkilled apply of shape " << (shape == 0 ? "A" : "B") << " takes ~"
              << measured.apply_ms << " ms, its steps ~" << measured.steps_ms << " ms" << std::endl;

  const int wanted = kills_wanted();
  int kills = 0;
  int finished_first = 0;
  std::map<std::string, int> landed;  // where in the apply the kills fell
  // Room for an apply in four to finish before its kill, as they do more often on a loaded machine.
  for (; kills < wanted && round < 3 + 4 * wanted; ++round) {
    const FleetShape shape = fleet.shape(round);
    const std::string config = session.write_config(shape.toml);
    // Never apply something that reaches outside the sandbox, even when it is to be killed.
    const nlohmann::json plan = session.plan_json(config);
    REQUIRE(session.foreign_changes(plan).empty());
    const std::size_t steps = plan.value("steps", nlohmann::json::array()).size();

    const KillPoint point = kill_point(timing[round % 2], random);
    // Half the kills take the whole process group, as Ctrl-C or a service manager would:
    // qemu-img dies with virtform then.
    const bool whole_group = std::bernoulli_distribution(0.5)(random);
    Process apply({VIRTFORM_BINARY, "apply", config, "-c", uri(), "--auto-approve"},
                  {{"NO_COLOR", "1"}}, /*own_process_group=*/true);
    if (point.among_steps) apply.wait_for_output(kStepStarted, 2min);
    std::this_thread::sleep_for(point.delay);
    if (whole_group) {
      apply.kill_group(SIGKILL);
    } else {
      apply.kill(SIGKILL);
    }
    const ProcessResult killed = apply.wait(1min);
    const bool was_killed = killed.exit_code == 128 + SIGKILL;
    // Where the kill landed, from the progress apply had printed.
    const std::size_t started = count_lines_with(killed.out, ": started");
    const std::size_t done = count_lines_with(killed.out, ": done after");
    if (was_killed) {
      ++kills;
      ++landed[started == 0   ? "before the first step"
               : done < steps ? "among the steps"
                              : "after the last step"];
    } else {
      ++finished_first;
      INFO(killed.describe());
      REQUIRE(killed.exit_code == 0);
    }

    // Whatever the kill interrupted: no domain without the marker, none the fleet never had.
    check_fleet_domains(session, every_domain);
    const auto converging = std::chrono::steady_clock::now();
    converge(session, config, shape, ledger);
    CHECK(session.libvirt().id(gamma) == gamma_id);
    std::cout << "kill test: round " << round << " (shape " << (round % 2 == 0 ? "A" : "B")
              << "): " << (was_killed ? "SIGKILL" : "finished before SIGKILL") << " to the "
              << (whole_group ? "process group" : "apply") << " " << point.describe() << ", "
              << done << " of " << steps << " steps done (" << started
              << " started); plan + apply converged in " << elapsed_ms(converging) << " ms"
              << std::endl;
  }
  std::cout << "kill test: " << kills << " kills (" << finished_first
            << " applies finished before their kill), " << ledger.size()
            << " disks unchanged, seed " << seed << ", " << elapsed_ms(test_started) << " ms"
            << std::endl;
  for (const auto& [where, count] : landed)
    std::cout << "kill test: " << count << " kills " << where << std::endl;
  CHECK(kills >= wanted);
  CHECK(landed["among the steps"] > 0);
}

namespace {

// The hidden files in `directory`: where no unnamed files can be made, an image is made under
// ".NAME.virtform-XXXXXX" until it is whole.
std::set<std::string> hidden_files(const std::filesystem::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.path().filename().string().starts_with('.'))
      names.insert(entry.path().filename().string());
  return names;
}

// Applies that make six qcow2 images in `directory`, each killed with its process group the
// moment a qemu-img is seen at work: every image is then whole or absent, and the next apply
// makes the rest, leaving no hidden file but next to an image the kill found whole (a kill
// between naming the image and removing its hidden name). Returns how many kills caught
// qemu-img.
int kill_while_making_images(Session& session, const std::filesystem::path& directory) {
  constexpr int kImages = 6;
  constexpr int kAttempts = 4;
  int caught = 0;
  std::set<std::string> whole_after_kill;  // over all attempts: a hidden file outlives its own
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::map<std::string, CreatedImage> images;
    std::string toml = "[vm.many]\nname = " + quoted(session.domain("many")) +
                       "\ntype = \"qemu\"\nmemory = \"64MiB\"\nstate = \"stopped\"\n";
    for (int i = 0; i < kImages; ++i) {
      const std::string name =
          "attempt" + std::to_string(attempt) + "-" + std::to_string(i) + ".qcow2";
      images[(directory / name).string()] = {"qcow2", 1024 * kMiB};
      toml += "\n[[vm.many.disk]]\nfile = " + quoted((directory / name).string()) +
              "\nsize = \"1GiB\"\n";
    }
    const std::string config = session.write_config(toml);
    REQUIRE(session.foreign_changes(session.plan_json(config)).empty());

    Process apply({VIRTFORM_BINARY, "apply", config, "-c", uri(), "--auto-approve"},
                  {{"NO_COLOR", "1"}}, /*own_process_group=*/true);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool seen = false;
    while (!seen && !has_exited(apply.pid()) && std::chrono::steady_clock::now() < deadline) {
      for (pid_t child : children_of(apply.pid())) seen = seen || program_of(child) == "qemu-img";
      if (!seen) std::this_thread::sleep_for(200us);
    }
    apply.kill_group(SIGKILL);
    const ProcessResult killed = apply.wait(1min);
    if (!seen || killed.exit_code != 128 + SIGKILL) continue;
    ++caught;

    for (const auto& [path, image] : images) {
      if (!std::filesystem::exists(path)) continue;
      INFO("left behind by the kill");
      check_image(path, image);
      whole_after_kill.insert(std::filesystem::path(path).filename().string());
    }
    CHECK(unexpected_files(directory, {"attempt", "config", "."}).empty());
    if (supports_unnamed_files(directory)) CHECK(hidden_files(directory).empty());

    ProcessResult applied = session.apply(config);
    INFO(applied.describe());
    REQUIRE(applied.exit_code == 0);
    CHECK(detailed_plan(session, config).exit_code == 0);
    for (const auto& [path, image] : images) check_image(path, image);
    for (const std::string& hidden : hidden_files(directory)) {
      INFO("hidden file left after the next apply: " << hidden);
      const std::string image = hidden.substr(1, hidden.rfind(".virtform-") - 1);
      CHECK(whole_after_kill.count(image) == 1);
    }
  }
  return caught;
}

}  // namespace

TEST_CASE("an apply killed with qemu-img while it creates images leaves no partial image",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  // Where the temp directory has no unnamed files either (overlayfs before Linux 6.6), this is
  // the hidden-name path again; said, so that the figure is read right.
  const bool unnamed = supports_unnamed_files(session.dir());
  const int caught = kill_while_making_images(session, session.dir());
  std::cout << "image kill test (" << (unnamed ? "O_TMPFILE" : "no O_TMPFILE here")
            << "): caught qemu-img at work in " << caught << " of 4 applies" << std::endl;
  CHECK(caught > 0);
}

TEST_CASE("without unnamed files (FUSE), an apply killed making images leaves no partial image",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  BindfsMount fuse(session.dir() / "fuse-source", session.dir() / "fuse");
  // Else this would test the O_TMPFILE path a second time.
  REQUIRE_FALSE(supports_unnamed_files(fuse.path()));
  const int caught = kill_while_making_images(session, fuse.path());
  std::cout << "image kill test (bindfs): caught qemu-img at work in " << caught << " of 4 applies"
            << std::endl;
  CHECK(caught > 0);
}

}  // namespace virtform::e2e
