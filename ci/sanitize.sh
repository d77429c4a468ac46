#!/usr/bin/env bash
# The whole test suite again, under AddressSanitizer and UndefinedBehaviorSanitizer: builds every
# target with -DVIRTFORM_SANITIZE=ON into its own directory (ASAN_BUILD_DIR, default build-asan),
# then runs the unit tests in parallel, and the end-to-end and fault-injection tests one at a time.
# The virtform binary the tests spawn is the sanitized one; the end-to-end guest is the main
# build's (BUILD_DIR, default build; ci/test.sh builds it). Any memory error, leak or undefined behaviour fails the
# test it happens in. Non-zero on any failure. Assumes the packages are installed and libvirtd
# answers (ci/test.sh sees to both).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ASAN_BUILD_DIR:-$root/build-asan}
main_build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

step() { printf '\n== sanitize: %s ==\n' "$*"; }
seconds_since() { echo $((SECONDS - $1))s; }

step "build ($build_dir)"
started=$SECONDS
# Debug (-O0 -g): measured against -O1 -g1 on this 2-core machine, it took 8.5 CPU-minutes to
# build against 12.6, while the unit tests ran only 16 CPU-seconds slower. No benchmark.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVIRTFORM_SANITIZE=ON \
  -DVIRTFORM_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "sanitize: built in $(seconds_since "$started")"

# Every finding ends the process with SIGABRT (abort_on_error; UBSan would exit 1 otherwise), so
# a spawned virtform that trips a check fails its test by signal, never by the exit code 1 a test
# may expect from an error. Leaks are checked at every exit.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$root/ci/lsan.supp:print_suppressions=0"
export VIRTFORM_E2E_GUEST_DIR="$main_build_dir/e2e-guest"

status=0
step "unit tests"
started=$SECONDS
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L unit -j 2 || status=1
echo "sanitize: unit tests took $(seconds_since "$started")"

step "end-to-end tests"
started=$SECONDS
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L e2e || status=1
bash "$root/ci/sweep-e2e.sh" || status=1
echo "sanitize: end-to-end tests took $(seconds_since "$started")"

step "fault injection"
started=$SECONDS
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L faults || status=1
bash "$root/ci/sweep-e2e.sh" || status=1
echo "sanitize: fault-injection tests took $(seconds_since "$started")"

if ((status != 0)); then
  echo "sanitize: FAILED" >&2
else
  echo "sanitize: all passed"
fi
exit "$status"
