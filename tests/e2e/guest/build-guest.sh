#!/usr/bin/env bash
# Builds the tiny guests the end-to-end tests boot under TCG, from Debian packages only:
#   OUT_DIR/vmlinuz            Debian's stock amd64 kernel
#   OUT_DIR/initrd-acpi.img    an init that powers off when the ACPI power button is pressed
#   OUT_DIR/initrd-ignore.img  an init that ignores the power button and sleeps forever
# Both load the virtio balloon driver, so libvirt can resize their memory while they run.
# Both inits print "virtform-guest: ready" on ttyS0 every second once they are waiting, so a
# test can tell that the guest is far enough to react to (or ignore) the button.
# Idempotent: the outputs are reused while this script and the kernel package are unchanged.
set -euo pipefail

out_dir=${1:?usage: build-guest.sh OUT_DIR}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

busybox=/bin/busybox
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "build-guest: $busybox is missing or not static; install busybox-static" >&2
  exit 1
fi

# The kernel comes from the versioned package behind linux-image-amd64. It is unpacked into the
# cache rather than installed, so the host's /boot and its initramfs hooks are left alone.
resolve_kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
kernel_package=$(resolve_kernel_package)
if [[ -z "$kernel_package" && $(id -u) -eq 0 ]]; then
  # Minimal images ship without package lists.
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  kernel_package=$(resolve_kernel_package)
fi
if [[ -z "$kernel_package" ]]; then
  echo "build-guest: cannot resolve linux-image-amd64 (apt-get update first?)" >&2
  exit 1
fi

stamp="$kernel_package $(sha256sum "$0" | cut -d' ' -f1) $(sha256sum "$busybox" | cut -d' ' -f1)"
if [[ -f "$out_dir/stamp" && "$(cat "$out_dir/stamp")" == "$stamp" &&
  -f "$out_dir/vmlinuz" && -f "$out_dir/initrd-acpi.img" && -f "$out_dir/initrd-ignore.img" ]]; then
  echo "build-guest: up to date in $out_dir"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "build-guest: fetching $kernel_package"
(cd "$work" && apt-get download "$kernel_package" >/dev/null 2>&1) || {
  echo "build-guest: apt-get download $kernel_package failed" >&2
  exit 1
}
dpkg-deb -x "$work"/"$kernel_package"_*.deb "$work/kernel"
modules_dir=$(echo "$work"/kernel/lib/modules/*)

# The virtio balloon driver and what it needs, in load order: a guest that runs it gives memory
# back when libvirt lowers its balloon, and takes it again when raised.
balloon_modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon"

# make_initrd NAME INIT_BODY: a busybox root with the modules and the given /init tail.
make_initrd() {
  local name=$1 body=$2
  local root="$work/root-$name"
  mkdir -p "$root"/{bin,dev,proc,sys,modules}
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  local balloon
  balloon=$(for module in $balloon_modules; do echo "kernel/drivers/virtio/$module.ko"; done)
  for module in kernel/drivers/acpi/button.ko kernel/drivers/input/evdev.ko $balloon; do
    local path="$modules_dir/$module"
    [[ -f "$path.xz" ]] && xz -dc "$path.xz" >"$path"
    cp "$path" "$root/modules/"
  done
  cat >"$root/init" <<EOF
#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for module in $balloon_modules; do insmod /modules/\$module.ko; done
# A console that keeps saying so, because a test may attach to the serial port late.
announce() { while :; do echo "virtform-guest: ready ($name)" >/dev/ttyS0; sleep 1; done; }
$body
EOF
  chmod +x "$root/init"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --quiet --reproducible | gzip -9n) >"$out_dir/initrd-$name.img.tmp"
  mv "$out_dir/initrd-$name.img.tmp" "$out_dir/initrd-$name.img"
}

# The power button driver creates an input device named "Power Button"; its event node blocks
# until the button is pressed (ACPI shutdown), and any event means power off.
# shellcheck disable=SC2016  # the body is the guest's shell code, expanded there
make_initrd acpi '
insmod /modules/evdev.ko
insmod /modules/button.ko
button=""
for tries in $(seq 100); do
  for dir in /sys/class/input/input*; do
    if [ "$(cat "$dir/name" 2>/dev/null)" = "Power Button" ]; then
      for event in "$dir"/event*; do
        [ -e "/dev/input/${event##*/}" ] && button=/dev/input/${event##*/}
      done
    fi
  done
  [ -n "$button" ] && break
  sleep 0.1
done
if [ -z "$button" ]; then
  echo "virtform-guest: no power button found" >/dev/ttyS0
  exec sleep 2147483647
fi
announce &
# Only a real event may power the guest off; a read error leaves it running (and the test fails).
if head -c 1 "$button" >/dev/null; then
  echo "virtform-guest: power button pressed, powering off" >/dev/ttyS0
  poweroff -f
fi
echo "virtform-guest: cannot read $button" >/dev/ttyS0
exec sleep 2147483647'

# The same kernel, no button driver: ACPI shutdown requests go unanswered.
make_initrd ignore '
announce &
exec sleep 2147483647'

cp "$(echo "$work"/kernel/boot/vmlinuz-*)" "$out_dir/vmlinuz.tmp"
mv "$out_dir/vmlinuz.tmp" "$out_dir/vmlinuz"
chmod 0644 "$out_dir"/vmlinuz "$out_dir"/initrd-*.img
echo "$stamp" >"$out_dir/stamp"
echo "build-guest: built $out_dir/{vmlinuz,initrd-acpi.img,initrd-ignore.img}"
