#!/usr/bin/env bash
# Every runnable workflow in examples/ exits 0 with the binary under test (each example checks
# its own steps and exits non-zero when one does not behave as it states).
source "$(dirname "$0")/lib.sh"
: "${MEDTRAIL_SOURCE_DIR:?set MEDTRAIL_SOURCE_DIR to the source tree}"

shopt -s nullglob
examples=("$MEDTRAIL_SOURCE_DIR"/examples/*.sh)
check "examples/ holds runnable workflows" test "${#examples[@]}" -gt 0
for example in "${examples[@]}"; do
  name=$(basename "$example")
  check "$name starts with a header comment" bash -c "sed -n 2p '$example' | grep -q '^# '"
  MEDTRAIL="$MEDTRAIL" TMPDIR="$WORK" bash "$example" > "$name.out" 2>&1
  code=$?
  if [ "$code" -eq 0 ]; then pass; else
    fail "$name exited $code"
    tail -n 15 "$name.out" | sed 's/^/  /' >&2
  fi
done
# One workflow per use of the product brief, each checking its findings against its
# scenario's truth (it exits non-zero when they differ) and ending with a summary.
for use in origin quarantine hospital provenance telemedicine; do
  check "examples/$use.sh exists" test -f "$MEDTRAIL_SOURCE_DIR/examples/$use.sh"
  check "$use.sh ran to its summary" grep -q '^== summary' "$use.sh.out"
  check "$use.sh ships its policy" test -f "$MEDTRAIL_SOURCE_DIR/examples/policies/$use.yaml"
done
check "origin.sh found the planted first case" grep -q '^earliest case: patient-0003' origin.sh.out
check "provenance.sh traced every source of the report" grep -q '^all 10 sources in the lineage' provenance.sh.out
finish
