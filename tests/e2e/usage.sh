#!/usr/bin/env bash
# Mistakes a user can make with the right tools: wrong kind of key for a job, arguments that
# would be silently ignored, half-available inputs, unwritable outputs. Each is refused with a
# clear message and the documented exit status, and the ledger is left as it was.
source "$(dirname "$0")/lib.sh"

setup_ledger 3 || { fail "setup"; finish; exit 1; }
leaves() { sqlite3 ward.db "SELECT count(*) FROM leaves"; }

expect_exit 0 mt keygen --name x1 --role device --out keys2/
check "keygen paths have no doubled slash" jq -e '.private_key_file == "keys2/x1.key" and .public_key_file == "keys2/x1.pub"' out.txt

# init: only an authority key can create a ledger.
expect_exit 2 mt init --db other.db --authority keys/gw-1.key --origin t.example/other
check "init names the key's role" grep -q 'gateway key' err.txt
check "no ledger file left behind" test ! -e other.db

# enroll: options that --from would ignore, and a public key made for another role.
mt keygen --name clin-1 --role clinician --out keys/ > /dev/null
expect_exit 2 mt enroll --db ward.db --key keys/hospital.key --from - --kind thermometer <<< '{"name":"t1","role":"device"}'
expect_exit 2 mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-2 keys/clin-1.pub
check "role mismatch explained" grep -q 'made for the role clinician' err.txt

# A retired key can no longer sign anything: a usage error, not a verification failure.
mt keygen --name hospital-2 --role authority --out keys/ > /dev/null
expect_exit 0 mt enroll --db ward.db --key keys/hospital.key --role authority --name hospital-2 keys/hospital-2.pub
expect_exit 0 mt retire --db ward.db --key keys/hospital-2.key gw-1 --reason "replaced"
expect_exit 2 mt ingest --db ward.db --key keys/gw-1.key <<< "$(mt simulate --devices 3 --minutes 1 --seed 2 | head -1)"
check "retired gateway explained" grep -q 'retired' err.txt

# ingest: a missing second input is found before anything is committed.
mt keygen --name gw-3 --role gateway --out keys/ > /dev/null
expect_exit 0 mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-3 keys/gw-3.pub
mt simulate --devices 3 --minutes 2 --seed 3 > a.ndjson
before=$(leaves)
expect_exit 4 mt ingest --db ward.db --key keys/gw-3.key --data-key keys/hospital.datakey a.ndjson missing.ndjson
check "nothing ingested when an input is missing" test "$(leaves)" -eq "$before"
check "missing input named" grep -q 'missing.ndjson' err.txt
expect_exit 0 mt ingest --db ward.db --key keys/gw-3.key --data-key keys/hospital.datakey a.ndjson
check "receipts name their source file" jq -e -s 'all(.source == "a.ndjson")' out.txt

# anchor: a checkpoint file that cannot be written does not hide the block that was sealed.
mkdir ro && chmod 500 ro
if [ "$(id -u)" -ne 0 ]; then
  expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --checkpoint-out ro/cp.txt
else
  expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --checkpoint-out no-such-dir/cp.txt
fi
check "the sealed block is still printed" jq -e '.header.height >= 1 and .checkpoint' out.txt
check "the error says the block was sealed" grep -q 'was sealed' err.txt
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

# verify: one mode at a time, never an argument silently ignored.
mt checkpoint --db ward.db > cp.txt
expect_exit 2 mt verify --db ward.db --checkpoint cp.txt 0123456789
expect_exit 2 mt verify --db ward.db --checkpoint cp.txt --file a.ndjson --record 01234567

# Negative numbers are refused, not wrapped around.
expect_exit 2 mt log --db ward.db --since-height -1
expect_exit 2 mt anchor --db ward.db --key keys/hospital.key --max -5
expect_exit 2 mt simulate --seed -1
finish
