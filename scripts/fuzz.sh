#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time over
# a scratch copy of its committed corpus. Fails on any crash, leak or sanitizer report; the
# input that caused it is left in build-fuzz/crashes/ — commit it to tests/fuzz/corpus/TARGET/
# so the replay tests keep it fixed.
#   FUZZ_SECONDS=60 (per target)   FUZZ_TARGETS="reading jcs" (default: all)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"
command -v clang++ > /dev/null || { echo "fuzz: clang++ is not installed (apt-get install clang)" >&2; exit 5; }
CC=clang CXX=clang++ BUILD_DIR="$build" BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" \
  -DMEDTRAIL_FUZZ=ON -DMEDTRAIL_BENCH=OFF
targets="${FUZZ_TARGETS:-$(cd "$root/tests/fuzz" && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')}"
mkdir -p "$build/crashes"
failed=0
for t in $targets; do
  scratch="$build/corpus/$t"
  mkdir -p "$scratch"
  cp -n "$root/tests/fuzz/corpus/$t/"* "$scratch/" 2> /dev/null || true
  echo "== fuzz $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=8192 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$scratch" \
      > "$build/fuzz-$t.log" 2>&1; then
    echo "fuzz $t FAILED; see $build/fuzz-$t.log and $build/crashes/" >&2
    tail -n 40 "$build/fuzz-$t.log" >&2
    failed=1
  else
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/fuzz-$t.log" | tail -n 2
  fi
done
exit "$failed"
