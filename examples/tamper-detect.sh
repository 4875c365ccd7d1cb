#!/usr/bin/env bash
# Tamper detection: whoever can write the SQLite file can change a stored reading, but not
# without verify noticing. Builds a small anchored ledger, alters the stored (encrypted) body
# temperature of one reading with sqlite3 (as an attacker with file access would), and shows
# that `verify` exits 1 with a finding that names the altered record, without any decryption
# key; the untouched ledger still verifies.
# Run: bash examples/tamper-detect.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-tamper-detect.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "tamper-detect: $*" >&2; exit 1; }

step "a small ledger: authority, gateway, 5 devices, 10 minutes of readings, one block"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward1 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 5 --minutes 10 --seed 3 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 5 --minutes 10 --seed 3 | "$mt" ingest --db ward.db --key keys/gw-1.key > receipts.ndjson 2> /dev/null
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
"$mt" verify --db ward.db --trust keys/hospital.pub || die "the fresh ledger should verify"

step "pick one body temperature reading"
target=$(jq -r 'select(.type == "body_temperature") | .id' receipts.ndjson | head -1)
[ -n "$target" ] || die "no body_temperature receipt"
"$mt" show --db ward.db "${target:0:8}" --key keys/hospital.key --format json | jq -c '{id, index, reading}'

step "tamper: the value is stored encrypted, so flip one byte of its ciphertext with sqlite3, in a copy"
cp ward.db tampered.db
sqlite3 tampered.db "UPDATE payloads
  SET ciphertext = substr(ciphertext, 1, 20) || CASE substr(ciphertext, 21, 1) WHEN X'5a' THEN X'a5' ELSE X'5a' END || substr(ciphertext, 22)
  WHERE idx = (SELECT idx FROM leaves WHERE lower(hex(id)) = '$target')"

step "verify the tampered copy: exit 1, and the finding names the record"
set +e
"$mt" verify --db tampered.db --trust keys/hospital.pub > findings.ndjson
status=$?
set -e
cat findings.ndjson
[ "$status" -eq 1 ] || die "verify exited $status on a tampered ledger, expected 1"
jq -e -s --arg id "$target" 'any(.[]; .finding and .record == $id)' findings.ndjson > /dev/null ||
  die "no finding names record $target"
echo "detected: $(jq -r -s --arg id "$target" '.[] | select(.record == $id) | "\(.finding) on record \(.record[0:16])… at index \(.index)"' findings.ndjson)"

step "checking just that record (O(log n), no full scan) fails too"
set +e
"$mt" verify --db tampered.db --trust keys/hospital.pub "${target:0:8}" > record.ndjson
status=$?
set -e
cat record.ndjson
[ "$status" -eq 1 ] || die "verify ID exited $status on the tampered record, expected 1"

step "the untouched original still verifies"
"$mt" verify --db ward.db --trust keys/hospital.pub || die "the original ledger should verify"

printf '\ntamper-detect: every step behaved as stated\n'
