#!/bin/bash
# Records examples/demo-host/root: the sysfs, proc and dev files virtform reads, for the seed's
# Ryzen 5 5350GE / ASRock B450M host (all 21 IOMMU groups of its listing) with the DSM guest's
# two 10 TB disks on the SAS2008 HBA, and an Intel I350-T2 dual-port NIC on a CPU root port of
# its own for the firewall example. Plans of the examples run offline against it:
#   virtform plan --sysfs-root examples/demo-host/root examples/passthrough
# Re-run after changing this script; the tree is committed.
set -euo pipefail

root="$(cd "$(dirname "$0")" && pwd)/root"
rm -rf "$root"
mkdir -p "$root"/sys/{bus/pci/devices,kernel/iommu_groups,block,class/iommu,class/net} \
         "$root"/dev/disk/by-id "$root"/proc/self "$root/sys/module/vfio_pci"

# A relative symlink, as the kernel makes them: link <target> <link>.
link() {
  mkdir -p "$(dirname "$2")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$2")" "$1")" "$2"
}

driver() {
  local dir="$root/sys/bus/pci/drivers/$1"
  mkdir -p "$dir"
  touch "$dir/bind" "$dir/unbind" "$dir/new_id" "$dir/remove_id"
}

declare -A device_path
# pci <address> <vendor:device> <class> <driver or -> <group> <parent or -> [boot_vga]
pci() {
  local address=$1 ids=$2 class=$3 drv=$4 group=$5 parent=$6 boot=${7:-0}
  local base="$root/sys/devices/pci0000:00"
  local dir="${parent/#-/}"
  dir="${dir:+${device_path[$parent]}}"
  dir="${dir:-$base}/$address"
  device_path[$address]=$dir
  mkdir -p "$dir"
  echo "0x${ids%%:*}" >"$dir/vendor"
  echo "0x${ids##*:}" >"$dir/device"
  echo "0x1849" >"$dir/subsystem_vendor"
  echo "0x${ids##*:}" >"$dir/subsystem_device"
  echo "0x$class" >"$dir/class"
  echo "(null)" >"$dir/driver_override"
  [[ $class == 03* ]] && echo "$boot" >"$dir/boot_vga"
  {
    [[ $drv != - ]] && echo "DRIVER=$drv"
    echo "PCI_CLASS=$(printf '%X' "0x$class")"
    echo "PCI_ID=${ids^^}"
    echo "PCI_SUBSYS_ID=1849:${ids##*:}" | tr 'a-f' 'A-F'
    echo "PCI_SLOT_NAME=$address"
  } >"$dir/uevent"
  link "$dir" "$root/sys/bus/pci/devices/$address"
  if [[ $drv != - ]]; then
    driver "$drv"
    link "$root/sys/bus/pci/drivers/$drv" "$dir/driver"
    link "$dir" "$root/sys/bus/pci/drivers/$drv/$address"
  fi
  link "$root/sys/kernel/iommu_groups/$group" "$dir/iommu_group"
  link "$dir" "$root/sys/kernel/iommu_groups/$group/devices/$address"
}

pci 0000:00:01.0 1022:1632 060000 -           0  -
pci 0000:00:01.1 1022:1633 060400 pcieport    1  -
pci 0000:00:02.0 1022:1632 060000 -           2  -
pci 0000:00:02.1 1022:1634 060400 pcieport    3  -
pci 0000:00:02.2 1022:1634 060400 pcieport    4  -
pci 0000:00:08.0 1022:1632 060000 -           5  -
pci 0000:00:08.1 1022:1635 060400 pcieport    6  -
pci 0000:00:08.2 1022:1635 060400 pcieport    7  -
pci 0000:00:14.0 1022:790b 0c0500 piix4_smbus 8  -
pci 0000:00:14.3 1022:790e 060100 -           8  -
for function in 0 1 2 3 4 5 6 7; do
  pci "0000:00:18.$function" "1022:$(printf '%04x' $((0x166a + function)))" 060000 - 9 -
done
pci 0000:01:00.0 1000:0072 010700 mpt3sas       10 0000:00:01.1
pci 0000:02:00.0 1022:43d5 0c0330 xhci_hcd      11 0000:00:02.1
pci 0000:02:00.1 1022:43c8 010601 ahci          11 0000:00:02.1
pci 0000:02:00.2 1022:43c6 060400 pcieport      11 0000:00:02.1
pci 0000:03:00.0 1022:43c7 060400 pcieport      11 0000:02:00.2
pci 0000:03:01.0 1022:43c7 060400 pcieport      11 0000:02:00.2
pci 0000:03:04.0 1022:43c7 060400 pcieport      11 0000:02:00.2
pci 0000:05:00.0 10ec:8168 020000 r8169         11 0000:03:01.0
pci 0000:06:00.0 15b3:1003 020000 mlx4_core     11 0000:03:04.0
pci 0000:07:00.0 8086:f1a6 010802 nvme          12 0000:00:02.2
pci 0000:08:00.0 1002:1638 030000 amdgpu        13 0000:00:08.1 1
pci 0000:08:00.1 1002:1637 040300 snd_hda_intel 14 0000:00:08.1
pci 0000:08:00.2 1022:15df 108000 ccp           15 0000:00:08.1
pci 0000:08:00.3 1022:1639 0c0330 xhci_hcd      16 0000:00:08.1
pci 0000:08:00.4 1022:1639 0c0330 xhci_hcd      17 0000:00:08.1
pci 0000:08:00.6 1022:15e3 040300 snd_hda_intel 18 0000:00:08.1
pci 0000:09:00.0 1022:7901 010601 ahci          19 0000:00:08.2
pci 0000:09:00.1 1022:7901 010601 ahci          20 0000:00:08.2
pci 0000:00:03.1 1022:1634 060400 pcieport      21 -
pci 0000:0c:00.0 8086:1521 020000 igb           22 0000:00:03.1
pci 0000:0c:00.1 8086:1521 020000 igb           23 0000:00:03.1
driver vfio-pci
touch "$root/sys/bus/pci/drivers_probe"
mkdir -p "$root/sys/devices/virtual/iommu/ivhd0"
link "$root/sys/devices/virtual/iommu/ivhd0" "$root/sys/class/iommu/ivhd0"
mkdir -p "$root/sys/class/net/br0/bridge" "$root/sys/class/net/enp5s0"

mountinfo="$root/proc/self/mountinfo"
echo "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw" >"$mountinfo"
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$root/proc/swaps"
index=0
mount_id=29
# disk <name> <bytes> <model> <controller> <by-id> <partitions> [node:mountpoint|node:swap]...
disk() {
  local name=$1 bytes=$2 model=$3 controller=$4 id=$5 parts=$6
  shift 6
  local lun="${device_path[$controller]}/host$index/target$index:0:0/$index:0:0:0"
  local dir="$lun/block/$name" minor=$((16 * index))
  mkdir -p "$dir/holders"
  echo "$model" >"$lun/model"
  link "$lun" "$dir/device"
  echo $((bytes / 512)) >"$dir/size"
  echo 0 >"$dir/removable"
  echo "8:$minor" >"$dir/dev"
  link "$dir" "$root/sys/block/$name"
  # A regular file under dev/ stands for a block device in a recorded host.
  : >"$root/dev/$name"
  link "$root/dev/$name" "$root/dev/disk/by-id/$id"
  local number part
  for ((number = 1; number <= parts; number++)); do
    part=$name$number
    [[ $name == *[0-9] ]] && part=${name}p$number
    mkdir -p "$dir/$part/holders"
    echo "$number" >"$dir/$part/partition"
    echo "8:$((minor + number))" >"$dir/$part/dev"
    : >"$root/dev/$part"
    link "$root/dev/$part" "$root/dev/disk/by-id/$id-part$number"
  done
  local use node what
  for use in "$@"; do
    node=${use%%:*} what=${use#*:}
    if [[ $what == swap ]]; then
      printf '/dev/%s\tpartition\t8388604\t0\t-2\n' "$node" >>"$root/proc/swaps"
    else
      mount_id=$((mount_id + 1))
      echo "$mount_id 1 $(cat "$dir/${node#$name}/dev" 2>/dev/null || cat "$dir/$node/dev") / $what rw,relatime shared:1 - ext4 /dev/$node rw" >>"$mountinfo"
    fi
  done
  index=$((index + 1))
}

disk nvme0n1 274877906944 "INTEL SSDPEKKW256G8" 0000:07:00.0 \
  nvme-INTEL_SSDPEKKW256G8_BTHH81234567256B 3 nvme0n1p1:/boot/efi nvme0n1p2:/ nvme0n1p3:swap
disk sda 4000787030016 "ST4000VN008-2DR166" 0000:09:00.0 ata-ST4000VN008-2DR166_ZDH1A2B3 1 \
  sda1:/srv/media
# The DSM guest's disks, under the by-id names examples/dsm uses.
disk sdb 10000831348736 "WDC WD100EMAZ-00WJTA0" 0000:01:00.0 ata-EXAMPLE_SERIAL_1 0
disk sdc 10000831348736 "WDC WD100EMAZ-00WJTA0" 0000:01:00.0 ata-EXAMPLE_SERIAL_2 0

# Files the examples name: the APU's dumped vBIOS (a stub with the ROM signature) and the DSM
# loader image (empty: plans only check that it exists).
mkdir -p "$root/var/lib/virtform/rom" "$root/var/lib/virtform/images"
printf '\x55\xaa' >"$root/var/lib/virtform/rom/vbios_1002_1638.bin"
: >"$root/var/lib/virtform/images/tinycore-redpill-uefi.v0.9.2.9.img"
mkdir -p "$root/var/lib/libvirt/images" "$root/var/lib/libvirt/qemu/nvram"
# Home Assistant OS's published disk image (empty here, as capture records the files domains name).
: >"$root/var/lib/libvirt/images/haos_ova-13.2.qcow2"
# 8 GiB of 2 MiB huge pages reserved (hugepages=4096 on its kernel's command line), none of
# 1 GiB: the Windows guest runs on the former.
pool() {
  mkdir -p "$root/sys/kernel/mm/hugepages/hugepages-$1kB"
  echo "$2" >"$root/sys/kernel/mm/hugepages/hugepages-$1kB/nr_hugepages"
  echo "$2" >"$root/sys/kernel/mm/hugepages/hugepages-$1kB/free_hugepages"
}
pool 2048 4096
pool 1048576 0
echo "Hugepagesize:       2048 kB" >"$root/proc/meminfo"
# The 5350GE's six cores of two threads, on one NUMA node: CPUs 0-5 are the cores' first
# threads, 6-11 their SMT siblings, as Linux numbers them on Zen.
cpus="$root/sys/devices/system/cpu"
mkdir -p "$root/sys/devices/system/node/node0"
echo "0-11" >"$root/sys/devices/system/node/node0/cpulist"
mkdir -p "$cpus"
echo "0-11" >"$cpus/present"
echo "0-11" >"$cpus/online"
for cpu in $(seq 0 11); do
  mkdir -p "$cpus/cpu$cpu/topology"
  echo "$((cpu % 6)),$((cpu % 6 + 6))" >"$cpus/cpu$cpu/topology/thread_siblings_list"
done
# USB devices on the chipset's xHCI controller (0000:02:00.0): its two root hubs, the Zigbee
# stick the Home Assistant guest is given, a Logitech Unifying receiver and a keyboard.
# usb <port> <vendor:product> <bus> <device> <manufacturer> <product> [serial]
usb() {
  local dir="${device_path[0000:02:00.0]}/$1"
  [[ $1 == *-* ]] && dir="${device_path[0000:02:00.0]}/usb$3/$1"
  mkdir -p "$dir"
  echo "${2%%:*}" >"$dir/idVendor"
  echo "${2##*:}" >"$dir/idProduct"
  echo "$3" >"$dir/busnum"
  echo "$4" >"$dir/devnum"
  echo "$5" >"$dir/manufacturer"
  echo "$6" >"$dir/product"
  [[ -n ${7:-} ]] && echo "$7" >"$dir/serial"
  link "$dir" "$root/sys/bus/usb/devices/$1"
  # Each device's first interface, which has a class but no ids of its own.
  if [[ $1 == *-* ]]; then
    mkdir -p "$dir/$1:1.0"
    echo "ff" >"$dir/$1:1.0/bInterfaceClass"
    link "$dir/$1:1.0" "$root/sys/bus/usb/devices/$1:1.0"
  fi
}
usb usb1 1d6b:0002 1 1 "Linux 6.1.0-28-amd64 xhci-hcd" "xHCI Host Controller" 0000:02:00.0
usb usb2 1d6b:0003 2 1 "Linux 6.1.0-28-amd64 xhci-hcd" "xHCI Host Controller" 0000:02:00.0
usb 1-3 10c4:ea60 1 3 ITead "Sonoff Zigbee 3.0 USB Dongle Plus" 2c2a5d6e1f94ed11a4f8
usb 1-4 046d:c52b 1 4 Logitech "USB Receiver"
usb 1-6 04d9:0006 1 6 "" "USB Keyboard"
# The keyboard and mouse the Windows guest takes (evdev), by their names in /dev/input/by-id.
mkdir -p "$root/dev/input/by-id"
: >"$root/dev/input/by-id/usb-Logitech_G513_Carbon-event-kbd"
: >"$root/dev/input/by-id/usb-Logitech_G502_HERO-event-mouse"
# The Windows guest's installer and driver ISOs, in the drives plans only check exist.
mkdir -p "$root/var/lib/libvirt/iso"
: >"$root/var/lib/libvirt/iso/Win11_24H2_English_x64.iso"
: >"$root/var/lib/libvirt/iso/virtio-win-0.1.262.iso"
echo "wrote $root"

# QEMU's firmware descriptor for plain OVMF, as Debian's ovmf package installs it, so that
# firmware = "uefi" resolves on the recorded host as it would on the real one.
mkdir -p "$root/usr/share/qemu/firmware" "$root/usr/share/OVMF"
cat >"$root/usr/share/qemu/firmware/60-edk2-x86_64.json" <<'JSON'
{
    "description": "UEFI firmware for x86_64, without Secure Boot without SMM, with empty varstore",
    "interface-types": ["uefi"],
    "mapping": {
        "device": "flash",
        "executable": {"filename": "/usr/share/OVMF/OVMF_CODE_4M.fd", "format": "raw"},
        "nvram-template": {"filename": "/usr/share/OVMF/OVMF_VARS_4M.fd", "format": "raw"}
    },
    "targets": [{"architecture": "x86_64", "machines": ["pc-i440fx-*", "pc-q35-*"]}],
    "features": ["acpi-s3", "amd-sev", "verbose-dynamic"],
    "tags": []
}
JSON
: >"$root/usr/share/OVMF/OVMF_CODE_4M.fd"
: >"$root/usr/share/OVMF/OVMF_VARS_4M.fd"
# And the one for Secure Boot with Microsoft's keys enrolled, which a Windows 11 guest boots.
cat >"$root/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json" <<'JSON'
{
    "description": "UEFI firmware for x86_64, with Secure Boot and SMM, SB enabled, MS certs enrolled",
    "interface-types": ["uefi"],
    "mapping": {
        "device": "flash",
        "executable": {"filename": "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "format": "raw"},
        "nvram-template": {"filename": "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "format": "raw"}
    },
    "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}],
    "features": ["acpi-s3", "amd-sev", "enrolled-keys", "requires-smm", "secure-boot",
                 "verbose-dynamic"],
    "tags": []
}
JSON
: >"$root/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
: >"$root/usr/share/OVMF/OVMF_VARS_4M.ms.fd"

# git keeps no empty directory: give the ones whose presence means something a file the kernel
# also has there (an empty holders/ and a missing one both read as "no holders").
echo "8000.020000000001" >"$root/sys/class/net/br0/bridge/bridge_id"
echo "live" >"$root/sys/module/vfio_pci/initstate"
for iommu in "$root"/sys/devices/virtual/iommu/*; do echo "DEVTYPE=iommu" >"$iommu/uevent"; done
echo "02:00:00:00:00:05" >"$root/sys/class/net/enp5s0/address"
touch "$root/var/lib/libvirt/qemu/nvram/.keep"
