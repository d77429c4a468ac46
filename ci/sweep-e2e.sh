#!/usr/bin/env bash
# What an end-to-end or fault test process leaves behind when it dies before its destructors run
# (a crash, a sanitizer abort, ctest's timeout): its domains, tmpfs mounts, loop devices, and a
# libvirtd it stopped to restart. ci/test.sh runs it after each step of real-daemon tests, and a
# fault test runs it against leftovers it plants.
#
# It touches only what the tests make, and only once the test process <PID> that made it is gone:
# domains named vfe2e-<PID>-* (undefined keeping NVRAM; their images are in the tests' own temp
# directories), mounts and loop devices under /var/tmp/virtform-e2e-<PID>-*, and bridges
# vfbr<PID>. Nothing else on the host, and nothing of a test still running.
set -euo pipefail

uri=${VIRTFORM_E2E_URI:-qemu:///system}
swept=0

# made_by_dead_test TEXT PREFIX: whether TEXT is PREFIX<PID>-... and test process <PID> is gone.
made_by_dead_test() {
  [[ $1 =~ ^$2([0-9]+)- ]] || return 1
  ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null
}
temp_prefix=/var/tmp/virtform-e2e-

say() {
  echo "sweep-e2e: $*"
  swept=$((swept + 1))
}

# libvirtd first: a fault test that died while it had the daemon stopped left it so.
# If none can be started, the mounts and loop devices are still swept.
bash "$(dirname "${BASH_SOURCE[0]}")/start-libvirt.sh" >/dev/null ||
  echo "sweep-e2e: no libvirtd answers; domains are not swept" >&2

while read -r name; do
  made_by_dead_test "$name" vfe2e- || continue
  say "domain $name (its test process is gone)"
  virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true
  virsh -q -c "$uri" undefine "$name" --keep-nvram --snapshots-metadata --managed-save \
    >/dev/null 2>&1 || true
done < <(virsh -q -c "$uri" list --all --name 2>/dev/null)

# Innermost first, so a mount inside another comes off before it.
while read -r target; do
  made_by_dead_test "$target" "$temp_prefix" || continue
  say "mount $target"
  umount -l "$target" || true
done < <(awk '{ print $5 }' /proc/self/mountinfo | grep -F "$temp_prefix" | sort -r)

while read -r device backing; do
  made_by_dead_test "$backing" "$temp_prefix" || continue
  say "loop device $device ($backing)"
  losetup -d "$device" || true
done < <(losetup -l -n -O NAME,BACK-FILE 2>/dev/null)

# Bridges the hot-plug tests make: vfbr<PID> (the PID modulo 10^6, which fits a link name).
while read -r bridge; do
  [[ $bridge =~ ^vfbr([0-9]+)$ ]] || continue
  ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || continue
  say "bridge $bridge"
  ip link delete "$bridge" type bridge || true
done < <(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }')

if ((swept == 0)); then
  echo "sweep-e2e: nothing left behind"
else
  echo "sweep-e2e: removed $swept things a dead test left behind"
fi
