#!/usr/bin/env bash
# Makes sure a libvirtd answers on qemu:///system. These machines have no systemd (PID 1 is
# something else), so when none answers, virtlogd and libvirtd are started as daemons here.
# A libvirtd that is already running is used as it is and never stopped or restarted.
set -euo pipefail

uri=qemu:///system
wait_seconds=${VIRTFORM_LIBVIRT_WAIT:-60}

answers() { timeout 10 virsh -c "$uri" uri >/dev/null 2>&1; }
# A daemon is running when its pidfile names a live process (no procps on minimal images).
running() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if answers; then
  echo "start-libvirt: libvirtd already answers on $uri"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "start-libvirt: no libvirtd answers on $uri and starting one needs root" >&2
  exit 1
fi

# The daemons expect their runtime directories; a fresh container may not have them.
mkdir -p /run/libvirt /var/run/libvirt /var/lib/libvirt /var/log/libvirt/qemu

if ! running /run/virtlogd.pid; then
  echo "start-libvirt: starting virtlogd"
  virtlogd -d
fi
if ! running /run/libvirtd.pid; then
  echo "start-libvirt: starting libvirtd"
  libvirtd -d
fi

for ((second = 0; second < wait_seconds; ++second)); do
  if answers; then
    echo "start-libvirt: libvirtd answers on $uri after ${second}s"
    exit 0
  fi
  sleep 1
done
echo "start-libvirt: libvirtd did not answer on $uri within ${wait_seconds}s" >&2
exit 1
