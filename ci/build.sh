#!/usr/bin/env bash
# Configures and builds virtform into build/ (Ninja, RelWithDebInfo): build/virtform, the man
# pages and the test binaries, or only the targets given (`ci/build.sh virtform`). BUILD_DIR
# overrides the directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j "$jobs" ${1:+--target "$@"}
echo "build: $build_dir/virtform"
