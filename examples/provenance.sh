#!/usr/bin/env bash
# Use D, medical data provenance: bedside monitors stream vital signs; an analytics node then
# writes a clinical report derived from ten of those readings. The ledger gives the report's
# lineage back to the devices, proves by each device's sequence counter that readings were
# lost or replayed (both planted), and catches a reading changed after it was committed.
# Run: bash examples/provenance.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
policies="$(cd "$(dirname "$0")" && pwd)/policies"
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-provenance.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "provenance: $*" >&2; exit 1; }

step "10 bedside monitors and an analytics node, two hours"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward2 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --scenario provenance --devices 11 --minutes 120 --list-devices |
  "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" policy add --db ward.db --key keys/hospital.key "$policies/provenance.yaml" > /dev/null
"$mt" simulate --scenario provenance --devices 11 --minutes 120 --truth truth.json > readings.ndjson
"$mt" ingest --db ward.db --key keys/gw-1.key readings.ndjson > receipts.ndjson
echo "records: $(wc -l < receipts.ndjson)"

step "the clinical report, derived from the readings the truth names"
# Each source is found by device and seq in the input, then by line number in the receipts.
ids=$(jq -r '.report.sources[] | "\(.device) \(.seq)"' truth.json | while read -r device seq; do
  line=$(jq -r --arg d "$device" --argjson s "$seq" 'select(.device == $d and .seq == $s) | input_line_number' readings.ndjson | head -1)
  jq -r --argjson l "$line" 'select(.line == $l) | .id' receipts.ndjson
done | jq -R . | jq -s -c .)
printf 'ECG and oxygenation summary for patient-0001: sinus rhythm, SpO2 stable.\n' > report.txt
jq -n -c --argjson ids "$ids" --slurpfile t truth.json '{device: $t[0].report.device, time: "2026-03-01T10:05:00Z",
  type: "report", subject: $t[0].report.subject, title: $t[0].report.title, derived_from: $ids, payload_file: "report.txt"}' > report.ndjson
"$mt" ingest --db ward.db --key keys/gw-1.key report.ndjson > report-receipt.json
report=$(jq -r .id report-receipt.json)
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
echo "report ${report:0:16}… derived from $(jq length <<< "$ids") readings"

step "its lineage: the report, back to the devices"
"$mt" trace --db ward.db "$report" --up --key keys/hospital.key > lineage.json
jq -r '.nodes | sort_by(.distance, .time)[] | "\(.distance)  \(.id[0:16])…  \(.device)  \(.type)  \(.time)  block \(.block)"' lineage.json
for id in $(jq -r '.[]' <<< "$ids"); do
  jq -e --arg id "$id" 'any(.nodes[]; .id == $id and .distance == -1)' lineage.json > /dev/null || die "source $id is missing from the lineage"
done
echo "all $(jq length <<< "$ids") sources in the lineage"

step "audit: lost and replayed readings"
code=0
"$mt" audit --db ward.db --key keys/hospital.key --trust keys/hospital.pub > audit.ndjson || code=$?
[ "$code" = 1 ] || die "expected exit 1 (critical findings), got $code"
jq -r 'select(.kind == "finding") | "\(.severity)  \(.device)  \(.message)"' audit.ndjson
diff <(jq -r '.findings[] | "\(.rule) \(.device) \(.start)"' truth.json | sort) \
  <(jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.start)"' audit.ndjson | sort) ||
  die "the findings differ from the planted events"

step "someone edits a source reading in the database: detected"
cp ward.db edited.db
first=$(jq -r '.[0]' <<< "$ids")
sqlite3 edited.db "UPDATE payloads SET ciphertext = substr(ciphertext, 1, 20) || CASE substr(ciphertext, 21, 1) WHEN X'5a' THEN X'a5' ELSE X'5a' END || substr(ciphertext, 22) WHERE idx = (SELECT idx FROM leaves WHERE hex(id) = upper('$first'))"
code=0
"$mt" verify --db edited.db --trust keys/hospital.pub > verify.ndjson || code=$?
[ "$code" = 1 ] || die "verify did not catch the edit (exit $code)"
jq -r 'select(.finding) | "verify: \(.finding) \(.message)"' verify.ndjson | head -3
code=0
"$mt" audit --db edited.db --key keys/hospital.key --trust keys/hospital.pub --fail-on critical > audit-edited.ndjson || code=$?
[ "$code" = 1 ] || die "audit did not fail on the edit (exit $code)"
jq -e -s 'any(.[]; .rule_kind == "integrity" and .severity == "critical")' audit-edited.ndjson > /dev/null ||
  die "no critical integrity finding"

step "summary"
echo "report ${report:0:16}…: $(jq length <<< "$ids") sources traced; gap findings: $(jq -s '[.[] | select(.rule_kind == "gap")] | length' audit.ndjson); edit detected by verify and audit"
