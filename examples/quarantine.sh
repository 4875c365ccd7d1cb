#!/usr/bin/env bash
# Use B, quarantine and social distancing: wristbands of people quarantined in one building
# report where they are and whom they are near. The quarantine policy is recorded on the
# ledger; the audit finds the planted breach of the geofence, the close contact (< 1.8 m for
# 15 minutes) and the band taken off, and leaves the near misses alone. Each finding's evidence
# verifies against the signed history, and no finding names a person.
# Run: bash examples/quarantine.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
policies="$(cd "$(dirname "$0")" && pwd)/policies"
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-quarantine.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "quarantine: $*" >&2; exit 1; }

step "30 wristbands in a quarantine building, two hours, the policy on the ledger"
"$mt" keygen --name health-authority --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db quarantine.db --authority keys/health-authority.key --origin health.example/q-hotel > /dev/null
"$mt" enroll --db quarantine.db --key keys/health-authority.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --scenario quarantine --devices 30 --minutes 120 --list-devices |
  "$mt" enroll --db quarantine.db --key keys/health-authority.key --from - > /dev/null
"$mt" policy add --db quarantine.db --key keys/health-authority.key "$policies/quarantine.yaml" > policy.json
"$mt" simulate --scenario quarantine --devices 30 --minutes 120 --truth truth.json |
  "$mt" ingest --db quarantine.db --key keys/gw-1.key > receipts.ndjson
"$mt" anchor --db quarantine.db --key keys/health-authority.key > block.json
echo "records: $(wc -l < receipts.ndjson); block $(jq -r .header.height block.json) commits to policy root $(jq -r .header.policy_root block.json | cut -c1-16)…"

step "audit: breaches, contacts, bands taken off"
code=0
"$mt" audit --db quarantine.db --key keys/health-authority.key --trust keys/health-authority.pub > audit.ndjson || code=$?
[ "$code" = 1 ] || die "expected exit 1 (critical findings), got $code"
jq -r 'select(.kind == "finding") | "\(.severity)  \(.rule)  \(.device)  \(.start)  \(.message)"' audit.ndjson
diff <(jq -r '.findings[] | "\(.rule) \(.device) \(.peer // "-") \(.start)"' truth.json | sort) \
  <(jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.peer // "-") \(.start)"' audit.ndjson | sort) ||
  die "the findings differ from the planted events"
echo "every planted event found; near misses left out: $(jq -r '[.near_misses[].reason] | join(", ")' truth.json)"
! grep -q 'patient-' audit.ndjson || die "a person's name appears in the findings"

step "the evidence of each finding verifies against the signed history"
for id in $(jq -r 'select(.kind == "finding") | .evidence[0]' audit.ndjson); do
  "$mt" verify --db quarantine.db --trust keys/health-authority.pub "$id" > /dev/null || die "evidence $id does not verify"
done
echo "$(jq -s '[.[] | select(.kind == "finding")] | length' audit.ndjson) findings, each backed by a verified record"

step "summary"
jq -r -s 'map(select(.kind == "finding")) | group_by(.rule)[] | "\(.[0].rule): \(length)"' audit.ndjson
