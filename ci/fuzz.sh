#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# into build-fuzz/, then runs each one for a bounded time on a copy of its seed corpus
# (fuzz/corpus/<name>/; the checked-in corpus is never grown here). Non-zero when any target
# finds a crash, an uncaught exception, a leak, a hang, an out-of-memory or undefined behaviour;
# the input that did it is kept in build-fuzz/fuzz-artifacts/<target>/. fuzz/<name>.dict gives
# each target the words of its input format.
#
#   FUZZ_SECONDS=60      time per target
#   FUZZ_TIMEOUT=10      seconds one input may take before it counts as a hang
#   FUZZ_RSS_MB=2048     memory one run may use before it counts as out-of-memory
#   FUZZ_BUILD_DIR=...   build directory (default build-fuzz)
#   FUZZ_TARGETS="..."   which targets (default all three)
#   FUZZ_CMAKE_ARGS=...  more CMake options (-DVIRTFORM_TOML_FROM_HEADERS=ON: toml++ instrumented)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_config fuzz_domain_xml fuzz_plan_file}"
read -r -a extra_cmake_args <<<"${FUZZ_CMAKE_ARGS:-}"
jobs=${JOBS:-$(nproc)}

started=$SECONDS
CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIRTFORM_FUZZ=ON -DVIRTFORM_TESTS=OFF -DVIRTFORM_BENCH=OFF "${extra_cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs" --target fuzzers
echo "fuzz: built in $((SECONDS - started)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Leaks count as failures; undefined behaviour already aborts (-fno-sanitize-recover).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# "runs executed, exec/s, coverage" from libFuzzer's final status line and stats.
summarize() {
  local target=$1 log=$2
  local runs speed cov
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
  printf '%-16s runs %-10s exec/s %-7s %s\n' "$target" "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}"
}

status=0
summary=()
for target in "${targets[@]}"; do
  corpus=$work/$target
  artifacts=$build_dir/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  cp "$root/fuzz/corpus/${target#fuzz_}/"* "$corpus/"
  log=$work/$target.log
  echo "fuzz: $target for ${seconds} s"
  if "$build_dir/fuzz/$target" "$corpus" -dict="$root/fuzz/${target#fuzz_}.dict" \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    summary+=("$(summarize "$target" "$log")")
  else
    status=1
    summary+=("$(summarize "$target" "$log")  FAILED")
    # The report: sanitizer output or libFuzzer's reason, and the input it saved.
    grep -v '^#[0-9]' "$log" | tail -60 >&2
    newest=$(find "$artifacts" -maxdepth 1 -type f -printf '%T@ %f\n' | sort -rn | head -3 |
      cut -d' ' -f2- | tr '\n' ' ')
    echo "fuzz: $target FAILED; reproduce with $build_dir/fuzz/$target and the input in" \
      "$artifacts/: $newest" >&2
  fi
done

printf '%s\n' "${summary[@]}"
echo "fuzz: done in $((SECONDS - started)) s"
exit "$status"
