#!/usr/bin/env bash
# Builds virtform's .deb in the build directory (cpack), installs it with apt-get as a user
# would, and checks what was installed: the installed virtform plans the installed DSM example
# against the installed demo host, man finds every page, bash completes from the installed
# script, and systemd-analyze accepts the drift-check units. The package is removed again, also
# when a check fails. A virtform installed on purpose is left alone: the step is skipped.
# Reuses BUILD_DIR (default build/) and builds only what is installed: the program and the man
# pages.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}
started=$SECONDS

fail() {
  echo "package: FAILED: $*" >&2
  exit 1
}

if [[ $(dpkg-query -W -f='${db:Status-Status}' virtform 2>/dev/null || true) == installed ]]; then
  echo "package: skipped: a virtform package is already installed here (dpkg -s virtform), and" \
    "this step would replace, then remove it"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || fail "needs root, to install the package"

if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build_dir" -j "$jobs" --target virtform man
rm -f "$build_dir"/virtform_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
debs=("$build_dir"/virtform_*.deb)
deb=${debs[0]}
[[ -f $deb ]] || fail "cpack made no virtform_*.deb in $build_dir"
echo "package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"
dpkg-deb --field "$deb" Depends Recommends Suggests Installed-Size

# Another apt-get on this machine (a test installing a package) is waited for, not failed on.
apt_wait=(-o DPkg::Lock::Timeout=300)
installed=0
remove_package() {
  if ((installed)); then
    echo "package: removing it again"
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_wait[@]}" purge -y -q virtform >/dev/null ||
      dpkg --purge virtform >/dev/null
  fi
}
trap remove_package EXIT

installed=1
DEBIAN_FRONTEND=noninteractive apt-get "${apt_wait[@]}" install -y -q "$deb" >/dev/null ||
  fail "apt-get install $deb"
[[ $(command -v virtform) == /usr/bin/virtform ]] || fail "virtform is not /usr/bin/virtform"
version=$(dpkg-query -W -f='${Version}' virtform)
[[ $(virtform --version) == "virtform $version" ]] ||
  fail "virtform --version says '$(virtform --version)', the package $version"

# From an empty directory, so that nothing of the checkout can stand in for what was installed.
work=$(mktemp -d)
trap 'remove_package; rm -rf "$work"' EXIT
cd "$work"

examples=/usr/share/doc/virtform/examples
plan=$(virtform plan "$examples/dsm" --host "$examples/demo-host" --no-color) ||
  fail "the installed virtform plan of $examples/dsm failed"
grep -q '^  + vm.dsm "DSM"$' <<<"$plan" || fail "the plan does not create vm.dsm: $plan"
grep -q '^Plan: 2 to add, 0 to change, 0 to destroy.$' <<<"$plan" ||
  fail "the plan's summary is not '2 to add': $plan"
echo "package: the installed plan of the installed example: $(tail -n 1 <<<"$plan")"

for page in virtform virtform-validate virtform-plan virtform-apply virtform-host virtform-graph \
  virtform-import virtform-capture virtform.toml; do
  man -w "$page" >/dev/null || fail "man -w $page finds no page"
done
echo "package: man pages: $(man -w virtform), $(man -w virtform.toml)"

for file in /usr/share/bash-completion/completions/virtform /usr/share/zsh/vendor-completions/_virtform \
  /usr/share/fish/vendor_completions.d/virtform.fish /usr/share/virtform/schemas/virtform.schema.json \
  /usr/share/virtform/schemas/plan.schema.json; do
  [[ -s $file ]] || fail "$file is missing"
done
completed=$(bash --norc --noprofile -c 'source /usr/share/bash-completion/completions/virtform
  COMP_WORDS=(virtform plan --detailed-e); COMP_CWORD=2; _virtform; echo "${COMPREPLY[*]}"')
[[ $completed == --detailed-exitcode ]] || fail "bash completed 'plan --detailed-e' as '$completed'"

# The template units, checked as an instance (systemd-analyze verify also runs man on their
# Documentation= and looks for the ExecStart= binary).
for unit in service timer; do
  cp "/usr/lib/systemd/system/virtform-drift@.$unit" "$work/virtform-drift@ci.$unit"
done
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$work/virtform-drift@ci.service" "$work/virtform-drift@ci.timer" ||
    fail "systemd-analyze verify of the drift-check units"
fi
echo "package: completion, schemas and systemd units in place"
echo "package: passed in $((SECONDS - started)) s"
