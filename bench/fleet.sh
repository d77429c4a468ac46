#!/usr/bin/env bash
# Writes the configuration of a benchmark fleet: N inactive qemu guests, each with three file
# disks (small sparse images, created here so plan and apply only check that they exist) and two
# NICs on libvirt's "default" network. One TOML file per VM, as a large repository would keep them.
#
#   bench/fleet.sh CONFIG_DIR DISK_DIR PREFIX N [MEMORY_MIB]
#
# The project and every domain name start with PREFIX ("vfbench-<pid>"), so the fleet is told
# apart from every other domain on the host. Running it again with another MEMORY_MIB rewrites
# the configuration only: the disks stay, and the next plan has one memory change per VM.
set -euo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 CONFIG_DIR DISK_DIR PREFIX N [MEMORY_MIB]" >&2
  exit 2
fi
config_dir=$1 disk_dir=$2 prefix=$3 count=$4 memory_mib=${5:-256}
readonly disks_per_vm=3 disk_size=16M

mkdir -p "$config_dir" "$disk_dir"
config_dir=$(cd "$config_dir" && pwd) disk_dir=$(cd "$disk_dir" && pwd)
rm -f "$config_dir"/*.toml

# The project lives in a file of its own: it may be set only once across the files.
printf 'project = "%s"\n' "$prefix" >"$config_dir/00-project.toml"

for ((i = 0; i < count; ++i)); do
  name=$(printf '%s-%04d' "$prefix" "$i")
  key=$(printf 'vm%04d' "$i")
  {
    printf '[vm.%s]\nname = "%s"\ntype = "qemu"\nmemory = "%d MiB"\nvcpus = 1\nmachine = "q35"\n' \
      "$key" "$name" "$memory_mib"
    for ((d = 0; d < disks_per_vm; ++d)); do
      image="$disk_dir/$name-disk$d.img"
      # Sparse: no blocks are written, so a 1000-VM fleet costs almost no disk space.
      [[ -e $image ]] || truncate -s "$disk_size" "$image"
      printf '\n[[vm.%s.disk]]\nfile = "%s"\nformat = "raw"\n' "$key" "$image"
    done
    printf '\n[[vm.%s.nic]]\nnetwork = "default"\n' "$key"
    printf '\n[[vm.%s.nic]]\nnetwork = "default"\nmodel = "e1000e"\n' "$key"
  } >"$config_dir/$key.toml"
done
