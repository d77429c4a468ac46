#!/usr/bin/env bash
# Checks schemas/virtform.schema.json with Taplo, the validator editors use (Even Better TOML):
# every example configuration validates, the .taplo.toml mapping applies the schema to them,
# and configurations the loader refuses (an unknown key, a value outside an enum, ...) are
# refused by the schema too, so this check can fail. Needs the npm registry on the first run
# only; later runs reuse node_modules/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
schema_url="file://$root/schemas/virtform.schema.json"
taplo="$root/node_modules/.bin/taplo"

# The pinned @taplo/cli from package-lock.json; reinstalled only when the lock file changes.
install_taplo() {
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
  fi
  if [[ -x $taplo && node_modules/.package-lock.json -nt package-lock.json ]]; then return; fi
  npm ci --no-audit --no-fund --loglevel=error
}

# taplo check with the schema; its diagnostics on stderr, nothing else.
check_with_schema() {
  "$taplo" check --colors never --no-auto-config --schema "$schema_url" "$@"
}

check_examples() {
  # Not a glob: taplo would walk examples/demo-host/root, whose sysfs symlinks loop.
  local -a examples
  mapfile -t examples < <(find examples -name '*.toml' -not -path 'examples/demo-host/*' | sort)
  ((${#examples[@]} > 0)) || { echo "no example configurations found" >&2; return 1; }
  echo "validating ${#examples[@]} example(s): ${examples[*]}"
  check_with_schema "${examples[@]}"
}

# Each configuration below is refused by the loader; the schema must refuse it as well.
wrong_configs=(
  $'[vm.a]\nmemroy = "4GiB"\n'                                         # unknown key
  $'[vm.a]\ntype = "xen"\n'                                            # outside an enum
  $'[vm.a]\nmemory = "4GB"\n'                                          # ambiguous size unit
  $'[vm.a]\n[[vm.a.nic]]\nbridge = "br0"\nmac = "01:00:5e:00:00:01"\n' # multicast MAC
  $'[vm.a]\n[[vm.a.disk]]\nbus = "ide"\nfile = "/a.img"\n'             # bad bus
  $'[vm.a]\n[[vm.a.pci]]\naddress = "0000:08:00.0"\nbind = "vfio-pci"\nmanaged = true\n'
  $'[vm.a]\n[[vm.a.disk]]\nsource = "/dev/sdb"\nio = "native"\ncache = "writeback"\n'
  $'nonsense = 1\n'                                                    # unknown top-level key
)

# One taplo run for all of them (it starts slowly); each file must be named as invalid.
check_wrong_configs_are_refused() {
  local dir=$1 failed=0 i report
  local -a files=()
  for i in "${!wrong_configs[@]}"; do
    files+=("$dir/wrong-$i.toml")
    printf '%s' "${wrong_configs[$i]}" >"${files[$i]}"
  done
  report=$(check_with_schema "${files[@]}" 2>&1 || true)
  for i in "${!files[@]}"; do
    if ! grep -qF "invalid file error=schema validation failed path=\"${files[$i]}\"" <<<"$report"; then
      echo "the schema accepts a configuration the loader refuses:" >&2
      cat "${files[$i]}" >&2
      failed=1
    fi
  done
  ((failed == 0)) && echo "the schema refuses all ${#files[@]} wrong configurations"
  return "$failed"
}

# Editors find the schema through .taplo.toml, not --schema: check that mapping in a copy of
# the layout with one wrong example in it.
check_editor_mapping() {
  local dir=$1
  mkdir -p "$dir/layout/examples/wrong"
  cp -r .taplo.toml schemas "$dir/layout/"
  printf '[vm.a]\ntype = "xen"\n' >"$dir/layout/examples/wrong/wrong.toml"
  if (cd "$dir/layout" && "$taplo" check --colors never >/dev/null 2>&1); then
    echo ".taplo.toml does not apply the schema to examples/*/*.toml" >&2
    return 1
  fi
  echo ".taplo.toml applies the schema to the examples"
}

main() {
  install_taplo
  local status=0
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  check_examples || status=1
  check_wrong_configs_are_refused "$scratch" || status=1
  check_editor_mapping "$scratch" || status=1
  if ((status != 0)); then echo "schemas: FAILED" >&2; else echo "schemas: ok"; fi
  return "$status"
}

main "$@"
