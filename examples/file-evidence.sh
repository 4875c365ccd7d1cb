#!/usr/bin/env bash
# File evidence (medical data provenance): a clinical report file is tied to the ledger. A
# `report` reading names the file in "payload_file" and the readings it was derived from in
# "derived_from"; ingest hashes the file and the record commits to its SHA-256 as
# "file_sha256" (the file itself stays off the ledger). Later, `verify --file PATH --record ID`
# checks a copy of the file against that digest: exit 0 for the original, exit 1 with a
# file_mismatch finding once a single character of the file changes.
# Run: bash examples/file-evidence.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-file-evidence.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "file-evidence: $*" >&2; exit 1; }

step "a ledger with a gateway and 3 devices; 5 minutes of readings"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/cardio > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 3 --minutes 5 --seed 5 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 3 --minutes 5 --seed 5 | "$mt" ingest --db ward.db --key keys/gw-1.key > receipts.ndjson 2> /dev/null
hr=$(jq -r 'select(.type == "heart_rate") | .id' receipts.ndjson | head -1)
spo2=$(jq -r 'select(.type == "spo2") | .id' receipts.ndjson | head -1)
[ -n "$hr" ] && [ -n "$spo2" ] || die "no heart_rate or spo2 receipt"
echo "the report will be derived from heart_rate ${hr:0:16}… and spo2 ${spo2:0:16}…"

step "the clinician's report file, and a report reading that names it"
mkdir reports
printf 'Cardiology note, patient-0001\nResting heart rate and SpO2 within normal limits.\n' > reports/note-0001.txt
sha256sum reports/note-0001.txt
# payload_file is read by ingest, relative to its working directory. derived_from takes full
# ids or unique prefixes of at least 8 hex digits.
printf '{"device":"wb-0001","time":"2026-03-01T09:00:00Z","type":"report","title":"cardiology note","subject":"patient-0001","derived_from":["%s","%s"],"payload_file":"reports/note-0001.txt"}\n' \
  "${hr:0:8}" "$spo2" > report.ndjson
"$mt" ingest --db ward.db --key keys/gw-1.key report.ndjson > report-receipt.ndjson
report=$(jq -r .id report-receipt.ndjson)
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null

step "the record commits to the file's SHA-256 and links to full record ids"
"$mt" show --db ward.db "${report:0:8}" --key keys/hospital.key --format json | tee show.json | jq -c '.record | {kind, type, file_sha256, derived_from}'
[ "$(jq -r .record.file_sha256 show.json)" = "$(sha256sum < reports/note-0001.txt | cut -d' ' -f1)" ] ||
  die "file_sha256 is not the file's SHA-256"
jq -e --arg hr "$hr" --arg spo2 "$spo2" '.record.derived_from == [$hr, $spo2]' show.json > /dev/null ||
  die "derived_from was not resolved to the full ids"

step "verify --file: a copy of the original file matches its record"
mkdir received && cp reports/note-0001.txt received/
"$mt" verify --db ward.db --file received/note-0001.txt --record "${report:0:8}" --trust keys/hospital.pub ||
  die "the original file did not verify"
# verify --file compares the file with the record's digest; that the record itself is in the
# log signed by the authority is checked by verifying the record's inclusion.
"$mt" verify --db ward.db "${report:0:8}" --trust keys/hospital.pub || die "the report record is not in the signed log"

step "change one character of the copy: verify --file exits 1 with file_mismatch"
sed -i 's/SpO2/SpO3/' received/note-0001.txt
set +e
"$mt" verify --db ward.db --file received/note-0001.txt --record "${report:0:8}" --trust keys/hospital.pub > findings.ndjson
status=$?
set -e
cat findings.ndjson
[ "$status" -eq 1 ] || die "verify --file exited $status for an altered file, expected 1"
jq -e -s --arg id "$report" 'any(.[]; .finding == "file_mismatch" and .record == $id)' findings.ndjson > /dev/null ||
  die "no file_mismatch finding for record $report"

printf '\nfile-evidence: every step behaved as stated\n'
