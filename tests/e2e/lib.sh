# Shared by the end-to-end suites: each runs the real binary ($MEDTRAIL) in a fresh temp dir.
set -uo pipefail
: "${MEDTRAIL:?set MEDTRAIL to the medtrail binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE CMD...: runs CMD with stdout in out.txt and stderr in err.txt.
expect_exit() {
  local want=$1; shift
  "$@" > out.txt 2> err.txt
  local got=$?
  if [ "$got" -eq "$want" ]; then pass; else
    fail "expected exit $want, got $got: $*"; sed 's/^/  stderr: /' err.txt | head -5 >&2; head -c 600 out.txt | sed 's/^/  stdout: /' >&2
  fi
}

# check DESCRIPTION CMD...: passes when CMD succeeds.
check() {
  local what=$1; shift
  if "$@" > /dev/null; then pass; else fail "$what"; fi
}

mt() { "$MEDTRAIL" "$@"; }

# A ledger with an authority, a gateway and simulated devices enrolled: $1 devices. Its
# payloads are encrypted to the authority unless CLEAR_PAYLOADS=1 (the format of ledgers made
# before encryption, still supported; suites about other features use it to read values
# directly with sqlite3).
setup_ledger() {
  local devices=${1:-5}
  local flags=()
  [ "${CLEAR_PAYLOADS:-0}" = 1 ] && flags=(--no-encryption-key)
  mt keygen --name hospital --role authority --out keys/ "${flags[@]}" > /dev/null || return 1
  mt keygen --name gw-1 --role gateway --out keys/ > /dev/null || return 1
  mt init --db ward.db --authority keys/hospital.key --origin test.example/ward > /dev/null || return 1
  mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null || return 1
  mt simulate --devices "$devices" --minutes 5 --seed 1 --list-devices | mt enroll --db ward.db --key keys/hospital.key --from - > /dev/null
}

# tamper NAME EXPECTED_FINDING SQL: applies SQL to a copy of ward.db and expects verify to
# exit 1 naming the finding.
tamper() {
  local name=$1 finding=$2 sql=$3
  cp ward.db "$name.db"
  sqlite3 "$name.db" "$sql" || { fail "$name: sql failed"; return; }
  expect_exit 1 mt verify --db "$name.db" --trust keys/hospital.pub
  check "$name is reported as $finding" grep -q "\"finding\":\"$finding\"" out.txt
}

# corrupt_hash FIELD IN OUT: writes IN with the first byte of the hex hash at jq path FIELD
# (e.g. '.inclusion[0]') changed. Always changed: setting it to a fixed byte left the proof
# intact whenever the hash already began with that byte (1 run in 256 failed).
corrupt_hash() {
  jq -c "$1 |= ((if startswith(\"00\") then \"ff\" else \"00\" end) + .[2:])" "$2" > "$3"
}

# SQL that takes a current ledger back to schema 16 (before migration 17: runs packed in
# blocks). Packed entries cannot be unpacked in SQL, and ingest packs every batch of 4,096
# readings or more, so the runs are written again from the log as a schema-16 writer could
# have left them: one sealed run of a row per key (no filter: always sought) and an empty
# open run.
UNDO_SCHEMA_17="DELETE FROM record_ids; DELETE FROM replay_tags; DELETE FROM hash_runs; DELETE FROM hash_run_filters; DELETE FROM hash_run_merges;
  INSERT INTO record_ids(gen, id, idx) SELECT 1, substr(id, 1, 8), idx FROM leaves;
  INSERT INTO replay_tags(gen, tag, idx) SELECT 1, replay_tag, idx FROM payloads WHERE replay_tag IS NOT NULL;
  INSERT INTO hash_runs(tbl, gen, rows) VALUES ('record_ids', 1, (SELECT count(*) FROM record_ids)), ('record_ids', 2, 0),
    ('replay_tags', 1, (SELECT count(*) FROM replay_tags)), ('replay_tags', 2, 0);
  ALTER TABLE record_ids DROP COLUMN more; ALTER TABLE replay_tags DROP COLUMN more;"

# SQL that takes a current ledger back to schema 15 (before migration 16: 16-byte replay tags).
# The 4 bytes migration 16 cut are gone; any 4 do, as it cuts them again. The filters stay: the
# migration writes them all again.
# (|| makes text of blobs, which length() and substr() would cut at a zero byte: cast back.)
UNDO_SCHEMA_16="$UNDO_SCHEMA_17 UPDATE payloads SET replay_tag = CAST(replay_tag || x'5a5a5a5a' AS BLOB) WHERE replay_tag IS NOT NULL;
  UPDATE replay_tags SET tag = CAST(tag || x'5a5a5a5a' AS BLOB);"

# SQL that takes a current ledger back to schema 14 (before migration 15: device names, types
# and kinds stored as text in every leaf).
UNDO_SCHEMA_15="$UNDO_SCHEMA_16 DROP INDEX leaves_device_time; DROP INDEX leaves_subject_time; DROP INDEX leaves_policy; DROP INDEX leaves_privacy;
  ALTER TABLE leaves ADD COLUMN kind TEXT NOT NULL DEFAULT ''; ALTER TABLE leaves ADD COLUMN device TEXT; ALTER TABLE leaves ADD COLUMN type TEXT;
  UPDATE leaves SET kind = CASE kind_code WHEN 1 THEN 'reading' WHEN 2 THEN 'identity' WHEN 3 THEN 'retirement' WHEN 4 THEN 'seal'
      WHEN 5 THEN 'policy' WHEN 6 THEN 'policy_retirement' WHEN 7 THEN 'alert' WHEN 8 THEN 'grant' WHEN 9 THEN 'revocation'
      WHEN 10 THEN 'access' WHEN 11 THEN 'erasure' END,
    device = (SELECT text FROM labels WHERE ref = device_ref), type = (SELECT text FROM labels WHERE ref = type_ref);
  ALTER TABLE leaves DROP COLUMN kind_code; ALTER TABLE leaves DROP COLUMN device_ref; ALTER TABLE leaves DROP COLUMN type_ref; DROP TABLE labels;
  CREATE INDEX leaves_device_time ON leaves(device, time_ms);
  CREATE INDEX leaves_subject_time ON leaves(subject_ref, time_ms, type, device) WHERE subject_ref IS NOT NULL;
  CREATE INDEX leaves_policy ON leaves(idx) WHERE kind IN ('policy', 'policy_retirement');
  CREATE INDEX leaves_privacy ON leaves(idx) WHERE (kind = 'grant' OR kind = 'revocation' OR kind = 'access' OR kind = 'erasure');"

# SQL that takes a current ledger back to schema 13 (before migration 14: readings stored
# without their envelope's device, type and time). SQLite's JSON functions put the members back
# and rewrite each object with its keys in order (json() keeps nested values and booleans JSON:
# subtypes do not survive a subquery), which is the canonical text for the values the tests
# ingest (short numbers, ASCII names); verify afterwards says if it was not.
UNDO_SCHEMA_14="$UNDO_SCHEMA_15 UPDATE payloads SET reading = json_set(reading, '\$.device', (SELECT device FROM leaves l WHERE l.idx = payloads.idx)) WHERE elided & 1;
  UPDATE payloads SET reading = json_set(reading, '\$.type', (SELECT type FROM leaves l WHERE l.idx = payloads.idx)) WHERE elided & 2;
  UPDATE payloads SET reading = json_set(reading, '\$.time', (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', time_ms / 1000.0, 'unixepoch') FROM leaves l WHERE l.idx = payloads.idx)) WHERE elided & 4;
  UPDATE payloads SET reading = json_set(reading, '\$.time', (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', time_ms / 1000, 'unixepoch') FROM leaves l WHERE l.idx = payloads.idx)) WHERE elided & 8;
  UPDATE payloads SET reading = json_set(reading, '\$.unit', (SELECT CASE type WHEN 'blood_pressure' THEN 'mm[Hg]'
      WHEN 'body_temperature' THEN 'Cel' WHEN 'glucose' THEN 'mg/dL' WHEN 'heart_rate' THEN '/min' WHEN 'respiratory_rate' THEN '/min'
      WHEN 'spo2' THEN '%' END FROM leaves l WHERE l.idx = payloads.idx)) WHERE elided & 16;
  UPDATE payloads SET reading = (SELECT json_group_object(key, CASE type WHEN 'true' THEN json('true') WHEN 'false' THEN json('false')
      WHEN 'object' THEN json(value) WHEN 'array' THEN json(value) ELSE value END)
    FROM (SELECT key, value, type FROM json_each(payloads.reading) ORDER BY key)) WHERE elided IS NOT NULL;
  ALTER TABLE payloads DROP COLUMN elided;"

# SQL that takes a current ledger back to schema 12 (before migration 13: record_ids keyed by
# the first 8 bytes of each id).
UNDO_SCHEMA_13="$UNDO_SCHEMA_14 UPDATE record_ids SET id = (SELECT id FROM leaves WHERE leaves.idx = record_ids.idx);"

# SQL that takes a current ledger back to schema 10 (before migration 11: subjects and signer
# key ids moved out of leaves into tables of their own). Schema 12 only dropped stored tree
# hashes, which sqlite3 cannot recompute; the file verifies without them.
UNDO_SCHEMA_11="$UNDO_SCHEMA_13 DROP INDEX leaves_subject_time; ALTER TABLE leaves ADD COLUMN gateway TEXT; ALTER TABLE leaves ADD COLUMN subject BLOB;
  UPDATE leaves SET gateway = (SELECT key_id FROM signer_keys WHERE ref = signer_ref),
                    subject = (SELECT pseudonym FROM subjects WHERE ref = subject_ref);
  ALTER TABLE leaves DROP COLUMN signer_ref; ALTER TABLE leaves DROP COLUMN subject_ref; DROP TABLE subjects; DROP TABLE signer_keys;
  CREATE INDEX leaves_subject_time ON leaves(subject, time_ms, type, device) WHERE subject IS NOT NULL;"

# SQL that takes a current ledger back to schema 7 (before migrations 8 to 11: the sorted id and
# replay runs); the downgrade tests of older schemas start with it.
UNDO_SCHEMA_8="$UNDO_SCHEMA_11 DROP TABLE hash_run_filters; DROP TABLE hash_run_merges; DROP TABLE hash_runs; DROP TABLE record_ids; DROP TABLE replay_tags;
  CREATE INDEX leaves_id ON leaves(id); CREATE UNIQUE INDEX payloads_replay ON payloads(replay_tag);"

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
