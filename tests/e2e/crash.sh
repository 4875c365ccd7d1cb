#!/usr/bin/env bash
# kill -9 at random moments: ingest of 100,000 readings (20 times), then anchor (20 times).
# After each kill the ledger verifies, and every receipt printed before the kill is in it.
source "$(dirname "$0")/lib.sh"
# The sanitized pass of scripts/test.sh runs a documented fast subset: 4 rounds each, not 20.
if [ "${MEDTRAIL_SANITIZED:-0}" = 1 ]; then ROUNDS=${MEDTRAIL_CRASH_ROUNDS:-4}; else ROUNDS=${MEDTRAIL_CRASH_ROUNDS:-20}; fi

setup_ledger 200 || { fail "setup"; finish; exit 1; }
mt simulate --devices 200 --minutes 200 --seed 5 | head -n 100000 > readings.ndjson
check "100,000 readings to ingest" test "$(wc -l < readings.ndjson)" -eq 100000

ledger_ids() { sqlite3 ward.db "SELECT lower(hex(id)) FROM leaves" | sort; }
# Complete receipt lines only: a kill may cut the last one short.
receipt_ids() { grep -h '}$' "$@" 2>/dev/null | jq -r 'select(.status=="pending") | .id' | sort -u; }

for round in $(seq 1 "$ROUNDS"); do
  # Replaying the same file after a crash is safe: committed readings come back as duplicates.
  # The binary itself in the background (not the mt function), so that kill -9 hits medtrail, not a subshell.
  "$MEDTRAIL" ingest --db ward.db --key keys/gw-1.key --chunk 2000 readings.ndjson > "receipts-$round.ndjson" 2> /dev/null &
  pid=$!
  sleep "0.$(( RANDOM % 90 + 5 ))"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  mt verify --db ward.db --trust keys/hospital.pub > verify.txt 2>&1
  check "round $round: verify exits 0 after kill -9 of ingest" test $? -eq 0
  missing=$(comm -23 <(receipt_ids "receipts-$round.ndjson") <(ledger_ids) | wc -l)
  check "round $round: all $(receipt_ids "receipts-$round.ndjson" | wc -l) receipts are in the ledger ($missing missing)" test "$missing" -eq 0
  if [ "$missing" -ne 0 ]; then
    comm -23 <(receipt_ids "receipts-$round.ndjson") <(ledger_ids) | head -3 >&2
    sqlite3 ward.db "SELECT count(*), max(idx) FROM leaves" >&2
    tail -c 400 "receipts-$round.ndjson" >&2
  fi
done

# Finish the file: every reading lands exactly once however many times it was replayed.
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key readings.ndjson
readings=$(sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 1")
check "each reading exactly once after $ROUNDS crashed replays ($readings)" test "$readings" -eq 100000
# Those replays were found through the replay-tag runs' filters (lib/hash_runs.hpp): 100,000
# tags fill three runs, whose filters must hold every tag. One cleared filter segment is found
# by verify, since ingest would then take replays of the readings under it as new.
filtered=$(sqlite3 ward.db "SELECT count(*) FROM hash_runs WHERE tbl = 'replay_tags' AND filtered = 1")
check "replays were looked up through filtered runs ($filtered)" test "$filtered" -ge 1
tamper replay-filter replay_filter "UPDATE hash_run_filters SET bits = zeroblob(4096) WHERE segment = 2"
check "replay_filter names the run and a record" grep -q 'tag [0-9a-f]\{24\} of record [0-9]* (run [0-9]*)' out.txt
# Merged runs are stored as packed blocks (schema 17). A block cut short loses keys; two blocks
# of a run with their packed entries swapped hold the same keys, out of place, where lookups
# would not find them. verify reports both.
packed=$(sqlite3 ward.db "SELECT count(*) FROM record_ids WHERE more IS NOT NULL")
check "merged runs are packed in blocks ($packed)" test "$packed" -ge 100
tamper packed-cut replay_index "UPDATE replay_tags SET more = substr(more, 1, length(more) - 3)
  WHERE tag = (SELECT tag FROM replay_tags WHERE more IS NOT NULL ORDER BY gen, tag LIMIT 1 OFFSET 7)"
tamper packed-swapped id_index "CREATE TEMP TABLE two AS SELECT gen, id, more FROM record_ids WHERE more IS NOT NULL ORDER BY gen, id LIMIT 2 OFFSET 10;
  UPDATE record_ids SET more = (SELECT more FROM two WHERE two.gen = record_ids.gen AND two.id <> record_ids.id)
  WHERE (gen, id) IN (SELECT gen, id FROM two);"
check "swapped blocks are reported as misplaced, not as missing keys" grep -q 'misplaced' out.txt

for round in $(seq 1 "$ROUNDS"); do
  mt simulate --devices 200 --minutes 5 --seed $((100 + round)) | mt ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
  before=$(sqlite3 ward.db "SELECT count(*) FROM blocks")
  "$MEDTRAIL" anchor --db ward.db --key keys/hospital.key --checkpoint-out "cp-$round.txt" > /dev/null 2>&1 &
  pid=$!
  sleep "0.0$(( RANDOM % 9 ))"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  after=$(sqlite3 ward.db "SELECT count(*) FROM blocks")
  mt verify --db ward.db --trust keys/hospital.pub > verify.txt 2>&1
  check "round $round: verify exits 0 after kill -9 of anchor" test $? -eq 0
  check "round $round: at most one new block ($before -> $after)" test "$after" -le $((before + 1))
  if [ -s "cp-$round.txt" ]; then
    mt verify --db ward.db --checkpoint "cp-$round.txt" --trust keys/hospital.pub > /dev/null 2>&1
    check "round $round: a checkpoint written before the kill is in the ledger" test $? -eq 0
  fi
done
finish
