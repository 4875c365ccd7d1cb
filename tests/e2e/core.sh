#!/usr/bin/env bash
# The issue's end-to-end flow: keygen, init, enroll, simulate | ingest, anchor, verify, prove,
# offline receipts, consistency with an old checkpoint, show, log, checkpoint.
source "$(dirname "$0")/lib.sh"

expect_exit 0 mt keygen --name hospital --role authority --out keys/
check "keygen prints the key id and vkey" jq -e '.key_id and (.vkey | startswith("hospital+")) and .data_key_file' out.txt
check "private key is 0600" test "$(stat -c %a keys/hospital.key)" = 600
check "data key is 0600" test "$(stat -c %a keys/hospital.datakey)" = 600
expect_exit 0 mt keygen --name gw-1 --role gateway --out keys/
expect_exit 2 mt keygen --name gw-1 --role gateway --out keys/          # refuses to overwrite
expect_exit 0 mt init --db ward3.db --authority keys/hospital.key --origin hospital-a.example/ward3
check "genesis block is height 0" jq -e '.genesis.header.height == 0 and .genesis.header.tree_size == 1' out.txt
expect_exit 2 mt init --db ward3.db --authority keys/hospital.key --origin hospital-a.example/ward3   # refuses existing
expect_exit 0 mt enroll --db ward3.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub
expect_exit 2 mt enroll --db ward3.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub  # twice
mt simulate --devices 50 --minutes 60 --seed 7 --list-devices > devices.ndjson
expect_exit 0 mt enroll --db ward3.db --key keys/hospital.key --from devices.ndjson
check "every device enrolled" test "$(wc -l < out.txt)" -eq "$(wc -l < devices.ndjson)"

mt simulate --devices 50 --minutes 60 --seed 7 > readings.ndjson
check "simulate is deterministic" cmp -s readings.ndjson <(mt simulate --devices 50 --minutes 60 --seed 7)
expect_exit 0 mt ingest --db ward3.db --key keys/gw-1.key readings.ndjson
cp out.txt receipts.ndjson
check "one receipt per reading" test "$(wc -l < receipts.ndjson)" -eq "$(wc -l < readings.ndjson)"
check "receipts are pending" jq -e -s 'all(.status == "pending")' receipts.ndjson

expect_exit 0 mt anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-1.txt
check "block 1 seals everything" jq -e '.header.height == 1 and .header.count > 0' out.txt
check "checkpoint note has origin, size, root, signature" \
  bash -c "sed -n 1p cp-1.txt | grep -qx hospital-a.example/ward3 && sed -n 2p cp-1.txt | grep -Eq '^[0-9]+$' && grep -q '^— hospital ' cp-1.txt"
expect_exit 0 mt anchor --db ward3.db --key keys/hospital.key   # nothing pending: no block, exit 0
check "no block when nothing pending" test ! -s out.txt
expect_exit 2 mt anchor --db ward3.db --key keys/gw-1.key --allow-empty   # a gateway cannot anchor

expect_exit 0 mt verify --db ward3.db --trust keys/hospital.pub
check "verify summary" jq -e 'select(.status) | .status == "verified" and .authority == "pinned" and .pending == 0' out.txt
expect_exit 0 mt verify --db ward3.db
check "unpinned is said" grep -q unpinned err.txt

id=$(sed -n 5p receipts.ndjson | jq -r .id)
expect_exit 0 mt prove --db ward3.db "${id:0:8}"
cp out.txt receipt.json
check "receipt fields" jq -e '.record and .leaf_hash and .tree_size and (.inclusion|type=="array") and .checkpoint and .block.header' receipt.json
check "receipt names the record" jq -e --arg id "$id" '.leaf_hash == $id' receipt.json
expect_exit 0 mt verify --receipt receipt.json --trust keys/hospital.pub
corrupt_hash '.inclusion[0]' receipt.json bad-receipt.json
expect_exit 1 mt verify --receipt bad-receipt.json --trust keys/hospital.pub
jq '.record.device = "wb-9999"' receipt.json > bad-receipt2.json
expect_exit 1 mt verify --receipt bad-receipt2.json --trust keys/hospital.pub
expect_exit 1 mt verify --receipt receipt.json --trust keys/gw-1.pub            # wrong pinned key
# Indexes that are not non-negative integers (found by fuzz_receipt: 5e23 was undefined behaviour).
for bad in 5.3e23 -3 1.5 '"7"'; do
  jq ".leaf_index = $bad" receipt.json > bad-index.json
  expect_exit 2 mt verify --receipt bad-index.json --trust keys/hospital.pub
  check "leaf_index $bad is refused by name" grep -q '"leaf_index" must be a non-negative integer\|not a medtrail receipt' err.txt
done
echo '{"not": "a receipt"}' > junk.json
expect_exit 2 mt verify --receipt junk.json
expect_exit 4 mt verify --receipt missing.json

expect_exit 0 mt verify --db ward3.db "$id" "$(sed -n 9p receipts.ndjson | jq -r .id | cut -c1-12)"
check "verify ID says verified" jq -e -s '[.[] | select(.id)] | length == 2 and all(.status == "verified")' out.txt
expect_exit 4 mt verify --db ward3.db 0123456789abcdef
expect_exit 2 mt verify --db ward3.db 12ab                   # too short a prefix
expect_exit 4 mt prove --db ward3.db ffffffffffffffff

mt simulate --devices 50 --minutes 10 --seed 9 | mt ingest --db ward3.db --key keys/gw-1.key > receipts2.ndjson
new_id=$(head -1 receipts2.ndjson | jq -r .id)
expect_exit 4 mt prove --db ward3.db "$new_id"                 # pending: no proof yet
expect_exit 1 mt verify --db ward3.db "$new_id"                # pending: not verified
expect_exit 0 mt anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-2.txt
expect_exit 0 mt verify --db ward3.db --checkpoint cp-1.txt --trust keys/hospital.pub
expect_exit 0 mt verify --db ward3.db --checkpoint cp-2.txt --trust keys/hospital.pub
expect_exit 0 mt checkpoint --db ward3.db
check "checkpoint is the latest" cmp -s out.txt cp-2.txt
expect_exit 2 mt verify --db ward3.db --checkpoint receipt.json   # not a note
expect_exit 4 mt verify --db ward3.db --checkpoint nope.txt

expect_exit 0 mt show --db ward3.db "${id:0:10}" --format json
check "show without a key: the reading is encrypted" jq -e '.payload == "encrypted" and (has("reading") | not) and .block == 1 and .status == "anchored"' out.txt
expect_exit 0 mt show --db ward3.db "${id:0:10}" --format json --key keys/hospital.key
check "the data owner reads it, and the read is recorded" jq -e '.reading.device and .payload == "decrypted" and (.access_record | length) == 64' out.txt
check "show holds no clear subject in the record" jq -e '.record.subject == null or (.record.subject | test("^[0-9a-f]{64}$"))' out.txt
expect_exit 0 mt show --db ward3.db "${id:0:10}" --format text
check "text show" grep -q '^record' out.txt
expect_exit 0 mt log --db ward3.db --format json
check "log lists 3 blocks" test "$(jq -s 'map(select(.kind=="block")) | length' out.txt)" -eq 3
expect_exit 0 mt log --db ward3.db --records --since-height 2
check "log --records" jq -e -s 'map(select(.kind=="reading")) | length > 0' out.txt

# A retired device can no longer report.
expect_exit 0 mt retire --db ward3.db --key keys/hospital.key wb-0001 --reason "band lost"
mt simulate --devices 1 --minutes 2 --seed 3 | jq -c '.time |= sub("2026-03-01"; "2026-03-02")' > late.ndjson
expect_exit 3 mt ingest --db ward3.db --key keys/gw-1.key late.ndjson
check "retired device rejected" grep -q retired err.txt
expect_exit 4 mt retire --db ward3.db --key keys/hospital.key nobody
expect_exit 0 mt anchor --db ward3.db --key keys/hospital.key
expect_exit 0 mt verify --db ward3.db --trust keys/hospital.pub

# Report files: the record commits to the file's digest.
mkdir reports && echo "ECG report for patient-0001" > reports/ecg.txt
r1=$(sed -n 1p receipts.ndjson | jq -r .id); r2=$(sed -n 2p receipts.ndjson | jq -r .id)
printf '{"device":"wb-0002","time":"2026-03-01T09:00:00Z","type":"report","derived_from":["%s","%s"],"payload_file":"reports/ecg.txt"}\n' "${r1:0:8}" "$r2" > report.ndjson
expect_exit 0 mt ingest --db ward3.db --key keys/gw-1.key report.ndjson
rid=$(jq -r .id out.txt)
expect_exit 0 mt verify --db ward3.db --file reports/ecg.txt --record "$rid"
echo "edited" >> reports/ecg.txt
expect_exit 1 mt verify --db ward3.db --file reports/ecg.txt --record "$rid"
check "file mismatch named" grep -q file_mismatch out.txt
expect_exit 0 mt show --db ward3.db "$rid" --format json
check "derivation links resolved to full ids" jq -e --arg r1 "$r1" '.record.derived_from[0] == $r1' out.txt
printf '{"device":"wb-0002","time":"2026-03-01T09:00:00Z","type":"report","derived_from":["0000000000000000"]}\n' > dangling.ndjson
expect_exit 3 mt ingest --db ward3.db --key keys/gw-1.key dangling.ndjson
check "unknown derived_from rejected" grep -q derived_from err.txt

# Missing ledger, bad usage.
expect_exit 4 mt verify --db nowhere.db
expect_exit 2 mt frobnicate
expect_exit 2 mt ingest --db ward3.db --chunk 0
expect_exit 0 mt --help
expect_exit 0 mt verify --help
check "help has examples" grep -q Examples out.txt
expect_exit 0 mt --version
finish
