#!/usr/bin/env bash
# Use C, smart hospital: RFID readers track respirators, beds and ambulances, sterilizers
# record every cycle, ventilator monitors watch patients. The audit finds the planted
# respirators put into use without a passing sterilization (one never sterilized, one after a
# failed cycle) and the respirator fault; the asset's own history comes from the ledger.
# Run: bash examples/hospital.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
policies="$(cd "$(dirname "$0")" && pwd)/policies"
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-hospital.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "hospital: $*" >&2; exit 1; }

step "two wards of RFID readers, sterilizers and ventilator monitors, two hours"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db hospital.db --authority keys/hospital.key --origin hospital-a.example/icu > /dev/null
"$mt" enroll --db hospital.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --scenario hospital --devices 20 --minutes 120 --list-devices |
  "$mt" enroll --db hospital.db --key keys/hospital.key --from - > /dev/null
"$mt" policy add --db hospital.db --key keys/hospital.key "$policies/hospital.yaml" > /dev/null
"$mt" simulate --scenario hospital --devices 20 --minutes 120 --truth truth.json |
  "$mt" ingest --db hospital.db --key keys/gw-1.key > receipts.ndjson
"$mt" anchor --db hospital.db --key keys/hospital.key > /dev/null
echo "records: $(wc -l < receipts.ndjson); assets tracked: $(jq .assets truth.json)"

step "audit: unsterile use, faults"
code=0
"$mt" audit --db hospital.db --key keys/hospital.key --format text > audit.txt || code=$?
cat audit.txt
[ "$code" = 1 ] || die "expected exit 1 (critical findings), got $code"
"$mt" audit --db hospital.db --key keys/hospital.key > audit.ndjson || true
diff <(jq -r '.findings[] | "\(.rule) \(.device) \(.asset) \(.start)"' truth.json | sort) \
  <(jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.asset) \(.start)"' audit.ndjson | sort) ||
  die "the findings differ from the planted events"
echo "every planted event found, nothing else"

step "resp-0003's history from the ledger: a failed cycle, then into use"
"$mt" trace --db hospital.db --key keys/hospital.key --asset resp-0003 --until 2026-03-01T08:40:00Z > resp-0003.ndjson
jq -r '"\(.time)  \(.device)  \(.type)  \(.reading.status // .reading.result // "")"' resp-0003.ndjson
jq -e -s 'map(.reading.result // empty) | index("fail") != null' resp-0003.ndjson > /dev/null || die "the failed cycle is not in the asset's history"

step "summary"
jq -r -s 'map(select(.kind == "finding")) | group_by(.rule)[] | "\(.[0].rule): \(length) (\(map(.asset) | unique | join(", ")))"' audit.ndjson
