#!/usr/bin/env bash
# Times `virtform plan` against the libvirt floor on fleets of N managed VMs defined in the real
# libvirtd, plus the apply that defines them and the host-device side on a generated sysfs tree.
# The floor is timed one by one and with BENCH_THREADS threads, and plan reads with as many; at
# BENCH_LATENCY_N domains both are timed again through bench/latency_proxy.py, a socket proxy
# that delays every chunk as a remote link would. Prints a table and one machine-readable BENCH
# line per N. Every domain it defines is named vfbench-<pid>-*, and all of them are undefined on
# exit, whatever happens.
#
#   bench/run.sh [BUILD_DIR]       default build/; needs root (qemu:///system) and the targets
#                                  virtform, bench_floor and bench_host_devices built
# Environment: BENCH_SIZES (default "10 100 1000"), BENCH_REPEATS (default 3),
#              BENCH_URI (default qemu:///system), BENCH_DEVICES (default 2000),
#              BENCH_THREADS (default 8), BENCH_LATENCY_N (default 100; "" skips the latency
#              runs), BENCH_LATENCIES_MS (default "0 1 5": delay each way),
#              BENCH_SOCKET (default /var/run/libvirt/libvirt-sock: where the proxy forwards).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
uri=${BENCH_URI:-qemu:///system}
sizes=${BENCH_SIZES:-"10 100 1000"}
repeats=${BENCH_REPEATS:-3}
devices=${BENCH_DEVICES:-2000}
threads=${BENCH_THREADS:-8}
latency_n=${BENCH_LATENCY_N-100}
latencies=${BENCH_LATENCIES_MS:-"0 1 5"}
daemon_socket=${BENCH_SOCKET:-/var/run/libvirt/libvirt-sock}
virtform=$build/virtform
floor=$build/bench/bench_floor
host_bench=$build/bench/bench_host_devices
prefix=vfbench-$$
work=$(mktemp -d "/tmp/$prefix.XXXXXX")

for tool in "$virtform" "$floor" "$host_bench"; do
  [[ -x $tool ]] || { echo "run.sh: $tool is missing; build it first" >&2; exit 1; }
done
if [[ ! -x /usr/bin/time ]]; then
  apt-get install -y -qq time >/dev/null
fi

# Undefines our domains (and only ours: the name must start with "$prefix-") in one virsh
# session, so a 1000-VM fleet goes in seconds; then removes the temporary files.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_proxy
  local names
  names=$(virsh -c "$uri" list --all --name 2>/dev/null | grep "^$prefix-" || true)
  if [[ -n $names ]]; then
    sed 's/^/undefine --domain /' <<<"$names" | virsh -c "$uri" >/dev/null 2>&1 || true
  fi
  local left
  left=$(virsh -c "$uri" list --all --name 2>/dev/null | grep -c "^$prefix-" || true)
  [[ $left == 0 ]] || echo "run.sh: $left domains named $prefix-* could not be undefined" >&2
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }

# The latency proxy (bench/latency_proxy.py) run.sh started, by its PID; none when empty.
proxy_pid=""
proxy_socket=$work/libvirt-sock
# Starts the proxy with `delay` ms each way and waits until it listens.
start_proxy() {
  local delay=$1
  rm -f "$work/proxy.out"  # a previous proxy's "ready" must not be taken for this one's
  python3 "$repo/bench/latency_proxy.py" "$proxy_socket" "$delay" "$daemon_socket" >"$work/proxy.out" 2>&1 &
  proxy_pid=$!
  for ((wait = 0; wait < 100; ++wait)); do
    [[ -S $proxy_socket ]] && grep -qs '^ready' "$work/proxy.out" && return 0
    sleep 0.1
  done
  echo "run.sh: the latency proxy did not start:" >&2
  cat "$work/proxy.out" >&2
  exit 1
}
# shellcheck disable=SC2317  # also called by the EXIT trap
stop_proxy() {
  [[ -n $proxy_pid ]] || return 0
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=""
}

# Runs "$@" $repeats times; sets median_ms (wall), median_cpu_ms (user + system: what the
# process itself spent, less sensitive to a loaded machine) and median_rss_kib (peak resident
# set), the last two from /usr/bin/time. The command's exit status must be $expect_status (plan's --detailed-exitcode).
measure() {
  local expect_status=$1 out=$2
  shift 2
  local -a times=() rss=() cpu=()
  for ((r = 0; r < repeats; ++r)); do
    local start end status=0
    start=$(now_ns)
    /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >"$out" 2>"$out.err" || status=$?
    end=$(now_ns)
    if [[ $status != "$expect_status" ]]; then
      echo "run.sh: '$*' exited $status, expected $expect_status" >&2
      tail -5 "$out.err" >&2
      exit 1
    fi
    times+=($(((end - start) / 1000)))
    read -r peak user system <<<"$(tail -1 "$work/rss")"
    rss+=("$peak")
    cpu+=("$(awk -v u="$user" -v s="$system" 'BEGIN { printf "%.0f", (u + s) * 1000 }')")
  done
  median_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk -v n="$repeats" 'NR == int(n / 2) + 1 { printf "%.1f", $1 / 1000 }')
  median_rss_kib=$(printf '%s\n' "${rss[@]}" | sort -n | awk -v n="$repeats" 'NR == int(n / 2) + 1')
  median_cpu_ms=$(printf '%s\n' "${cpu[@]}" | sort -n | awk -v n="$repeats" 'NR == int(n / 2) + 1')
}

# An apply may meet another apply on the same URI (tests share the daemon): wait for the lock.
apply_config() {
  local config=$1
  shift
  for ((attempt = 0; attempt < 60; ++attempt)); do
    if "$virtform" apply "$config" -c "$uri" --auto-approve --no-color "$@" >"$work/apply.out" 2>&1; then
      return 0
    fi
    grep -q "another apply is running" "$work/apply.out" || { tail -20 "$work/apply.out" >&2; return 1; }
    sleep 2
  done
  echo "run.sh: the apply lock on $uri stayed busy" >&2
  return 1
}

# Seconds (ms resolution) an apply of `config` takes; the apply must succeed.
timed_apply() {
  local start end
  start=$(now_ns)
  apply_config "$@"
  end=$(now_ns)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", ns / 1e6 }'
}

expect_plan() {  # config, the summary line plan must print ("No changes.", "Plan: 0 to add, ...")
  "$virtform" plan "$1" -c "$uri" --no-color >"$work/plan.out" 2>&1 || true
  grep -qF "$2" "$work/plan.out" || {
    echo "run.sh: plan of $1 is not '$2':" >&2
    tail -5 "$work/plan.out" >&2
    exit 1
  }
}

# The floor (one by one and with $threads threads) and plan (with $threads and with 1) through
# the latency proxy, at each delay of $latencies, on the applied fleet `config` of n VMs.
declare -a latency_rows=()
measure_latencies() {
  local config=$1 n=$2 proxied="qemu+unix:///system?socket=$proxy_socket" delay
  for delay in $latencies; do
    start_proxy "$delay"
    measure 0 "$work/floor.out" "$floor" "$proxied"
    local serial_floor=$median_ms
    measure 0 "$work/floor.out" "$floor" "$proxied" --threads "$threads"
    local parallel_floor=$median_ms
    measure 0 "$work/plan.txt" "$virtform" plan "$config" -c "$proxied" --no-color --detailed-exitcode \
      --read-threads "$threads"
    local plan=$median_ms
    measure 0 "$work/plan.txt" "$virtform" plan "$config" -c "$proxied" --no-color --detailed-exitcode \
      --read-threads 1
    local serial_plan=$median_ms
    stop_proxy
    local ratios ratio parallel_ratio serial_ratio
    ratios=$(awk -v f="$serial_floor" -v pf="$parallel_floor" -v p="$plan" -v s="$serial_plan" \
      'BEGIN { printf "%.2f %.2f %.2f", p / f, p / pf, s / f }')
    read -r ratio parallel_ratio serial_ratio <<<"$ratios"
    latency_rows+=("$(printf '%6s %9s %9s %9s %9s %6s %6s %11s %6s' "$n" "$delay" "$serial_floor" "$parallel_floor" "$plan" \
      "$ratio" "$parallel_ratio" "$serial_plan" "$serial_ratio")")
    lines+=("BENCH_LATENCY n=$n delay_ms=$delay threads=$threads floor_ms=$serial_floor parallel_floor_ms=$parallel_floor plan_ms=$plan ratio=$ratio parallel_ratio=$parallel_ratio serial_plan_ms=$serial_plan serial_ratio=$serial_ratio load=$(cut -d' ' -f1 /proc/loadavg)")
  done
}

declare -a rows=() lines=()
per_domain_at=() plan_ms_at=() domains_at=() ratio_at=() parallel_ratio_at=()
disks=$work/disks

echo "fleet prefix $prefix, uri $uri, $repeats repeats (median), $(nproc) cores, $threads read threads"
previous=0
for n in $sizes; do
  config=$work/fleet-$n changed=$work/fleet-$n-changed
  "$repo/bench/fleet.sh" "$config" "$disks" "$prefix" "$n" 256
  "$repo/bench/fleet.sh" "$changed" "$disks" "$prefix" "$n" 320
  apply_ms=$(timed_apply "$config" --parallelism 4)
  echo "n=$n: apply defined $((n - previous)) VMs in ${apply_ms} ms (--parallelism 4)"
  previous=$n
  expect_plan "$config" "No changes."
  expect_plan "$changed" "Plan: 0 to add, $n to change, 0 to destroy."

  measure 0 "$work/floor.out" "$floor" "$uri"
  floor_ms=$median_ms floor_cpu_ms=$median_cpu_ms
  domains=$(awk '{ for (i = 1; i <= NF; ++i) if ($i ~ /^domains=/) print substr($i, 9) }' "$work/floor.out")
  # The floor plus two state calls per domain, as plan made them before it used filtered
  # listings: what two more round trips per domain would cost.
  measure 0 "$work/floor.out" "$floor" "$uri" --with-state
  floor_state_ms=$median_ms
  measure 0 "$work/floor.out" "$floor" "$uri" --threads "$threads"
  parallel_floor_ms=$median_ms
  # The same with libvirt's event loop and keepalive, which virtform runs to notice a daemon
  # that stops answering.
  measure 0 "$work/floor.out" "$floor" "$uri" --threads "$threads" --keepalive
  keepalive_floor_ms=$median_ms
  measure 0 "$work/plan.txt" "$virtform" plan "$config" -c "$uri" --no-color --detailed-exitcode \
    --read-threads "$threads"
  plan_ms=$median_ms plan_rss=$median_rss_kib plan_cpu_ms=$median_cpu_ms
  measure 2 "$work/plan.txt" "$virtform" plan "$changed" -c "$uri" --no-color --detailed-exitcode \
    --read-threads "$threads"
  changed_ms=$median_ms changed_rss=$median_rss_kib
  measure 0 "$work/plan.txt" "$virtform" plan "$config" -c "$uri" --no-color --detailed-exitcode \
    --read-threads 1
  serial_plan_ms=$median_ms

  read -r ratio parallel_ratio keepalive_ratio changed_ratio serial_ratio per_domain_us <<<"$(awk -v f="$floor_ms" \
    -v pf="$parallel_floor_ms" -v kf="$keepalive_floor_ms" -v p="$plan_ms" -v c="$changed_ms" -v s="$serial_plan_ms" -v d="$domains" \
    'BEGIN { printf "%.2f %.2f %.2f %.2f %.2f %.0f", p / f, p / pf, p / kf, c / f, s / f, p * 1000 / d }')"
  peak_rss=$((plan_rss > changed_rss ? plan_rss : changed_rss))
  per_domain_at[$n]=$per_domain_us plan_ms_at[$n]=$plan_ms domains_at[$n]=$domains
  ratio_at[$n]=$ratio parallel_ratio_at[$n]=$parallel_ratio
  rows+=("$(printf '%6s %8s %9s %9s %9s %9s %9s %6s %6s %6s %10s %6s %11s %6s %8s %9s %9s' "$n" "$domains" "$floor_ms" \
    "$floor_state_ms" "$parallel_floor_ms" "$keepalive_floor_ms" "$plan_ms" "$ratio" "$parallel_ratio" "$keepalive_ratio" \
    "$changed_ms" "$changed_ratio" "$serial_plan_ms" "$serial_ratio" "$peak_rss" "$per_domain_us" "$apply_ms")")
  lines+=("BENCH n=$n domains=$domains threads=$threads floor_ms=$floor_ms floor_state_ms=$floor_state_ms parallel_floor_ms=$parallel_floor_ms keepalive_floor_ms=$keepalive_floor_ms plan_ms=$plan_ms ratio=$ratio parallel_ratio=$parallel_ratio keepalive_ratio=$keepalive_ratio changed_plan_ms=$changed_ms changed_ratio=$changed_ratio serial_plan_ms=$serial_plan_ms serial_ratio=$serial_ratio rss_kib=$peak_rss per_domain_us=$per_domain_us floor_cpu_ms=$floor_cpu_ms plan_cpu_ms=$plan_cpu_ms apply_p4_ms=$apply_ms load=$(cut -d' ' -f1 /proc/loadavg)")

  if [[ $n == "$latency_n" ]]; then
    measure_latencies "$config" "$n"
  fi
done

# Defining 100 new VMs (a project of their own beside the fleet), one step at a time and then
# with the default parallelism; removed again by applying the project with no VMs.
apply_prefix=$prefix-apply
apply_config_dir=$work/apply-100 empty=$work/apply-empty
"$repo/bench/fleet.sh" "$apply_config_dir" "$disks" "$apply_prefix" 100 256
mkdir -p "$empty" && printf 'project = "%s"\n' "$apply_prefix" >"$empty/00-project.toml"
serial_ms=$(timed_apply "$apply_config_dir" --parallelism 1)
serial_remove_ms=$(timed_apply "$empty" --parallelism 1)
parallel_ms=$(timed_apply "$apply_config_dir")
parallel_remove_ms=$(timed_apply "$empty")
lines+=("BENCH_APPLY n=100 define_p1_ms=$serial_ms define_default_ms=$parallel_ms undefine_p1_ms=$serial_remove_ms undefine_default_ms=$parallel_remove_ms")

host_line=$("$host_bench" "$devices" "$repeats")
lines+=("$host_line")

echo
printf '%6s %8s %9s %9s %9s %9s %9s %6s %6s %6s %10s %6s %11s %6s %8s %9s %9s\n' n domains floor_ms +state_ms \
  par_floor +kalive plan_ms /floor /par /kalive changed_ms /floor plan_1thr_ms /floor rss_kib us/domain apply_ms
printf '%s\n' "${rows[@]}"
if ((${#latency_rows[@]})); then
  echo
  echo "through the latency proxy (delay each way; a round trip costs twice it), $threads threads:"
  printf '%6s %9s %9s %9s %9s %6s %6s %11s %6s\n' n delay_ms floor_ms par_floor plan_ms /floor /par plan_1thr_ms /floor
  printf '%s\n' "${latency_rows[@]}"
fi
echo
echo "apply, 100 new VMs: --parallelism 1 ${serial_ms} ms, default (4) ${parallel_ms} ms"
echo "host devices ($devices): $host_line"
echo
printf '%s\n' "${lines[@]}"

# The targets, checked on what was just measured.
failed=0
check() {  # description, awk condition
  if awk "BEGIN { exit !($2) }"; then echo "PASS $1"; else echo "MISS $1"; failed=1; fi
}
last=${sizes##* }
if [[ -n ${per_domain_at[1000]:-} && -n ${per_domain_at[100]:-} ]]; then
  check "plan <= 0.6 x serial floor at n=1000 (${ratio_at[1000]})" "${ratio_at[1000]} <= 0.6"
  check "plan <= 1.2 x parallel floor ($threads threads) at n=1000 (${parallel_ratio_at[1000]})" \
    "${parallel_ratio_at[1000]} <= 1.2"
  check "per-domain time at 1000 <= 1.5 x at 100 (${per_domain_at[1000]} vs ${per_domain_at[100]} us)" \
    "${per_domain_at[1000]} <= 1.5 * ${per_domain_at[100]}"
  # Per-domain time at 100 still carries the fixed start-up cost; the marginal cost of a domain
  # (the slope between sizes) is what a quadratic step would make grow.
  if [[ -n ${plan_ms_at[10]:-} ]]; then
    read -r slope_low slope_high <<<"$(awk -v a="${plan_ms_at[10]}" -v b="${plan_ms_at[100]}" -v c="${plan_ms_at[1000]}" \
      -v da="${domains_at[10]}" -v db="${domains_at[100]}" -v dc="${domains_at[1000]}" \
      'BEGIN { printf "%.0f %.0f", (b - a) * 1000 / (db - da), (c - b) * 1000 / (dc - db) }')"
    echo "BENCH_SLOPE us_per_domain_10_100=$slope_low us_per_domain_100_1000=$slope_high"
  fi
fi
check "peak RSS of plan < 64 MiB at n=$last (${peak_rss} KiB)" "$peak_rss < 65536"
host_ms=$(sed 's/.*total_ms=\([0-9.]*\).*/\1/' <<<"$host_line")
check "host-device part < 100 ms with $devices devices (${host_ms} ms)" "$host_ms < 100"
exit $failed
