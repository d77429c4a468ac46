// check_host_files: what the configuration names on the host must be there (or be creatable).

#include "engine/checks/host_check.h"

#include <filesystem>

namespace virtform {
namespace {

class HostCheck {
 public:
  HostCheck(const HostFiles& files, Diagnostics& diagnostics)
      : files_(files), diagnostics_(diagnostics) {}

  void loader(const Loader& loader) {
    if (loader.image.empty()) return;
    if (!files_.exists(loader.image)) {
      error("loader image " + loader.image + " does not exist", loader.where,
            "loader." + loader.key);
      return;
    }
    if (!files_.is_regular_file(loader.image)) {
      error("loader image " + loader.image +
                " is not a regular file (a device, FIFO or directory); name the image file",
            loader.where, "loader." + loader.key);
      return;
    }
    if (const auto probe = files_.probe_image(loader.image); probe && probe->format != "raw") {
      error("loader image " + loader.image + " is a " + probe->format + " image, but a " +
                "loader is attached raw: convert it (qemu-img convert -O raw)",
            loader.where, "loader." + loader.key);
      return;
    }
    if (!loader.sha256) return;
    const auto actual = files_.sha256(loader.image);
    if (actual != loader.sha256) {
      error("loader image " + loader.image + " has sha256 " + actual.value_or("(unreadable)") +
                ", not the " + *loader.sha256 + " this loader names: it is not the image the " +
                "config means. Restore that image, or set sha256 to the new one",
            loader.where, "loader." + loader.key);
    }
  }

  void vm(const Vm& vm) {
    resource_ = "vm." + vm.key;
    for (const Disk& disk : vm.disks) {
      if (!disk.backing.empty()) {
        overlay(disk);
      } else if (disk.loader.empty()) {  // a loader image itself is checked at its [loader.X]
        disk.kind == DiskSource::block ? block_disk(disk) : file_disk(disk);
      }
    }
    for (const Disk& cdrom : vm.cdroms) cdrom_media(cdrom);
    for (const PciDevice& device : vm.pci) {
      if (device.rom) must_exist(*device.rom, "ROM file", device.where);
    }
    if (vm.kernel) {
      must_exist(vm.kernel->kernel, "kernel", vm.where);
      if (!vm.kernel->initrd.empty()) must_exist(vm.kernel->initrd, "initrd", vm.where);
    }
    tpm_device(vm);
    for (const InputDevice& input : vm.inputs)
      if (input.type == "evdev") must_exist(input.source, "input device", input.where);
    if (vm.graphics && vm.graphics->rendernode)
      must_exist(*vm.graphics->rendernode, "graphics rendernode", vm.where);
    for (const Share& share : vm.shares) share_source(share);
    if (!vm.firmware.code.empty()) must_exist(vm.firmware.code, "firmware_code", vm.where);
    if (!vm.firmware.vars_template.empty()) {
      must_exist(vm.firmware.vars_template, "firmware_vars", vm.where);
    } else if (!vm.firmware.code.empty() && !files_.exists(vm.firmware.nvram)) {
      error("firmware_code " + vm.firmware.code + " has no firmware_vars, and the NVRAM store " +
                vm.firmware.nvram + " does not exist: without a variables template it cannot " +
                "be made. Set firmware_vars to the OVMF_VARS file that goes with this code",
            vm.where);
    }
  }

 private:
  // An ISO is read as it is: apply never makes one, and libvirt would refuse to boot without it.
  void cdrom_media(const Disk& cdrom) {
    if (cdrom.source.empty()) return;
    if (!files_.exists(cdrom.source)) {
      error("CD-ROM image " + cdrom.source +
                " does not exist; put the ISO there, or leave out file for an empty drive",
            cdrom.where);
    } else if (!files_.is_regular_file(cdrom.source)) {
      error("CD-ROM image " + cdrom.source + " is not a regular file (an ISO image)", cdrom.where);
    }
  }

  void block_disk(const Disk& disk) {
    if (!files_.exists(disk.source)) {
      error("disk source " + disk.source + " does not exist", disk.where);
      return;
    }
    if (!files_.is_block_device(disk.source)) {
      error("disk source " + disk.source +
                " is not a block device; use file = \"...\" for an image file",
            disk.where);
      return;
    }
    // A /dev/sdX name is warned about by the passthrough checks, which know its by-id name.
  }

  void file_disk(const Disk& disk) {
    if (files_.exists(disk.source)) {
      if (files_.is_block_device(disk.source)) {
        error("disk file " + disk.source + " is a block device; use source = \"" + disk.source +
                  "\" to pass it whole",
              disk.where);
        return;
      }
      if (!files_.is_regular_file(disk.source)) {
        error("disk file " + disk.source +
                  " is not a regular file (a character device, FIFO or directory); name an "
                  "image file",
              disk.where);
        return;
      }
      if (const auto probe = files_.probe_image(disk.source)) existing_image(disk, *probe);
      return;
    }
    if (!disk.size) {
      error("disk file " + disk.source + " does not exist; set size to create it", disk.where);
      return;
    }
    directory_must_exist("disk file", disk);
  }

  // Apply makes the file: its directory must be there.
  void directory_must_exist(const std::string& what, const Disk& disk) {
    std::string directory = std::filesystem::path(disk.source).parent_path().string();
    if (!files_.exists(directory)) {
      error(what + " " + disk.source + " cannot be created: directory " + directory +
                " does not exist",
            disk.where);
    }
  }

  // A VM's overlay on its loader: made by apply when missing; an existing one must be a qcow2
  // reading through to this loader's image, or the guest would boot something else.
  void overlay(const Disk& disk) {
    if (!files_.exists(disk.source)) return directory_must_exist("loader overlay", disk);
    if (!files_.is_regular_file(disk.source)) {
      error("loader overlay " + disk.source + " is not a regular file", disk.where);
      return;
    }
    const auto probe = files_.probe_image(disk.source);
    if (!probe) return;
    const auto normal = [](const std::string& path) {
      return std::filesystem::path(path).lexically_normal();
    };
    if (probe->format != "qcow2" || normal(probe->backing_file) != normal(disk.backing)) {
      const std::string is = probe->format != "qcow2" ? "a " + probe->format + " image"
                             : probe->backing_file.empty()
                                 ? "a qcow2 image without a backing file"
                                 : "a qcow2 image over " + probe->backing_file;
      error("loader overlay " + disk.source + " is " + is + ", not an overlay on loader." +
                disk.loader + "'s image " + disk.backing +
                ": it is not this VM's overlay. Move it away (apply then makes one), or set " +
                "boot.overlay to another path",
            disk.where);
    }
  }

  // An existing image is attached as what its header says, never as what its name suggests: a
  // qcow2 attached raw hands the guest the container, which it can then overwrite.
  void existing_image(const Disk& disk, const ImageProbe& probe) {
    if (probe.format != disk.format) {
      error("disk file " + disk.source + " is a " + probe.format + " image, but the config " +
                "attaches it as " + disk.format + " (the format declared, or taken from the " +
                "file's extension): " + format_fix(probe.format),
            disk.where);
      return;
    }
    if (disk.size && probe.virtual_bytes && *disk.size != *probe.virtual_bytes) {
      error("disk file " + disk.source + " exists with a size of " +
                format_bytes(*probe.virtual_bytes) + " (" + std::to_string(*probe.virtual_bytes) +
                " bytes), not the declared " + format_bytes(*disk.size) +
                ": virtform never resizes an existing image. Remove size, or resize the image " +
                "(qemu-img resize) to the declared size",
            disk.where);
    }
  }

  static std::string format_fix(const std::string& format) {
    if (format == "qcow2" || format == "raw") return "set format = \"" + format + "\"";
    return "virtform attaches raw and qcow2 images only; convert it (qemu-img convert -O qcow2)";
  }

  // libvirt defines a guest passing through a TPM the host does not have; it fails only to start.
  void tpm_device(const Vm& vm) {
    const auto device = vm.attributes.find("tpm.device");
    if (device == vm.attributes.end() || files_.exists(device->second)) return;
    error("TPM device " + device->second +
              " does not exist on the host: name the host's TPM (ls /dev/tpm*), or set "
              "backend = \"emulator\" for a TPM of the guest's own",
          vm.where_set(device->first));
  }

  // virtiofsd serves a directory; the guest fails to start on anything else.
  void share_source(const Share& share) {
    if (!files_.exists(share.source)) {
      error("share source " + share.source + " does not exist; create the directory first",
            share.where);
    } else if (files_.is_regular_file(share.source) || files_.is_block_device(share.source)) {
      error("share source " + share.source + " is not a directory; share the directory it is in",
            share.where);
    }
  }

  void must_exist(const std::string& path, const std::string& what, const Location& where) {
    if (!files_.exists(path)) error(what + " " + path + " does not exist", where);
  }

  void error(std::string message, const Location& where, std::string resource = "") {
    diagnostics_.push_back({Severity::error, std::move(message), where,
                            resource.empty() ? resource_ : std::move(resource)});
  }

  const HostFiles& files_;
  Diagnostics& diagnostics_;
  std::string resource_;  // the VM being checked: "vm.dsm"
};

}  // namespace

void check_host_files(const Desired& desired, const HostFiles& files, Diagnostics& diagnostics) {
  HostCheck check(files, diagnostics);
  for (const auto& [key, loader] : desired.loaders) check.loader(loader);
  for (const Vm& vm : desired.vms) check.vm(vm);
}

}  // namespace virtform
