#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build, and run the end-to-end demo on a
# fresh SQLite ledger in demo/: keys, init, enroll, simulate | ingest, anchor, verify, prove,
# offline receipt check, consistency with an earlier checkpoint, lineage, timelines and
# contact tracing, privacy (encrypted readings, a grant, audited reads) and tamper detection.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
medtrail="$root/build/medtrail"
demo="${DEMO_DIR:-$root/demo}"
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"
step() { printf '\n== %s\n' "$*"; }

step "keys for the hospital authority (the data owner), gateway gw-1 and clinician dr-lee"
"$medtrail" keygen --name hospital --role authority --out keys/ | jq -c '{name, role, key_id, enc_key_id}'
"$medtrail" keygen --name gw-1 --role gateway --out keys/ | jq -c '{name, role, key_id}'
"$medtrail" keygen --name dr-lee --role clinician --out keys/ | jq -c '{name, role, key_id, enc_key_id}'

step "ledger ward3.db with its genesis block"
"$medtrail" init --db ward3.db --authority keys/hospital.key --origin hospital-a.example/ward3 | jq -c '{origin, authority, genesis: .genesis.hash}'

step "enroll the gateway, the clinician and 50 simulated devices"
"$medtrail" enroll --db ward3.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub | jq -c .
"$medtrail" enroll --db ward3.db --key keys/hospital.key --role clinician --name dr-lee keys/dr-lee.pub | jq -c .
"$medtrail" simulate --devices 50 --minutes 60 --seed 7 --list-devices |
  "$medtrail" enroll --db ward3.db --key keys/hospital.key --from - | wc -l | xargs echo "devices enrolled:"

step "simulate 60 minutes of readings and ingest them"
"$medtrail" simulate --devices 50 --minutes 60 --seed 7 | "$medtrail" ingest --db ward3.db --key keys/gw-1.key > receipts.ndjson
echo "receipts: $(wc -l < receipts.ndjson)"

step "anchor: seal them into a signed block"
"$medtrail" anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-1.txt | jq -c '.header | {height, count, tree_size, log_root}'
cat cp-1.txt

step "verify the whole ledger against the pinned authority key"
"$medtrail" verify --db ward3.db --trust keys/hospital.pub

step "prove one record and verify the receipt offline"
id=$(head -1 receipts.ndjson | jq -r .id)
"$medtrail" prove --db ward3.db "${id:0:8}" > receipt.json
jq -c '{leaf_index, tree_size, proof_length: (.inclusion | length)}' receipt.json
"$medtrail" verify --receipt receipt.json --trust keys/hospital.pub

step "more readings (a planted contact-tracing scenario), a new block, and proof that history only grew since cp-1"
"$medtrail" simulate --devices 50 --minutes 120 --seed 8 --scenario contacts --truth truth.json |
  "$medtrail" ingest --db ward3.db --key keys/gw-1.key | wc -l | xargs echo "receipts:"
# A lab report derived from two earlier readings: its lineage is traced below.
jq -cn --arg a "$(sed -n 1p receipts.ndjson | jq -r .id)" --arg b "$(sed -n 2p receipts.ndjson | jq -r .id)" \
  '{device: "lab-01", time: "2026-03-01T10:30:00Z", type: "report", title: "triage summary", derived_from: [$a, $b]}' |
  "$medtrail" ingest --db ward3.db --key keys/gw-1.key > report-receipt.ndjson
"$medtrail" anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-2.txt | jq -c '.header | {height, count, tree_size}'
"$medtrail" verify --db ward3.db --checkpoint cp-1.txt --trust keys/hospital.pub

step "trace: the report's lineage, as a tree"
"$medtrail" trace --db ward3.db "$(jq -r .id report-receipt.ndjson)" --format text

step "trace: one wristband's temperatures"
"$medtrail" trace --db ward3.db --device wb-0001 --type body_temperature --until 2026-03-01T08:03:00Z --key keys/hospital.key |
  jq -c '{time, value: .reading.value, block}'

step "trace: who was within 2 m of patient-0001 for 15 minutes or more, two hops out"
"$medtrail" trace --db ward3.db --contacts patient-0001 --hops 2 --reveal --data-key keys/hospital.datakey --key keys/hospital.key |
  jq -c '{subject_id, hop, first, last, exposure_s, closest_m, evidence: (.evidence | length)}'
echo "planted: $(jq -c '[.contacts[] | {subject, hop}]' truth.json)"

step "trace: from patient-0001's positive test back to the earliest case"
"$medtrail" trace --db ward3.db --origin patient-0001 --reveal --data-key keys/hospital.datakey --key keys/hospital.key |
  jq -c '{step, subject_id, test_time, earliest}'

step "privacy: readings are stored encrypted; dr-lee reads patient-0001's under a grant, every read recorded"
first=$(jq -r -s 'map(select(.device == "wb-0001" and .type == "body_temperature"))[0].id' receipts.ndjson)   # patient-0001 wears wb-0001
"$medtrail" show --db ward3.db "${first:0:8}" --format json | jq -c '{id: .id[0:16], payload}'
"$medtrail" grant --db ward3.db --key keys/hospital.key --to dr-lee --subject patient-0001 --purpose treatment | jq -c '{grant: .grant[0:16], wrapped}'
"$medtrail" show --db ward3.db "${first:0:8}" --key keys/dr-lee.key --purpose treatment --format json |
  jq -c '{payload, reading: .reading | {device, type, value, unit}, access_record: .access_record[0:16]}'
other=$(jq -r -s 'map(select(.device == "wb-0002"))[0].id' receipts.ndjson)
if "$medtrail" show --db ward3.db "${other:0:8}" --key keys/dr-lee.key > /dev/null 2> refused.txt; then
  echo "a read outside the grant was NOT refused" >&2; exit 1
fi
echo "patient-0002's reading: $(cat refused.txt)"

step "tamper with one stored (encrypted) reading: verify must fail, without any decryption key"
cp ward3.db tampered.db
sqlite3 tampered.db "UPDATE payloads SET ciphertext = substr(ciphertext, 1, 20) || X'5a' || substr(ciphertext, 22) WHERE idx = (SELECT min(idx) FROM payloads)"
if "$medtrail" verify --db tampered.db --trust keys/hospital.pub > findings.ndjson 2>/dev/null; then
  echo "tampering NOT detected" >&2; exit 1
fi
jq -c 'select(.finding) | {finding, index, message}' findings.ndjson

step "blocks"
"$medtrail" log --db ward3.db --format text
printf '\nDemo complete: ledger, keys and receipts are in %s\n' "$demo"
