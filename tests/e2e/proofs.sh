#!/usr/bin/env bash
# prove --format tlog-proof and prove --consistency-from, and their offline checks by verify:
# good proofs pass, every corrupted part is named, bad input gets its exit status.
source "$(dirname "$0")/lib.sh"

setup_ledger 3 || { fail "setup"; finish; exit 1; }
mt simulate --devices 3 --minutes 2 --seed 1 | mt ingest --db ward.db --key keys/gw-1.key > receipts.ndjson
mt anchor --db ward.db --key keys/hospital.key --checkpoint-out cp-1.txt > /dev/null
id=$(sed -n 5p receipts.ndjson | jq -r .id)
mt keygen --name intruder --role authority --out other/ > /dev/null

# --- tlog-proof receipts ---
expect_exit 0 mt prove --db ward.db "${id:0:8}" --format tlog-proof
cp out.txt r.tlog-proof
check "tlog-proof starts with its header line" test "$(head -1 r.tlog-proof)" = "c2sp.org/tlog-proof@v1"
check "second line carries the record as extra" grep -q '^extra ' <(sed -n 2p r.tlog-proof)
check "third line is the index" grep -qE '^index [0-9]+$' <(sed -n 3p r.tlog-proof)
# The extra data is the leaf data: SHA-256(0x00 || extra) is the record id.
leaf=$( (printf '\0'; sed -n 2p r.tlog-proof | cut -c7- | base64 -d) | sha256sum | cut -d' ' -f1)
check "SHA-256(0x00 || extra) is the record id" test "$leaf" = "$id"
index=$(sed -n 3p r.tlog-proof | cut -d' ' -f2)
mt prove --db ward.db "$id" > r.json
check "index matches the JSON receipt" test "$index" = "$(jq .leaf_index r.json)"
check "proof lines are the JSON receipt's inclusion hashes" test \
  "$(awk 'NR>3 && /^$/ {exit} NR>3' r.tlog-proof | while read -r h; do echo "$h" | base64 -d | od -An -tx1 | tr -d ' \n'; echo; done)" = \
  "$(jq -r '.inclusion[]' r.json)"
check "the checkpoint follows the empty line verbatim" test \
  "$(awk 'f; /^$/ && !f {f=1}' r.tlog-proof | head -3)" = "$(jq -r .checkpoint r.json | head -3)"

expect_exit 0 mt verify --receipt r.tlog-proof --trust keys/hospital.pub --format json
check "tlog-proof verifies, naming the record" jq -e --arg id "$id" 'select(.status) | .status == "verified" and .record == $id and .form == "tlog-proof"' out.txt
expect_exit 2 mt verify --receipt r.tlog-proof
check "a tlog-proof without --trust asks for it" grep -q -- "--trust" err.txt
expect_exit 1 mt verify --receipt r.tlog-proof --trust other/intruder.pub --format json
check "another authority's key: checkpoint_signature" grep -q '"finding":"checkpoint_signature"' out.txt

# Corruptions: one inclusion hash, the record, the index, the checkpoint's root.
awk 'NR==4 {print "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; next} {print}' r.tlog-proof > bad-hash.tlog-proof
expect_exit 1 mt verify --receipt bad-hash.tlog-proof --trust keys/hospital.pub --format json
check "a changed proof hash: inclusion" grep -q '"finding":"inclusion"' out.txt
other_record=$(jq -c '.record | .time = "2026-01-01T00:00:00.000Z"' r.json | jq -cS . | tr -d '\n' | base64 -w0)
awk -v e="extra $other_record" 'NR==2 {print e; next} {print}' r.tlog-proof > bad-record.tlog-proof
expect_exit 1 mt verify --receipt bad-record.tlog-proof --trust keys/hospital.pub --format json
check "a changed record: inclusion" grep -q '"finding":"inclusion"' out.txt
awk -v i="index $((index + 1))" 'NR==3 {print i; next} {print}' r.tlog-proof > bad-index.tlog-proof
expect_exit 1 mt verify --receipt bad-index.tlog-proof --trust keys/hospital.pub --format json
check "a changed index: inclusion" grep -q '"finding":"inclusion"' out.txt
sed 's/^\(test.example\/ward\)$/\1x/' r.tlog-proof > bad-origin.tlog-proof
expect_exit 1 mt verify --receipt bad-origin.tlog-proof --trust keys/hospital.pub --format json
check "a changed checkpoint body: checkpoint_signature" grep -q '"finding":"checkpoint_signature"' out.txt

# Malformed tlog-proofs are usage errors (2), with the reason.
printf 'c2sp.org/tlog-proof@v1\nindex 01\n\n' > bad-syntax.tlog-proof
expect_exit 2 mt verify --receipt bad-syntax.tlog-proof --trust keys/hospital.pub
check "leading zero in the index is named" grep -q "leading zeroes" err.txt
grep -v '^extra ' r.tlog-proof > no-extra.tlog-proof
expect_exit 2 mt verify --receipt no-extra.tlog-proof --trust keys/hospital.pub
check "a proof without the record is refused" grep -q "no extra line" err.txt
head -4 r.tlog-proof > truncated.tlog-proof
expect_exit 2 mt verify --receipt truncated.tlog-proof --trust keys/hospital.pub
awk 'NR==4 {print "not base64!"; next} {print}' r.tlog-proof > bad-line.tlog-proof
expect_exit 2 mt verify --receipt bad-line.tlog-proof --trust keys/hospital.pub
check "a bad proof line is named" grep -q "inclusion proof line 1" err.txt
expect_exit 2 mt prove --db ward.db "$id" --format yaml
expect_exit 4 mt prove --db ward.db ffffffffffff --format tlog-proof
# The JSON receipt is still the default, and still verifies.
expect_exit 0 mt verify --receipt r.json --trust keys/hospital.pub

# --- consistency proofs ---
mt simulate --devices 3 --minutes 2 --seed 2 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null
mt anchor --db ward.db --key keys/hospital.key --checkpoint-out cp-2.txt > /dev/null
expect_exit 0 mt prove --db ward.db --consistency-from cp-1.txt
cp out.txt grew.json
old_size=$(sed -n 2p cp-1.txt)
new_size=$(sed -n 2p cp-2.txt)
check "consistency proof: sizes, format, hex hashes, current checkpoint" jq -e --argjson o "$old_size" --argjson n "$new_size" --rawfile cp cp-2.txt --rawfile old cp-1.txt \
  '.format == "medtrail-consistency-v1" and .old_size == $o and .new_size == $n and .checkpoint == $cp and .old_checkpoint == $old
   and (.consistency | length > 0 and all(test("^[0-9a-f]{64}$")))' grew.json
expect_exit 0 mt verify --consistency grew.json --trust keys/hospital.pub --format json
check "consistency proof verifies offline" jq -e 'select(.status) | .status == "verified" and .old_size > 0' out.txt
expect_exit 0 mt verify --consistency grew.json --format json
check "unpinned, it says so" jq -e 'select(.status) | .authority == "unpinned"' out.txt
expect_exit 1 mt verify --consistency grew.json --trust other/intruder.pub --format json
check "another trusted key: untrusted_authority" grep -q '"finding":"untrusted_authority"' out.txt
corrupt_hash '.consistency[0]' grew.json bad-consistency.json
expect_exit 1 mt verify --consistency bad-consistency.json --trust keys/hospital.pub --format json
check "a changed proof hash: consistency" grep -q '"finding":"consistency"' out.txt
jq -c '.old_size += 1' grew.json > bad-size.json
expect_exit 1 mt verify --consistency bad-size.json --trust keys/hospital.pub --format json
check "a changed size: tree_size" grep -q '"finding":"tree_size"' out.txt
jq -c '.checkpoint = (.checkpoint | sub("\n(?<n>[0-9]+)\n"; "\n1\(.n)\n"))' grew.json > bad-cp.json
expect_exit 1 mt verify --consistency bad-cp.json --trust keys/hospital.pub --format json
check "a forged new checkpoint: checkpoint_signature" grep -q '"finding":"checkpoint_signature"' out.txt
# The same proof from an old checkpoint equal to the head: an empty proof, and it holds.
expect_exit 0 mt prove --db ward.db --consistency-from cp-2.txt
cp out.txt same.json
check "old = new: empty proof" jq -e '.consistency == [] and .old_size == .new_size' same.json
expect_exit 0 mt verify --consistency same.json --trust keys/hospital.pub
# A ledger rewritten under the same key and origin does not extend the old checkpoint.
mkdir rewritten && cp -r keys rewritten/ && (
  cd rewritten && mt init --db ward.db --authority keys/hospital.key --origin test.example/ward > /dev/null &&
  mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-9 keys/gw-1.pub > /dev/null &&
  for i in $(seq 1 40); do mt enroll --db ward.db --key keys/hospital.key --role device --name "d-$i" > /dev/null; done &&
  mt anchor --db ward.db --key keys/hospital.key > /dev/null)
expect_exit 1 mt prove --db rewritten/ward.db --consistency-from cp-1.txt
check "a rewritten history is refused, not proven" grep -q "not an extension" err.txt
cp ward.db small.db
expect_exit 1 mt prove --db rewritten/ward.db --consistency-from cp-2.txt
# Bad input.
expect_exit 4 mt prove --db ward.db --consistency-from missing.txt
echo "not a checkpoint" > junk.txt
expect_exit 2 mt prove --db ward.db --consistency-from junk.txt
expect_exit 2 mt prove --db ward.db
check "prove without id or checkpoint says what it needs" grep -q "consistency-from" err.txt
expect_exit 2 mt prove --db ward.db "$id" --consistency-from cp-1.txt
expect_exit 2 mt prove --db ward.db --consistency-from cp-1.txt --format tlog-proof
(mt keygen --name h2 --role authority --out k2/ && mt init --db other.db --authority k2/h2.key --origin other.example/log) > /dev/null
expect_exit 1 mt prove --db other.db --consistency-from cp-1.txt
check "a checkpoint of another log is named" grep -q "other.example/log" err.txt
jq -c '.format = "x"' grew.json > bad-format.json
expect_exit 2 mt verify --consistency bad-format.json
echo '[1]' > not-object.json
expect_exit 2 mt verify --consistency not-object.json
expect_exit 4 mt verify --consistency missing.json
expect_exit 2 mt verify --consistency grew.json --receipt r.json
expect_exit 2 mt verify --db ward.db --consistency grew.json "$id"

finish
