#!/usr/bin/env bash
# Builds the benchmarks (RelWithDebInfo, tests off) in their own build dir and runs bench_core.
#
#   bench/run.sh                          # 1,000,000 records, one run, JSON on stdout
#   RUNS=2 bench/run.sh --records 1000000 # two runs back to back
#   OUT=bench/results bench/run.sh        # also keep each run's JSON and table there
#
# Environment: BUILD_DIR (default build-bench/), RUNS (default 1), OUT (a directory; each run
# writes bench_core-<UTC time>-<n>.json and .txt there), SKIP_BUILD=1 to reuse the binary.
# Any arguments go to bench_core (see bench_core --help): --records N --dir DIR --keep ...
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
runs="${RUNS:-1}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  BUILD_DIR="$build" bash "$root/scripts/build.sh" -DMEDTRAIL_TESTS=OFF -DMEDTRAIL_BENCH=ON >&2
fi
bin="$build/bench/bench_core"
[[ -x "$bin" ]] || { echo "run.sh: $bin was not built" >&2; exit 5; }

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) $(uname -srm)"
  free -g | sed 's/^/# /'
  echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# command: $bin $*"
} >&2

status=0
for ((n = 1; n <= runs; n++)); do
  [[ "$runs" -gt 1 ]] && echo "# run $n of $runs" >&2
  if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT"
    stem="$OUT/bench_core-$(date -u +%Y%m%dT%H%M%SZ)-$n"
    "$bin" "$@" 2>&1 >"$stem.json" | tee "$stem.txt" >&2 || status=$?
    cat "$stem.json"
  else
    "$bin" "$@" || status=$?
  fi
done
exit "$status"
