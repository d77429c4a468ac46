#!/usr/bin/env bash
# Times, on the same fleet and in one run, what Debian's packages offer for the job virtform does:
# a `virsh define` loop (one virsh per VM: how the fleet was scripted before virtform) and
# Ansible's community.libvirt.virt module (Debian's `ansible` package, with python3-libvirt),
# beside virtform, each defining the fleet, running again on the defined fleet, and checking it.
# Prints the times and the ratios peer/virtform. Every domain it defines is named
# vfbench-<pid>-*, and all of them are undefined between the tools and on exit, whatever happens.
#
#   bench/peers.sh [BUILD_DIR]     default build/; needs root (qemu:///system) and virtform built
# Environment: PEERS_SIZES (default "10 100"), BENCH_URI (default qemu:///system).
#
# The three steps, per tool:
#   define  from no domain to N defined: `virtform apply --auto-approve`; `virsh define FILE` per
#           VM; a playbook looping community.libvirt.virt `command: define` over the files
#   rerun   the same again on the defined fleet, which must change nothing (virtform prints
#           "No changes."; the playbook reports changed=0)
#   check   say whether the host still matches, changing nothing: `virtform plan
#           --detailed-exitcode`; `virsh dumpxml --inactive` per VM compared with the XML saved
#           after the define. community.libvirt.virt has no check mode (`ansible-playbook
#           --check` skips its tasks), so Ansible has no check figure.
# Every tool defines the same XML: the definitions virtform made for the fleet, dumped first.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
uri=${BENCH_URI:-qemu:///system}
sizes=${PEERS_SIZES:-"10 100"}
virtform=$build/virtform
prefix=vfbench-$$
work=$(mktemp -d "/tmp/$prefix.XXXXXX")

[[ -x $virtform ]] || { echo "peers.sh: $virtform is missing; build it first" >&2; exit 1; }
have_ansible=0
if command -v ansible-playbook >/dev/null &&
  /usr/bin/python3 -c 'import libvirt' 2>/dev/null &&
  ansible-doc -t module community.libvirt.virt >/dev/null 2>&1; then
  have_ansible=1
else
  echo "peers.sh: no ansible-playbook with community.libvirt and python3-libvirt; Ansible is" \
    "left out (apt-get install ansible python3-libvirt)" >&2
fi

# The domains named "$prefix-*", and only those.
our_domains() {
  virsh -c "$uri" list --all --name 2>/dev/null | grep "^$prefix-" || true
}
# Undefines them in one virsh session.
undefine_ours() {
  local names
  names=$(our_domains)
  if [[ -n $names ]]; then
    sed 's/^/undefine --domain /' <<<"$names" | virsh -c "$uri" >/dev/null 2>&1 || true
  fi
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  undefine_ours
  local left
  left=$(our_domains | grep -c . || true)
  [[ $left == 0 ]] || echo "peers.sh: $left domains named $prefix-* could not be undefined" >&2
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
# Runs "${@:2}" and sets the variable named $1 to the milliseconds it took.
timed() {
  local -n elapsed=$1
  local start
  start=$(now_ns)
  "${@:2}"
  # shellcheck disable=SC2034  # a nameref: this sets the caller's variable
  elapsed=$(awk -v ns=$(($(now_ns) - start)) 'BEGIN { printf "%.0f", ns / 1e6 }')
}
fail() {
  echo "peers.sh: $1" >&2
  [[ -f $work/out ]] && tail -20 "$work/out" >&2
  exit 1
}

# virtform applies: an apply may meet another one on the same daemon (tests share it).
apply_fleet() {
  for ((attempt = 0; attempt < 60; ++attempt)); do
    "$virtform" apply "$1" -c "$uri" --auto-approve --no-color >"$work/out" 2>&1 && return 0
    grep -q "another apply is running" "$work/out" || fail "virtform apply $1 failed"
    sleep 2
  done
  fail "the apply lock on $uri stayed busy"
}

plan_is_empty() {  # config dir
  "$virtform" plan "$1" -c "$uri" --no-color --detailed-exitcode >"$work/out" 2>&1 ||
    fail "virtform plan of the applied fleet is not empty"
}

time_virtform() {  # config dir; sets define_ms rerun_ms check_ms
  timed define_ms apply_fleet "$1"
  timed rerun_ms apply_fleet "$1"
  grep -q "No changes." "$work/out" || fail "virtform's second apply changed something"
  timed check_ms plan_is_empty "$1"
}

virsh_define_all() {  # xml dir
  local file
  for file in "$1"/*.xml; do
    virsh -c "$uri" define "$file" >"$work/out" 2>&1 || fail "virsh define $file failed"
  done
}

virsh_dump_all() {  # dir to write each of our domains' inactive XML to
  local name
  mkdir -p "$1"
  for name in $(our_domains); do virsh -c "$uri" dumpxml --inactive "$name" >"$1/$name.xml"; done
}

virsh_unchanged() {  # dir of saved XML
  local name
  for name in $(our_domains); do
    virsh -c "$uri" dumpxml --inactive "$name" | cmp -s - "$1/$name.xml" || fail "$name drifted"
  done
}

time_virsh() {  # xml dir; sets define_ms rerun_ms check_ms
  timed define_ms virsh_define_all "$1"
  timed rerun_ms virsh_define_all "$1"
  rm -rf "$work/virsh-saved"
  virsh_dump_all "$work/virsh-saved"
  timed check_ms virsh_unchanged "$work/virsh-saved"
}

ansible_define_all() {  # xml dir; the play's recap line in $work/out
  ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP=$work/ansible-tmp \
    ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0 \
    ansible-playbook -i localhost, -e "uri=$uri" -e "xml_dir=$1" "$work/define.yml" >"$work/out" 2>&1 ||
    fail "ansible-playbook failed"
}

time_ansible() {  # xml dir; sets define_ms rerun_ms check_ms
  cat >"$work/define.yml" <<'EOF'
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: define the fleet
      community.libvirt.virt:
        command: define
        uri: "{{ uri }}"
        xml: "{{ lookup('file', item) }}"
      loop: "{{ query('fileglob', xml_dir + '/*.xml') }}"
EOF
  timed define_ms ansible_define_all "$1"
  grep -q "changed=1" "$work/out" || fail "the playbook's first run changed nothing"
  timed rerun_ms ansible_define_all "$1"
  grep -q "changed=0" "$work/out" || fail "the playbook's second run changed something"
  check_ms=""
}

ratio() {  # peer ms, virtform ms
  [[ -n $1 ]] || { echo "-"; return; }
  awk -v p="$1" -v v="$2" 'BEGIN { printf "%.1f", p / v }'
}

declare -a rows=() lines=()
define_ms="" rerun_ms="" check_ms=""  # set by each time_<tool>
echo "prefix $prefix, uri $uri, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
  config=$work/fleet-$n empty=$work/empty-$n xmls=$work/xml-$n
  "$repo/bench/fleet.sh" "$config" "$work/disks" "$prefix" "$n" 256
  mkdir -p "$empty" && printf 'project = "%s"\n' "$prefix" >"$empty/00-project.toml"
  [[ -z $(our_domains) ]] || fail "domains named $prefix-* exist before the run"

  time_virtform "$config"
  v_define=$define_ms v_rerun=$rerun_ms v_check=$check_ms
  virsh_dump_all "$xmls"
  apply_fleet "$empty"
  [[ -z $(our_domains) ]] || fail "virtform left domains named $prefix-*"
  rows+=("$(printf '%5s %-10s %10s %10s %10s %8s %8s %8s' "$n" virtform "$v_define" "$v_rerun" "$v_check" 1.0 1.0 1.0)")
  lines+=("PEERS n=$n tool=virtform define_ms=$v_define rerun_ms=$v_rerun check_ms=$v_check")

  tools=(virsh)
  ((have_ansible)) && tools+=(ansible)
  for tool in "${tools[@]}"; do
    "time_$tool" "$xmls"
    [[ $(our_domains | grep -c .) == "$n" ]] || fail "$tool did not define the $n domains"
    undefine_ours
    rows+=("$(printf '%5s %-10s %10s %10s %10s %8s %8s %8s' "$n" "$tool" "$define_ms" "$rerun_ms" "${check_ms:--}" \
      "$(ratio "$define_ms" "$v_define")" "$(ratio "$rerun_ms" "$v_rerun")" "$(ratio "$check_ms" "$v_check")")")
    lines+=("PEERS n=$n tool=$tool define_ms=$define_ms rerun_ms=$rerun_ms check_ms=${check_ms:--} define_ratio=$(ratio "$define_ms" "$v_define") rerun_ratio=$(ratio "$rerun_ms" "$v_rerun") check_ratio=$(ratio "$check_ms" "$v_check")")
  done
done

echo
printf '%5s %-10s %10s %10s %10s %8s %8s %8s\n' n tool define_ms rerun_ms check_ms define/v rerun/v check/v
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${lines[@]}" "PEERS_LOAD $(cut -d' ' -f1-3 /proc/loadavg)"
