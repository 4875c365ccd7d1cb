#!/usr/bin/env bash
# Command 2 of the README (and what CI runs): install what is missing, build, run the whole
# test suite (unit, end-to-end, examples); then each fuzz target for FUZZ_SECONDS (default 30);
# then the same suite under ASan and UBSan; then the unit tests and the end-to-end suites that
# drive ingest's and verify's worker threads under ThreadSanitizer. MEDTRAIL_SKIP_FUZZ=1 /
# MEDTRAIL_SKIP_SANITIZERS=1 skip the fuzzing / both sanitizer phases.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
BUILD_DIR="$root/build" "$root/scripts/build.sh"
ctest --test-dir "$root/build" --output-on-failure -j2 --timeout 1200
if [ "${MEDTRAIL_SKIP_FUZZ:-0}" != 1 ]; then
  # Every libFuzzer target for a bounded time (ASan + UBSan + leak checks): fails on any crash,
  # leak or sanitizer report and leaves the input in build-fuzz/crashes/.
  echo "== each fuzz target for ${FUZZ_SECONDS:-30}s"
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" "$root/scripts/fuzz.sh"
fi
if [ "${MEDTRAIL_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== the suite again under AddressSanitizer + UndefinedBehaviorSanitizer"
  # Optimised (-O2 -g) so the sanitized suite fits CI's time; the sanitizers still see every access.
  BUILD_DIR="$root/build-asan" BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DMEDTRAIL_SANITIZE=ON -DMEDTRAIL_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    MEDTRAIL_SANITIZED=1 ctest --test-dir "$root/build-asan" --output-on-failure -j2 --timeout 2400
  echo "== unit tests and the threaded end-to-end suites under ThreadSanitizer"
  BUILD_DIR="$root/build-tsan" BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" -DMEDTRAIL_TSAN=ON -DMEDTRAIL_BENCH=OFF
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 MEDTRAIL_SANITIZED=1 \
    ctest --test-dir "$root/build-tsan" --output-on-failure -j2 --timeout 2400 \
    -R '^unit:|^e2e: (core|ingest|ingest_formats|concurrency|crash|faults|privacy|tamper)$'
fi
