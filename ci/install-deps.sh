#!/usr/bin/env bash
# Installs every Debian package virtform's build and tests need. Idempotent: when all of them are
# already installed it does not touch apt at all, so repeated runs cost a fraction of a second.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  libvirt-dev libtomlplusplus-dev libboost-graph-dev libspdlog-dev catch2 libpugixml-dev
  libcli11-dev nlohmann-json3-dev libssl-dev
  # the man pages (docs/man) are made by pandoc; the .deb (ci/package.sh) by cpack with
  # dpkg-shlibdeps (build-essential's dpkg-dev) and file, and checked with man
  pandoc file man-db
  # the completion scripts are tested in the shells they are for
  zsh fish
  # fuzzing (ci/fuzz.sh): clang and its libFuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
  # a libvirtd to test against, and what its guests run on (swtpm: their emulated TPMs)
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils ovmf libxml2-utils
  swtpm swtpm-tools
  # end-to-end tests: loop devices, checksums, and the tiny guest (tests/e2e/guest)
  mount e2fsprogs coreutils file busybox-static cpio gzip xz-utils ca-certificates
  # ... and the ISO images of their CD-ROM drives
  genisoimage
  # fault tests: a FUSE file system without unnamed files (O_TMPFILE), for image creation there
  bindfs
  # virtform graph output is checked by parsing it back with dot
  graphviz
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
