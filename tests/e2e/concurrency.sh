#!/usr/bin/env bash
# Two ingests and an anchor at once on one ledger: every reading lands exactly once.
source "$(dirname "$0")/lib.sh"

setup_ledger 100 || { fail "setup"; finish; exit 1; }
mt simulate --devices 100 --minutes 60 --seed 11 > a.ndjson
mt simulate --devices 100 --minutes 60 --seed 12 > b.ndjson
# Identical lines in both files are one reading (a replay), so count distinct lines.
total=$(sort -u a.ndjson b.ndjson | wc -l)

mt ingest --db ward.db --key keys/gw-1.key --chunk 500 --busy-timeout 60000 a.ndjson > ra.ndjson 2> ea.txt &
p1=$!
mt ingest --db ward.db --key keys/gw-1.key --chunk 500 --busy-timeout 60000 b.ndjson > rb.ndjson 2> eb.txt &
p2=$!
# The same file twice at once: the replay tag makes one of each pair a duplicate.
mt ingest --db ward.db --key keys/gw-1.key --chunk 700 --busy-timeout 60000 a.ndjson > ra2.ndjson 2> ea2.txt &
p3=$!
anchors=0
while kill -0 $p1 2> /dev/null || kill -0 $p2 2> /dev/null || kill -0 $p3 2> /dev/null; do
  mt anchor --db ward.db --key keys/hospital.key --busy-timeout 60000 > /dev/null 2>&1 && anchors=$((anchors + 1))
done
wait $p1; check "ingest a exits 0" test $? -eq 0
wait $p2; check "ingest b exits 0" test $? -eq 0
wait $p3; check "ingest a again exits 0" test $? -eq 0
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key --busy-timeout 60000
readings=$(sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 1")
check "every reading exactly once ($readings of $total)" test "$readings" -eq "$total"
distinct=$(sqlite3 ward.db "SELECT count(DISTINCT replay_tag) FROM payloads")
check "no reading twice" test "$distinct" -eq "$total"
# A line of a.ndjson that also occurs in b.ndjson may be committed by b's ingest first, so
# count commits over all three ingests, and receipts of a's lines over both of a's ingests.
pending_all=$(jq -s 'map(select(.status=="pending")) | length' ra.ndjson rb.ndjson ra2.ndjson)
check "the three ingests committed every distinct line once ($pending_all of $total)" test "$pending_all" -eq "$total"
ids_a=$(jq -r '.id' ra.ndjson ra2.ndjson | sort -u | wc -l)
check "every line of a.ndjson has one id in both ingests' receipts" test "$ids_a" -eq "$(sort -u a.ndjson | wc -l)"
both_a=$(jq -r '.line' ra.ndjson | wc -l)
check "each ingest of a.ndjson gave a receipt for every line" test "$both_a" -eq "$(wc -l < a.ndjson)" -a "$(wc -l < ra2.ndjson)" -eq "$(wc -l < a.ndjson)"
check "several blocks were made meanwhile ($anchors)" test "$anchors" -ge 1
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

# A writer holding the lock past the busy timeout: exit 5, ledger unchanged.
before=$(mt checkpoint --db ward.db)
mt simulate --devices 100 --minutes 1 --seed 99 > c.ndjson
# The locker holds the write lock until told to let go, however slow this machine (or ASan) is.
( sqlite3 ward.db "BEGIN IMMEDIATE; SELECT 1;" ".shell touch locked.flag" \
    ".shell while [ ! -e release.flag ]; do sleep 0.1; done" "COMMIT;" > /dev/null ) &
locker=$!
for _ in $(seq 1 600); do [ -e locked.flag ] && break; sleep 0.1; done
expect_exit 5 mt ingest --db ward.db --key keys/gw-1.key --busy-timeout 200 c.ndjson
check "locked is explained" grep -q locked err.txt
touch release.flag
wait $locker
check "ledger unchanged after the lock failure" test "$(mt checkpoint --db ward.db)" = "$before"
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub
finish
