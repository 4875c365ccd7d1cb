#!/usr/bin/env bash
# Tampering with copies of a real ledger through the sqlite3 shell: each edit must make
# verify exit 1 (5 for an unreadable file) and name what is wrong.
source "$(dirname "$0")/lib.sh"

CLEAR_PAYLOADS=1 setup_ledger 10 || { fail "setup"; finish; exit 1; }
mt simulate --devices 10 --minutes 10 --seed 2 | mt ingest --db ward.db --key keys/gw-1.key > receipts.ndjson 2>/dev/null
mt anchor --db ward.db --key keys/hospital.key --checkpoint-out cp-1.txt > /dev/null
mt simulate --devices 10 --minutes 5 --seed 3 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
mt anchor --db ward.db --key keys/hospital.key --checkpoint-out cp-2.txt > /dev/null
sqlite3 ward.db "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

mid=$(sqlite3 ward.db "SELECT idx FROM payloads ORDER BY idx LIMIT 1 OFFSET 20")
tamper value payload_mismatch \
  "UPDATE payloads SET reading = json_set(reading, '\$.value', json_extract(reading, '\$.value') + 0.1) WHERE idx = (SELECT min(idx) FROM leaves WHERE type_ref = (SELECT ref FROM labels WHERE text = 'body_temperature'))"
tamper salt payload_mismatch "UPDATE payloads SET salt = zeroblob(32) WHERE idx = $mid"
tamper delete-record leaf_gap "DELETE FROM payloads WHERE idx = $mid; DELETE FROM leaves WHERE idx = $mid"
tamper delete-payload payload_missing "DELETE FROM payloads WHERE idx = $mid"
tamper swap node_mismatch "
  UPDATE leaves SET idx = -1 WHERE idx = $mid; UPDATE leaves SET idx = $mid WHERE idx = $mid + 1;
  UPDATE leaves SET idx = $mid + 1 WHERE idx = -1;
  UPDATE payloads SET idx = -1 WHERE idx = $mid; UPDATE payloads SET idx = $mid WHERE idx = $mid + 1;
  UPDATE payloads SET idx = $mid + 1 WHERE idx = -1;"
tamper envelope leaf_hash_mismatch "UPDATE leaves SET device_ref = (SELECT ref FROM labels WHERE text = 'wb-0002') WHERE idx = $mid"
tamper reading-time leaf_hash_mismatch "UPDATE leaves SET time_ms = time_ms + 1000 WHERE idx = $mid"
# Readings are stored without the device, type and time their leaf holds (payloads.elided says
# which); verify puts them back before hashing, so a wrong flag or a member both cut and
# stored is a reading that no longer matches its commitment.
check "every clear reading is stored without its envelope's device, type and time" test \
  "$(sqlite3 ward.db "SELECT count(*) FROM payloads WHERE elided & 7 = 7 AND json_type(reading, '\$.device') IS NULL AND json_type(reading, '\$.time') IS NULL")" \
  = "$(sqlite3 ward.db "SELECT count(*) FROM payloads")"
# ... and without its unit when that is its type's usual one (schema 15): every vital sign here.
check "a usual unit is cut" test \
  "$(sqlite3 ward.db "SELECT count(*) FROM payloads WHERE elided & 16 AND json_type(reading, '\$.unit') IS NULL AND json_type(reading, '\$.value') IS NOT NULL")" \
  = "$(sqlite3 ward.db "SELECT count(*) FROM payloads WHERE json_type(reading, '\$.value') IS NOT NULL")"
unit_mid=$(sqlite3 ward.db "SELECT min(idx) FROM payloads WHERE elided & 16 AND idx > $mid")
tamper unit-stored-too payload_mismatch "UPDATE payloads SET reading = json_set(reading, '\$.unit', 'Cel') WHERE idx = $unit_mid"
tamper elided-flag payload_mismatch "UPDATE payloads SET elided = NULL WHERE idx = $mid"
tamper elided-bits payload_mismatch "UPDATE payloads SET elided = 32 WHERE idx = $mid"
tamper elided-stored-too payload_mismatch "UPDATE payloads SET reading = json_set(reading, '\$.device', 'wb-0002') WHERE idx = $mid"
mid_id=$(sqlite3 ward.db "SELECT lower(hex(id)) FROM leaves WHERE idx = $mid")
expect_exit 1 mt show --db elided-stored-too.db "$mid_id"
check "show names a reading that cannot be put back together" grep -q 'cannot be put together with its envelope' err.txt
# A query that reaches it stops (5: the file is corrupt for a reader) and points at verify.
expect_exit 5 mt trace --db elided-stored-too.db --device "$(sqlite3 ward.db "SELECT text FROM labels WHERE ref = (SELECT device_ref FROM leaves WHERE idx = $mid)")"
check "trace names the reading and points at verify" grep -q "record $mid cannot be put together with its envelope (medtrail verify)" err.txt
# Subjects and signer key ids are stored once and referred to by number; the envelope holds
# their values, so an edit of either table or of a reference changes leaf hashes.
tamper subject-value leaf_hash_mismatch "UPDATE subjects SET pseudonym = zeroblob(32) WHERE ref = (SELECT subject_ref FROM leaves WHERE idx = $mid)"
tamper subject-ref leaf_hash_mismatch \
  "UPDATE leaves SET subject_ref = subject_ref % (SELECT max(ref) FROM subjects) + 1 WHERE idx = $mid"
tamper signer-key leaf_hash_mismatch "UPDATE signer_keys SET key_id = 'ffffffffffffffff' WHERE ref = (SELECT signer_ref FROM leaves WHERE idx = $mid)"
# A value stored twice leaves every hash intact, but a search by value would find only the
# records under one of its refs. stored_twice NAME TABLE COLUMN LEAF_REF_COLUMN: the value
# record $mid refers to, copied under a new ref (the table rebuilt without UNIQUE), and the
# record moved to that ref.
stored_twice() {
  tamper "$1" trace_index "
  CREATE TABLE loose(ref INTEGER PRIMARY KEY, $3 NOT NULL); INSERT INTO loose SELECT * FROM $2;
  DROP TABLE $2; ALTER TABLE loose RENAME TO $2;
  INSERT INTO $2($3) SELECT $3 FROM $2 WHERE ref = (SELECT $4 FROM leaves WHERE idx = $mid);
  UPDATE leaves SET $4 = (SELECT max(ref) FROM $2) WHERE idx = $mid"
  check "$1 is the only finding" test "$(grep -c '"finding"' out.txt)" = 1
}
stored_twice subject-twice subjects pseudonym subject_ref
# Device names and types are labels (schema 15), kept once and referred to by number; the kind
# is a number. An edited label, or a kind code no release writes, changes the envelope.
tamper label-value leaf_hash_mismatch "UPDATE labels SET text = 'wb-9999' WHERE ref = (SELECT device_ref FROM leaves WHERE idx = $mid)"
tamper kind-code leaf_hash_mismatch "UPDATE leaves SET kind_code = 12 WHERE idx = $mid"
check "an unknown kind code is named as such" grep -q "unknown-12" out.txt
# A code that is not an integer would read as one and hide the record from every query by kind.
tamper kind-code-real leaf_hash_mismatch "UPDATE leaves SET kind_code = 1.5 WHERE idx = $mid"
stored_twice label-twice labels text device_ref
tamper node node_mismatch "UPDATE nodes SET hash = zeroblob(32) WHERE key = (SELECT max(key) FROM nodes)"
# verify reads the stored tree hashes level by level in one forward scan each: a hole or an
# extra hash must be named once, and the hashes after it still be found and checked.
# Tree hashes are stored for levels 4, 8, 12, ... (schema 12).
tamper node-deleted node_missing "DELETE FROM nodes WHERE key = (4 << 58) | 3"
check "a deleted tree hash is one node_missing at level 4 index 3, then the count" \
  test "$(jq -r 'select((.finding // "") | startswith("node_")) | .finding + ": " + .message' out.txt | sed 's/ is missing//; s/ hashes;.*//')" = \
  "node_missing: stored tree hash at level 4 index 3
node_extra: the nodes table holds $(($(sqlite3 ward.db 'SELECT count(*) FROM nodes') - 1))"
# A proof that needs the deleted hash names it instead of producing a wrong path.
id40=$(sqlite3 ward.db "SELECT lower(hex(id)) FROM leaves WHERE idx = 40")
expect_exit 1 mt prove --db node-deleted.db "$id40"
check "prove names the missing tree hash" grep -q 'stored hash missing at level 4 index 3' err.txt
expect_exit 0 mt prove --db ward.db "$id40"
tamper node-extra node_extra "INSERT INTO nodes(key, hash) VALUES ((4 << 58) | 100000, zeroblob(32))"
tamper node-between node_extra "INSERT INTO nodes(key, hash) VALUES ((1 << 58) | 3, zeroblob(32))"
check "an extra tree hash is reported by the count alone" test "$(grep -c '"finding":"node_' out.txt)" = 1
tamper block-time block_hash_mismatch "UPDATE blocks SET header = json_set(header, '\$.time', '2020-01-01T00:00:00.000Z') WHERE height = 1"
tamper signature block_signature \
  "UPDATE blocks SET signatures = json_set(signatures, '\$[0].sig', (SELECT json_extract(signatures, '\$[0].sig') FROM blocks WHERE height = 0)) WHERE height = 1"
tamper checkpoint checkpoint_mismatch \
  "UPDATE blocks SET checkpoint = (SELECT checkpoint FROM blocks WHERE height = 1) WHERE height = 2"
tamper checkpoint-signature checkpoint_signature \
  "UPDATE blocks SET checkpoint = substr(checkpoint, 1, instr(checkpoint, char(8212)) - 1) ||
     (SELECT substr(checkpoint, instr(checkpoint, char(8212))) FROM blocks WHERE height = 1) WHERE height = 2"
tamper middle-block block_missing "DELETE FROM blocks WHERE height = 1"
tamper id-index-missing id_index "DELETE FROM record_ids WHERE idx = $mid"
tamper id-index-moved id_index "UPDATE record_ids SET idx = idx + 1 WHERE idx = $mid"
mid_id=$(sqlite3 ward.db "SELECT lower(hex(id)) FROM leaves WHERE idx = $mid")
expect_exit 1 mt prove --db id-index-moved.db "$mid_id"
check "prove refuses a record the id runs misname" grep -q 'ledger is damaged' err.txt
expect_exit 0 mt prove --db ward.db "${mid_id:0:8}"
tamper replay-index replay_index "DELETE FROM replay_tags WHERE idx = $mid"
tamper identity identity_index "INSERT INTO identities(name, role, kind, enrolled_idx) VALUES ('ghost', 'device', '', 3)"
tamper seal seal_signature \
  "UPDATE leaves SET extra = json_set(extra, '\$.sig', (SELECT json_extract(extra, '\$.sig') FROM leaves WHERE kind_code = 4 ORDER BY idx DESC LIMIT 1)) WHERE idx = (SELECT min(idx) FROM leaves WHERE kind_code = 4)"

# Deleting the newest block (and so un-sealing its records) leaves a self-consistent file;
# what catches it is a checkpoint kept elsewhere.
cp ward.db last-block.db
sqlite3 last-block.db "DELETE FROM blocks WHERE height = (SELECT max(height) FROM blocks)"
expect_exit 1 mt verify --db last-block.db --checkpoint cp-2.txt --trust keys/hospital.pub
check "deleted last block is reported as history_shrank" grep -q history_shrank out.txt
# ... and deleting the newest records along with it too.
cp ward.db last-records.db
size1=$(sed -n 2p cp-1.txt)
sqlite3 last-records.db "DELETE FROM blocks WHERE height = 2; DELETE FROM payloads WHERE idx >= $size1; DELETE FROM leaves WHERE idx >= $size1; DELETE FROM nodes"
expect_exit 1 mt verify --db last-records.db --checkpoint cp-2.txt --trust keys/hospital.pub

# A truncated file is unreadable: exit 5 with a clear message.
cp ward.db truncated.db
truncate -s $(( $(stat -c %s ward.db) / 2 )) truncated.db
expect_exit 5 mt verify --db truncated.db --trust keys/hospital.pub
check "truncation explained" grep -qi 'corrupt\|malformed' err.txt
head -c 4096 /dev/urandom > random.db
expect_exit 5 mt verify --db random.db
: > empty.db
expect_exit 5 mt verify --db empty.db
sqlite3 other.db "CREATE TABLE t(x); PRAGMA user_version = 1;"
expect_exit 5 mt verify --db other.db
cp ward.db newer.db && sqlite3 newer.db "PRAGMA user_version = 99"
expect_exit 5 mt verify --db newer.db
check "newer schema explained" grep -q 'newer than this medtrail' err.txt

# Rewrite the whole ledger consistently under a fresh authority key with the same name and
# origin: it verifies on its own, but not against the pinned key or the old checkpoint.
mkdir forged && (
  cd forged || exit 1
  mt keygen --name hospital --role authority --out keys/ > /dev/null
  mt keygen --name gw-1 --role gateway --out keys/ > /dev/null
  mt init --db ward.db --authority keys/hospital.key --origin test.example/ward > /dev/null
  mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
  mt simulate --devices 10 --minutes 5 --seed 1 --list-devices | mt enroll --db ward.db --key keys/hospital.key --from - > /dev/null
  mt simulate --devices 10 --minutes 10 --seed 2 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
  mt anchor --db ward.db --key keys/hospital.key > /dev/null
)
expect_exit 0 mt verify --db forged/ward.db
expect_exit 1 mt verify --db forged/ward.db --trust keys/hospital.pub
check "forged authority named" grep -q untrusted_authority out.txt
expect_exit 1 mt verify --db forged/ward.db --checkpoint cp-1.txt
check "old checkpoint not signed by the forged authority" grep -q checkpoint_signature out.txt
expect_exit 1 mt verify --db forged/ward.db --checkpoint cp-1.txt --trust keys/hospital.pub
finish
