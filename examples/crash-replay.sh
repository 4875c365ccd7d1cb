#!/usr/bin/env bash
# Crash and replay: an ingest killed with kill -9 halfway through its input loses nothing it
# acknowledged, and re-running the same ingest is safe. The gateway's feed delivers the first
# 1000 of about 2000 readings and stalls; once their receipts are out, the ingest is killed
# with SIGKILL (no cleanup, no flush). The whole file is then ingested again: the readings that already
# had receipts are reported as duplicates (same record ids), the rest are committed, every
# reading is in the ledger exactly once, and verify exits 0.
# Run: bash examples/crash-replay.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-crash-replay.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null; rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "crash-replay: $*" >&2; exit 1; }
# kind_code 1 is a reading (the codes are in docs/FORMATS.md, "The SQLite file").
count_readings() { sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 1"; }

step "a ledger with a gateway and 20 devices; 30 minutes of their readings in readings.ndjson"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/icu > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 20 --minutes 30 --seed 11 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 20 --minutes 30 --seed 11 > readings.ndjson
total=$(wc -l < readings.ndjson)
first=1000
echo "readings: $total; the first $first arrive, then the gateway's feed stalls"

step "ingest the feed; kill -9 the ingest once the first $first readings are acknowledged"
# The feed is a FIFO that this script writes to: the first $first lines, then nothing (the
# producer stays connected). Ingest commits in chunks of 100 and prints a chunk's receipts only
# after the chunk is committed.
mkfifo feed
"$mt" ingest --db ward.db --key keys/gw-1.key --chunk 100 < feed > receipts-1.ndjson 2> /dev/null &
pid=$!
exec 3> feed
head -n "$first" readings.ndjson >&3
for _ in $(seq 1 300); do
  [ "$(wc -l < receipts-1.ndjson)" -ge "$first" ] && break
  sleep 0.1
done
kill -9 "$pid"
if wait "$pid" 2> /dev/null; then die "the ingest was not killed"; fi
pid=""
exec 3>&-
acknowledged=$(grep -c '}$' receipts-1.ndjson || true)
echo "killed; receipts printed before the kill: $acknowledged; readings in the ledger: $(count_readings)"
[ "$acknowledged" -eq "$first" ] || die "expected $first receipts before the kill, got $acknowledged"

step "the crashed ledger verifies, and every receipt printed before the kill is in it"
"$mt" verify --db ward.db --trust keys/hospital.pub > /dev/null || die "the ledger does not verify after kill -9"
missing=$(comm -23 <(jq -r .id receipts-1.ndjson | sort) <(sqlite3 ward.db "SELECT lower(hex(id)) FROM leaves" | sort) | wc -l)
[ "$missing" -eq 0 ] || die "$missing acknowledged records are missing from the ledger"
echo "all $acknowledged acknowledged records are present"

step "re-run the same ingest over the whole file"
"$mt" ingest --db ward.db --key keys/gw-1.key --chunk 100 readings.ndjson > receipts-2.ndjson 2> summary.txt
cat summary.txt
duplicates=$(jq -s 'map(select(.status == "duplicate")) | length' receipts-2.ndjson)
accepted=$(jq -s 'map(select(.status == "pending")) | length' receipts-2.ndjson)
echo "duplicates: $duplicates, newly committed: $accepted"
[ "$duplicates" -eq "$acknowledged" ] || die "expected $acknowledged duplicates, got $duplicates"
[ $((duplicates + accepted)) -eq "$total" ] || die "duplicates + committed ($duplicates + $accepted) is not $total"
# The duplicates are exactly the first run's receipts, under the same record ids.
cmp -s <(jq -r .id receipts-1.ndjson | sort) <(jq -r 'select(.status == "duplicate") | .id' receipts-2.ndjson | sort) ||
  die "the duplicates are not the records acknowledged before the kill"
[ "$(count_readings)" -eq "$total" ] || die "expected $total readings in the ledger, found $(count_readings)"
echo "every one of the $total readings is in the ledger exactly once"

step "anchor and verify"
"$mt" anchor --db ward.db --key keys/hospital.key | jq -c '.header | {height, count, tree_size}'
"$mt" verify --db ward.db --trust keys/hospital.pub || die "verify failed"

printf '\ncrash-replay: every step behaved as stated\n'
