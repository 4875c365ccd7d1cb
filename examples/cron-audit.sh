#!/usr/bin/env bash
# Cron audit: the ward's rules recorded on the ledger, then `audit --state` run as cron would,
# after each anchor. Each run audits only what is new, proves first that the history it saw
# last time was not rewritten, and records its findings as signed alert records; a sqlite3
# rewrite of the audited history is then a critical finding and exit 1.
# Run: bash examples/cron-audit.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-cron-audit.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "cron-audit: $*" >&2; exit 1; }

step "a ledger with an authority, a gateway, an auditor and 50 simulated devices"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" keygen --name auditor --role auditor --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward3 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role auditor --name auditor keys/auditor.pub > /dev/null
"$mt" simulate --devices 50 --minutes 90 --seed 11 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null

step "readings are encrypted to the hospital (the data owner); the auditor may read them all"
"$mt" grant --db ward.db --key keys/hospital.key --to auditor --all --purpose "cron audit" | jq -c '{grant, wrapped}'

step "the ward's rules (examples/policies/ward.yaml, with a tighter contact distance) on the ledger"
sed 's/distance_m: 1.8/distance_m: 0.5/' "$here/policies/ward.yaml" > ward.yaml
"$mt" policy add --db ward.db --key keys/hospital.key ward.yaml | jq -c '{name, rules, sha256}'

step "three cron periods: ingest 30 minutes, anchor, audit --state --record-findings"
"$mt" simulate --devices 50 --minutes 90 --seed 11 > readings.ndjson
for period in 0 1 2; do
  start=$((period * 30)); end=$((start + 30))
  from=$(printf '2026-03-01T%02d:%02d' $((8 + start / 60)) $((start % 60)))
  to=$(printf '2026-03-01T%02d:%02d' $((8 + end / 60)) $((end % 60)))
  jq -c --arg from "$from" --arg to "$to" 'select(.time >= $from and .time < $to)' readings.ndjson |
    "$mt" ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
  "$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
  set +e
  "$mt" audit --db ward.db --state audit.state --record-findings --key keys/auditor.key --trust keys/hospital.pub \
    >> findings.ndjson
  code=$?
  set -e
  [ "$code" -le 1 ] || die "audit exited $code"
  tail -1 findings.ndjson | jq -c '{from_index, next_index, readings, findings, recorded, worst}'
done

step "findings by rule, each reported once across the three runs"
jq -r 'select(.kind == "finding") | .rule' findings.ndjson | sort | uniq -c
total=$(jq -s '[.[] | select(.kind == "finding")] | length' findings.ndjson)
[ "$total" -gt 0 ] || die "expected some findings in 90 minutes of a ward"
dups=$(jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.asset) \(.peer) \(.start)"' findings.ndjson | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || die "a finding was reported twice"
# All alerts recorded as signed records, and the whole ledger (alerts included) verifies.
# kind_code 7 is an alert record (the codes are in docs/FORMATS.md, "The SQLite file").
alerts=$(sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 7")
[ "$alerts" -eq "$total" ] || die "$total findings but $alerts alert records"
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
"$mt" verify --db ward.db --trust keys/hospital.pub | tail -1

step "someone rewrites audited history with sqlite3; the next cron run says so"
cp ward.db rewritten.db
sqlite3 rewritten.db "UPDATE nodes SET hash = zeroblob(32)"
set +e
"$mt" audit --db rewritten.db --state audit.state --key keys/auditor.key > rewritten.ndjson 2> rewritten.err
code=$?
set -e
[ "$code" -eq 1 ] || die "a rewritten history should make audit exit 1 (got $code)"
jq -c 'select(.rule == "history") | {severity, check}' rewritten.ndjson | head -1
grep -q '"rule":"history"' rewritten.ndjson || die "no history finding"
echo
echo "cron-audit: OK ($total findings over three runs, $alerts signed alert records)"
