#!/usr/bin/env bash
# Contact tracing (uses A and B): a ward of 50 devices runs for two hours with a planted
# scenario (simulate --scenario contacts --truth), patient-0001 tests positive, and the
# investigator asks who was within 2 m of them for 15 minutes or more, two hops out, then where
# the cluster began. Every contact comes with the ids of the records that prove it; the example
# checks each answer against the scenario's truth file and verifies a sample of the evidence
# against the signed history, offline, with a receipt.
# Run: bash examples/contact-tracing.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-contact-tracing.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "contact-tracing: $*" >&2; exit 1; }

step "a ward of 50 devices, two hours of readings with planted contacts, sealed in a block"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward5 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 50 --minutes 120 --scenario contacts --list-devices |
  "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 50 --minutes 120 --scenario contacts --truth truth.json |
  "$mt" ingest --db ward.db --key keys/gw-1.key > receipts.ndjson 2> /dev/null
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
echo "records: $(wc -l < receipts.ndjson)"
export MEDTRAIL_DATA_KEY=keys/hospital.datakey

step "contacts of patient-0001: within 2 m for 15 minutes or more, two hops"
"$mt" trace --db ward.db --contacts patient-0001 --hops 2 --reveal --key keys/hospital.key --purpose "contact tracing" \
  --since 2026-03-01T08:00:00Z --until 2026-03-01T10:00:00Z > contacts.ndjson
jq -c '{subject_id, hop, first, last, exposure_s, closest_m, evidence: (.evidence | length)}' contacts.ndjson
jq -e -s --slurpfile truth truth.json \
  '. as $found | $truth[0].contacts | all(. as $c | $found | any(.subject_id == $c.subject and .hop == $c.hop))' \
  contacts.ndjson > /dev/null || die "a planted contact was not found"
jq -e -s --slurpfile truth truth.json \
  '. as $found | $truth[0].near_misses | all(. as $m | $found | all(.subject_id != $m.subject))' \
  contacts.ndjson > /dev/null || die "a near miss was reported as a contact"
echo "every planted contact found; near misses ($(jq -r '[.near_misses[].reason] | join(", ")' truth.json)) left out"

step "the same answer from a pairwise scan of every position (the R*Tree is only faster)"
"$mt" trace --db ward.db --contacts patient-0001 --hops 2 --reveal --method scan --key keys/hospital.key \
  --since 2026-03-01T08:00:00Z --until 2026-03-01T10:00:00Z | cmp -s - contacts.ndjson || die "index and scan disagree"
echo "identical"

step "where did patient-0001's infection come from?"
"$mt" trace --db ward.db --origin patient-0001 --reveal --key keys/hospital.key > origin.ndjson
jq -c '{step, subject_id, test_time, earliest, exposure_s: .contact.exposure_s}' origin.ndjson
[ "$(jq -r -s 'map(.subject_id) | join(" ")' origin.ndjson)" = "$(jq -r '[.origin[].subject] | join(" ")' truth.json)" ] ||
  die "origin chain differs from the planted one"

step "the evidence stands on its own: verify records, and a receipt offline"
for id in $(jq -r '.evidence[]' contacts.ndjson | sort -u | head -20); do
  "$mt" verify --db ward.db --trust keys/hospital.pub "$id" > /dev/null || die "evidence $id does not verify"
done
first=$(jq -r '.evidence[0]' contacts.ndjson | head -1)
"$mt" prove --db ward.db "$first" > receipt.json
"$mt" verify --receipt receipt.json --trust keys/hospital.pub > /dev/null || die "receipt does not verify"
echo "20 evidence records verified; receipt for ${first:0:16}… verified offline"
