#!/usr/bin/env bash
# Configures and builds virtform into build/ (Ninja, RelWithDebInfo): build/virtform and the
# test binaries. BUILD_DIR overrides the directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j "$jobs"
echo "build: $build_dir/virtform"
