#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root) to a verdict: installs the
# packages, starts virtlogd/libvirtd if none answers, builds, builds the end-to-end guest, then
# runs the unit tests in parallel, the fuzzers for a bounded time, the schema checks, the .deb
# (built, installed, checked and removed), the end-to-end and fault-injection tests one at a
# time, and last the unit, end-to-end and fault tests again under ASan + UBSan. Non-zero on any
# failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-$root/build}
export BUILD_DIR=$build_dir

step() { printf '\n== %s ==\n' "$*"; }

# The test steps' output is also kept, so that a failure can be summed up at the very end, where
# a reader of a long CI log looks first.
logs=$build_dir/test-logs
libvirtd_log=/var/log/libvirt/virtform-ci-libvirtd.log
run_logged() {
  local name=$1
  shift
  "$@" 2>&1 | tee "$logs/$name.log"
}
# What a failing test prints first: ctest's verdict, Catch's failed assertion, the command's exit
# code and virtform's errors, failed steps of an apply, and the scripts' own failure lines.
failure_lines='\*\*\*(Failed|Exception|Timeout)|FAILED:|: FAILED after |^ *error[:[]|^ *exit code: '
failure_lines+='|ERROR: [A-Za-z]+Sanitizer|runtime error: |: error: |sanitize: FAILED|fuzz: .*FAILED'
failure_lines+='|^package: FAILED'
failure_lines+='|^start-libvirt: .*(fail|did not answer|needs root)|^sweep-e2e: no libvirtd'
summarize_failures() {
  step "failure summary"
  local found
  found=$(grep -h -E -e "$failure_lines" "$logs"/*.log || true)
  if [[ -n $found ]]; then
    head -n 80 <<<"$found"
  else
    echo "(no failure line recognised: see the failing step's output above)"
  fi
  if [[ -s $libvirtd_log ]]; then
    # Only this run's part of the log. Left out: what every start logs without D-Bus, udev,
    # dnsmasq and /dev/mem, and the socket errors of clients the fault tests kill.
    echo "-- the last errors in $libvirtd_log --"
    tail -c +$((libvirtd_log_start + 1)) "$libvirtd_log" | grep -E ' (error|warning) : ' |
      grep -v -E 'DBus|dmidecode|DMI|dnsmasq|virNetSocket' | tail -n 20 || true
  fi
}

step "packages"
bash ci/install-deps.sh

status=0
mkdir -p "$logs"
rm -f "$logs"/*.log
libvirtd_log_start=$(stat -c %s "$libvirtd_log" 2>/dev/null || echo 0)

step "libvirtd"
# A libvirtd that cannot probe QEMU fails the end-to-end tests, not the unit tests and fuzzing.
run_logged libvirtd bash ci/start-libvirt.sh || status=1

step "build"
bash ci/build.sh

step "end-to-end guest"
# The tests find it beside the virtform binary (and would build it themselves if missing).
bash tests/e2e/guest/build-guest.sh "$build_dir/e2e-guest"

step "unit tests"
run_logged unit ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L unit -j 2 || status=1
step "fuzzing"
# libFuzzer on the config loader, the domain XML reader and the plan-file reader, FUZZ_SECONDS
# (default 60) each, in a clang build of its own (build-fuzz/).
run_logged fuzz bash ci/fuzz.sh || status=1
step "schemas"
run_logged schemas bash ci/check-schemas.sh || status=1
step "package"
# The .deb from the build above, installed with apt-get, checked as installed, and removed.
run_logged package bash ci/package.sh || status=1

step "end-to-end tests"
# Serial: they share one libvirtd and boot guests under TCG.
run_logged e2e ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L e2e || status=1
run_logged sweep-e2e bash "$root/ci/sweep-e2e.sh" || status=1

step "fault injection"
# Serial as well: kills of apply, a libvirtd restart, full and read-only file systems.
run_logged faults ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L faults ||
  status=1
run_logged sweep-faults bash "$root/ci/sweep-e2e.sh" || status=1

step "sanitizers"
# Unit, end-to-end and fault tests again, everything built with ASan + UBSan (build-asan/).
run_logged sanitize bash ci/sanitize.sh || status=1

if ((status != 0)); then
  summarize_failures
  echo "test: FAILED" >&2
else
  echo "test: all passed"
fi
exit "$status"
