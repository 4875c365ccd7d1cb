#!/usr/bin/env bash
# Configures and builds medtrail into build/ (or $BUILD_DIR), with Ninja.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
# Quiet when it works; on failure, the compiler's errors (not only ninja's last line).
log="$build/build.log"
if ! ninja -C "$build" -j"$(nproc)" > "$log" 2>&1; then
  grep -E -A 12 '^FAILED:' "$log" | head -n 120 >&2 || tail -n 60 "$log" >&2
  echo "build failed in $build; the whole output is in $log" >&2
  exit 1
fi
tail -n 1 "$log"
