#!/usr/bin/env bash
# The first command of the README: install what virtform needs, build it, and show the plan for
# the DSM example against the demo host (libvirt's test driver: no daemon, no root needed for it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash ci/install-deps.sh
# Only the program: the man pages and the tests are built by ci/test.sh.
bash ci/build.sh virtform
echo
build/virtform plan examples/dsm --host examples/demo-host
