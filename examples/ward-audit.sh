#!/usr/bin/env bash
# The ward workflow, start to finish, in a throwaway directory:
#   keys for a hospital authority and a gateway; a ledger; the gateway and 20 simulated
#   devices enrolled; simulate | ingest; anchor with --checkpoint-out; verify the whole ledger
#   against the pinned authority key; prove one record by an 8-hex-digit prefix and check the
#   receipt offline (no database); then more readings and a new block, and a check that the
#   ledger only grew since the first checkpoint.
# Run: bash examples/ward-audit.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-ward-audit.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "ward-audit: $*" >&2; exit 1; }

step "keys: the hospital authority and the gateway gw-1"
"$mt" keygen --name hospital --role authority --out keys/ | jq -c '{name, role, key_id}'
"$mt" keygen --name gw-1 --role gateway --out keys/ | jq -c '{name, role, key_id}'

step "a ledger with its genesis block"
"$mt" init --db ward3.db --authority keys/hospital.key --origin hospital-a.example/ward3 |
  jq -c '{origin, authority, genesis: .genesis.hash}'

step "enroll the gateway and 20 simulated devices"
"$mt" enroll --db ward3.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub | jq -c .
devices=$("$mt" simulate --devices 20 --minutes 30 --seed 7 --list-devices |
  "$mt" enroll --db ward3.db --key keys/hospital.key --from - | wc -l)
echo "devices enrolled: $devices"
[ "$devices" -eq 20 ] || die "expected 20 devices enrolled, got $devices"

step "simulate 30 minutes of readings and ingest them: one receipt per reading"
"$mt" simulate --devices 20 --minutes 30 --seed 7 > readings.ndjson
"$mt" simulate --devices 20 --minutes 30 --seed 7 |
  "$mt" ingest --db ward3.db --key keys/gw-1.key > receipts.ndjson
echo "readings: $(wc -l < readings.ndjson), receipts: $(wc -l < receipts.ndjson)"
[ "$(wc -l < receipts.ndjson)" -eq "$(wc -l < readings.ndjson)" ] || die "not one receipt per reading"
jq -e -s 'all(.status == "pending")' receipts.ndjson > /dev/null || die "receipts should be pending before anchor"

step "anchor: seal the pending records into block 1, keep its checkpoint as cp-1.txt"
"$mt" anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-1.txt |
  jq -c '.header | {height, count, tree_size, log_root}'
cat cp-1.txt
[ "$(sed -n 1p cp-1.txt)" = hospital-a.example/ward3 ] || die "cp-1.txt does not name the log"

step "verify the whole ledger against the pinned authority key"
"$mt" verify --db ward3.db --trust keys/hospital.pub | tee verify.ndjson
jq -e 'select(.status) | .status == "verified" and .authority == "pinned"' verify.ndjson > /dev/null ||
  die "verify did not report verified/pinned"

step "prove one record, named by the first 8 hex digits of its id"
id=$(sed -n 5p receipts.ndjson | jq -r .id)
echo "record ${id:0:8}… (full id $id)"
"$mt" prove --db ward3.db "${id:0:8}" > receipt.json
jq -c '{leaf_index, tree_size, proof_length: (.inclusion | length)}' receipt.json
jq -e --arg id "$id" '.leaf_hash == $id' receipt.json > /dev/null || die "the receipt is for another record"

step "an auditor checks the receipt offline: only receipt.json and hospital.pub, no ledger"
mkdir auditor && cp receipt.json keys/hospital.pub auditor/
(cd auditor && "$mt" verify --receipt receipt.json --trust hospital.pub) || die "the receipt did not verify offline"

step "more readings and block 2; the ledger only grew since cp-1.txt"
"$mt" simulate --devices 20 --minutes 10 --seed 8 |
  "$mt" ingest --db ward3.db --key keys/gw-1.key | wc -l | xargs echo "new receipts:"
"$mt" anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-2.txt | jq -c '.header | {height, count, tree_size}'
"$mt" verify --db ward3.db --checkpoint cp-1.txt --trust keys/hospital.pub || die "cp-1.txt is not consistent with the ledger"
"$mt" verify --db ward3.db --trust keys/hospital.pub > /dev/null || die "the grown ledger does not verify"

printf '\nward-audit: every step behaved as stated\n'
