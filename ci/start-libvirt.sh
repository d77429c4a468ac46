#!/usr/bin/env bash
# Makes sure a libvirtd answers on qemu:///system. These machines have no systemd (PID 1 is
# something else), so when none answers, virtlogd and libvirtd are started as daemons here.
# A libvirtd that is already running is used as it is and never stopped or restarted.
# The PID of a libvirtd started here is recorded in /run/virtform-ci/libvirtd.pid: the fault
# tests restart that daemon, and only that one, in the middle of an apply. Such a daemon logs its
# warnings and errors to /var/log/libvirt/virtform-ci-libvirtd.log, which ci/test.sh shows when a
# test fails.
set -euo pipefail

uri=qemu:///system
wait_seconds=${VIRTFORM_LIBVIRT_WAIT:-60}
record=/run/virtform-ci/libvirtd.pid
log=/var/log/libvirt/virtform-ci-libvirtd.log

answers() { timeout 10 virsh -c "$uri" uri >/dev/null 2>&1; }
# A daemon is running when its pidfile names a live process of that program, not a zombie and
# not another program that was given the PID since (no procps on minimal images).
running() {
  local pidfile=$1 program=$2 pid
  [[ -s "$pidfile" ]] || return 1
  pid=$(cat "$pidfile")
  [[ -r /proc/$pid/stat ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$program" ]] || return 1
  [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# A record naming a daemon that is gone would let a later one be taken for ours.
if [[ -f "$record" ]] && ! running "$record" libvirtd; then rm -f "$record"; fi

# Without udev, /dev/kvm stays root's alone (0600). QEMU's capability probe still finds KVM, but
# libvirtd's check that the qemu user can open it fails, so it throws its cache away and probes
# QEMU again (4-8 s) on every call. Give the node the owner and mode Debian's udev rule gives it.
if [[ -c /dev/kvm && $(id -u) -eq 0 ]] && getent group kvm >/dev/null &&
  [[ $(stat -c '%G %a' /dev/kvm) != "kvm 660" && $(stat -c '%a' /dev/kvm) == 600 ]]; then
  echo "start-libvirt: /dev/kvm to root:kvm 0660, as udev would set it"
  chgrp kvm /dev/kvm
  chmod 0660 /dev/kvm
fi

# libvirtd probes QEMU's capabilities at the first call that needs them, after every start (the
# cached ones do not survive it on these machines: the host CPU they record differs between
# probes). Probing here, and retrying a probe that fails, keeps that 4-8 s and any failure of it
# out of whichever test happens to run first.
probe_qemu() {
  local attempt error
  for attempt in 1 2 3; do
    ((attempt == 1)) || sleep 2
    if error=$(timeout 60 virsh -c "$uri" domcapabilities --virttype qemu 2>&1 >/dev/null); then
      echo "start-libvirt: QEMU capabilities probed (attempt $attempt)"
      return 0
    fi
    echo "start-libvirt: probing QEMU's capabilities failed (attempt $attempt): $error" >&2
  done
  return 1
}

if answers; then
  echo "start-libvirt: libvirtd already answers on $uri"
  probe_qemu
  exit
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "start-libvirt: no libvirtd answers on $uri and starting one needs root" >&2
  exit 1
fi

# The daemons expect their runtime directories; a fresh container may not have them.
mkdir -p /run/libvirt /var/run/libvirt /var/lib/libvirt /var/log/libvirt/qemu

if ! running /run/virtlogd.pid virtlogd; then
  echo "start-libvirt: starting virtlogd"
  virtlogd -d
fi
# libvirtd finds the hugetlbfs mounts once, when it starts: mount one first, so that guests on
# huge pages (the hugepages e2e test reserves a few) can start. Nothing is reserved here.
if ! running /run/libvirtd.pid libvirtd && grep -qw hugetlbfs /proc/filesystems &&
  ! grep -qw hugetlbfs /proc/mounts; then
  echo "start-libvirt: mounting hugetlbfs on /dev/hugepages"
  mkdir -p /dev/hugepages
  mount -t hugetlbfs hugetlbfs /dev/hugepages ||
    echo "start-libvirt: could not mount hugetlbfs; guests on huge pages will not start" >&2
fi
started_here=false
if ! running /run/libvirtd.pid libvirtd; then
  echo "start-libvirt: starting libvirtd"
  LIBVIRT_LOG_OUTPUTS="3:file:$log" libvirtd -d
  started_here=true
fi

for ((second = 0; second < wait_seconds; ++second)); do
  if answers; then
    echo "start-libvirt: libvirtd answers on $uri after ${second}s"
    if [[ $started_here == true ]]; then
      mkdir -p "$(dirname "$record")"
      cp /run/libvirtd.pid "$record"
      echo "start-libvirt: recorded libvirtd PID $(cat "$record") in $record"
    fi
    probe_qemu
    exit
  fi
  sleep 1
done
echo "start-libvirt: libvirtd did not answer on $uri within ${wait_seconds}s" >&2
exit 1
