// libFuzzer target: TOML text -> validated Desired model, as `virtform validate` reads a file.
// The loader documents no exception: every problem must come back as a diagnostic. Anything
// else escaping (or a sanitizer report) is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/passes.h"

namespace {

using namespace virtform;

// A small host for the checks that need files: one QEMU firmware descriptor, its OVMF images,
// the by-id disk of the examples, and nothing else. Fixed, so every run is reproducible.
class FuzzHost : public HostFiles {
 public:
  bool exists(const std::string& path) const override {
    return path == kCode || path == kVars || path == kDisk || path == kDescriptor;
  }
  bool is_block_device(const std::string& path) const override { return path == kDisk; }
  bool is_regular_file(const std::string& path) const override {
    return exists(path) && !is_block_device(path);
  }
  std::optional<std::string> read(const std::string& path) const override {
    if (path == kDescriptor) return kDescriptorText;
    return std::nullopt;
  }
  std::optional<std::string> sha256(const std::string& path) const override {
    if (!exists(path)) return std::nullopt;
    return std::string(64, '0');
  }
  std::vector<std::string> list(const std::string& directory) const override {
    if (directory == "/usr/share/qemu/firmware") return {"60-edk2-x86_64.json"};
    return {};
  }
  std::optional<ImageProbe> probe_image(const std::string&) const override { return std::nullopt; }
  void create_image(const std::string&, const std::string&, std::uint64_t) override {}
  void create_overlay(const std::string&, const std::string&) override {}
  void copy_file(const std::string&, const std::string&) override {}

 private:
  static constexpr const char* kCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  static constexpr const char* kVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
  static constexpr const char* kDisk = "/dev/disk/by-id/ata-EXAMPLE_SERIAL_1";
  static constexpr const char* kDescriptor = "/usr/share/qemu/firmware/60-edk2-x86_64.json";
  static constexpr const char* kDescriptorText = R"({
    "interface-types": ["uefi"],
    "mapping": {"device": "flash",
                "executable": {"filename": "/usr/share/OVMF/OVMF_CODE_4M.fd", "format": "raw"},
                "nvram-template": {"filename": "/usr/share/OVMF/OVMF_VARS_4M.fd", "format": "raw"}},
    "targets": [{"architecture": "x86_64", "machines": ["pc-i440fx-*", "pc-q35-*"]}],
    "features": ["acpi-s3"]})";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Diagnostics diagnostics;
  FuzzHost host;
  // The fragments' XML is the libvirt provider's, which this target does not link.
  read_config_text(text, "fuzz.toml", host, nullptr, diagnostics);
  return 0;
}
