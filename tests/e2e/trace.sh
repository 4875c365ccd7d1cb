#!/usr/bin/env bash
# trace: lineage (diamonds, depth, cycles, dangling links; json, prov, dot, text), timelines of a
# device, subject and asset, and contact tracing on the planted "contacts" scenario, checked
# against the pairwise scan and the scenario's truth file. Every evidence id must verify.
source "$(dirname "$0")/lib.sh"

CLEAR_PAYLOADS=1 setup_ledger 50 || { fail "setup"; finish; exit 1; }
export MEDTRAIL_DATA_KEY=keys/hospital.datakey

# ---- Lineage on a hand-made graph: A <- B, A <- C, (B, C) <- D (a diamond), D <- E.
reading() {  # device time type extra-json
  jq -cn --arg d "$1" --arg t "$2" --arg y "$3" --argjson x "$4" '{device:$d, time:$t, type:$y} + $x'
}
ingest_one() { mt ingest --db ward.db --key keys/gw-1.key - 2> /dev/null | jq -r .id; }
A=$(reading wb-0001 2026-03-01T08:00:00Z body_temperature '{"value":37.9,"unit":"Cel","subject":"patient-0001"}' | ingest_one)
B=$(reading wb-0001 2026-03-01T08:01:00Z heart_rate "{\"value\":88,\"unit\":\"/min\",\"derived_from\":[\"${A:0:12}\"]}" | ingest_one)
C=$(reading wb-0002 2026-03-01T08:02:00Z spo2 "{\"value\":97,\"unit\":\"%\",\"derived_from\":[\"$A\"]}" | ingest_one)
D=$(reading wb-0003 2026-03-01T08:03:00Z report "{\"title\":\"triage\",\"derived_from\":[\"$B\",\"$C\"]}" | ingest_one)
check "diamond ingested" test ${#D} -eq 64
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key
E=$(reading wb-0003 2026-03-01T08:04:00Z report "{\"title\":\"discharge\",\"derived_from\":[\"$D\"]}" | ingest_one)

expect_exit 3 mt ingest --db ward.db --key keys/gw-1.key <(reading wb-0003 2026-03-01T08:05:00Z report '{"derived_from":["00000000deadbeef"]}')
check "unknown derived_from is rejected with its reason" grep -q 'derived_from: no record with id 00000000deadbeef' out.txt err.txt

expect_exit 0 mt trace --db ward.db "$D"
check "json: 5 nodes, 5 edges, no problems" jq -e '(.nodes|length) == 5 and (.edges|length) == 5 and (.problems|length) == 0' out.txt
check "json: root and distances" jq -e --arg d "$D" --arg a "$A" --arg e "$E" \
  '.root == $d and (.nodes[] | select(.id == $a) | .distance == -2) and (.nodes[] | select(.id == $e) | .distance == 1)' out.txt
check "json: shared ancestor appears once" jq -e --arg a "$A" '[.nodes[] | select(.id == $a)] | length == 1' out.txt
check "json: anchored vs pending" jq -e --arg a "$A" --arg e "$E" \
  '(.nodes[] | select(.id == $a) | .included and .block == 1) and (.nodes[] | select(.id == $e) | (.included | not) and .block == null)' out.txt
check "json: device and gateway names" jq -e --arg b "$B" '.nodes[] | select(.id == $b) | .device == "wb-0001" and .gateway_name == "gw-1"' out.txt
expect_exit 0 mt trace --db ward.db "$D" --up --depth 1
check "depth 1 up: D, B, C and truncated" jq -e '(.nodes|length) == 3 and .truncated' out.txt
expect_exit 0 mt trace --db ward.db "$A" --down
check "descendants of A: all five" jq -e '(.nodes|length) == 5 and ([.nodes[].distance] | min) == 0' out.txt
expect_exit 0 mt trace --db ward.db "$A" --up
check "A has no ancestors" jq -e '(.nodes|length) == 1 and (.edges|length) == 0 and (.truncated|not)' out.txt

expect_exit 0 mt trace --db ward.db "$D" --format prov
check "PROV-JSON structure" jq -e '.prefix and (.entity|length) == 5 and (.activity|length) == 5 and .agent
  and (.wasDerivedFrom|length) == 5 and (.wasGeneratedBy|length) == 5 and .wasAttributedTo and .wasAssociatedWith
  and ([.wasDerivedFrom[] | has("prov:generatedEntity") and has("prov:usedEntity")] | all)
  and ([.wasGeneratedBy[] | .["prov:time"].type == "xsd:dateTime"] | all)
  and ([.entity | keys[] | startswith("rec:")] | all)' out.txt
check "PROV derivation D from B" jq -e --arg d "rec:$D" --arg b "rec:$B" \
  '[.wasDerivedFrom[] | select(.["prov:generatedEntity"] == $d and .["prov:usedEntity"] == $b)] | length == 1' out.txt
expect_exit 0 mt trace --db ward.db "$D" --format dot
check "dot: digraph with 5 edges" bash -c "head -1 out.txt | grep -q '^digraph lineage' && test \$(grep -c -- '->' out.txt) -eq 5"
if command -v dot > /dev/null; then
  check "dot output is accepted by Graphviz" dot -Tsvg -o lineage.svg out.txt
else
  echo "note: graphviz not installed; dot syntax not checked by dot"
fi
expect_exit 0 mt trace --db ward.db "$D" --format text
check "text: both directions" bash -c "grep -q '^derived from:' out.txt && grep -q '^used by:' out.txt && grep -q '(shown above)' out.txt"
expect_exit 4 mt trace --db ward.db ffffffffffff
expect_exit 2 mt trace --db ward.db 12345
expect_exit 2 mt trace --db ward.db "$D" --format svg
expect_exit 2 mt trace --db ward.db "$D" --device wb-0001   # two modes at once
expect_exit 2 mt trace --db ward.db                         # no mode

# A cycle and a dangling link, made by editing the file: reported (exit 1), never looped on.
cp ward.db cycle.db
idx_a=$(sqlite3 cycle.db "SELECT idx FROM leaves WHERE hex(id) = upper('$A')")
sqlite3 cycle.db "UPDATE leaves SET extra = '{\"derived_from\":[\"$D\"]}' WHERE idx = $idx_a"
expect_exit 1 timeout 20 "$MEDTRAIL" trace --db cycle.db "$D" --up
check "cycle reported" bash -c "jq -e '[.problems[] | select(.kind == \"cycle\")] | length >= 1' out.txt > /dev/null && grep -q cycle err.txt"
expect_exit 1 timeout 20 "$MEDTRAIL" trace --db cycle.db "$A" --format dot
expect_exit 1 mt verify --db cycle.db
cp ward.db dangling.db
idx_b=$(sqlite3 dangling.db "SELECT idx FROM leaves WHERE hex(id) = upper('$B')")
sqlite3 dangling.db "UPDATE leaves SET extra = '{\"derived_from\":[\"$(printf 'ab%.0s' {1..32})\"]}' WHERE idx = $idx_b"
expect_exit 1 mt trace --db dangling.db "$D" --format text
check "dangling link reported" grep -q 'problem: dangling' out.txt

# ---- Timelines
mt simulate --devices 50 --minutes 120 --scenario contacts --truth truth.json > scenario.ndjson
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key scenario.ndjson
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

expect_exit 0 mt trace --db ward.db --device wb-0002 --since 2026-03-01T08:30:00Z --until 2026-03-01T08:59:59Z --type location
check "device timeline: 30 locations in time order" jq -e -s 'length == 30 and (map(.time) == (map(.time) | sort))
  and all(.type == "location" and .reading.device == "wb-0002" and (.block | type) == "number")' out.txt
expect_exit 0 mt trace --db ward.db --subject patient-0003 --type pcr_test
check "subject without tests: empty" test ! -s out.txt
expect_exit 0 mt trace --db ward.db --subject patient-0001
check "subject timeline only holds that subject" jq -e -s 'length > 400 and all(.reading.subject == null or .reading.subject == "patient-0001")' out.txt
pseudonym=$(jq -r 'select(.type == "pcr_test") | .id' out.txt | head -1 | xargs -I{} "$MEDTRAIL" show --db ward.db {} --format json | jq -r .record.subject)
expect_exit 0 mt trace --db ward.db --subject "$pseudonym" --type pcr_test
check "subject by pseudonym, no data key needed" jq -e -s 'length == 1 and .[0].reading.result == "positive"' out.txt
expect_exit 4 mt trace --db ward.db --subject patient-9999
expect_exit 4 mt trace --db ward.db --device no-such-device
asset=$(jq -r 'select(.type == "sterilization") | .asset' scenario.ndjson | head -1)
expect_exit 0 mt trace --db ward.db --asset "$asset"
check "asset timeline follows one asset" jq -e -s --arg a "$asset" 'length >= 1 and all(.reading.asset == $a)' out.txt
expect_exit 4 mt trace --db ward.db --asset bed-9999-99
expect_exit 2 mt trace --db ward.db --device wb-0001 --since yesterday
env -u MEDTRAIL_DATA_KEY "$MEDTRAIL" trace --db ward.db --subject patient-0001 > out.txt 2> err.txt
check "clear subject id without a data key exits 4" test $? -eq 4

# ---- Contact tracing on the planted scenario
window=(--since 2026-03-01T08:00:00Z --until 2026-03-01T10:00:00Z)
expect_exit 0 mt trace --db ward.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal
cp out.txt contacts.ndjson
expect_exit 0 mt trace --db ward.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal --method scan
check "grid index result equals the pairwise scan" cmp -s contacts.ndjson out.txt
check "every planted contact found with its hop" jq -e -s --slurpfile truth truth.json \
  '. as $found | $truth[0].contacts | all(. as $c | $found | any(.subject_id == $c.subject and .hop == $c.hop))' contacts.ndjson
check "no near miss reported" jq -e -s --slurpfile truth truth.json \
  '. as $found | $truth[0].near_misses | all(. as $m | $found | all(.subject_id != $m.subject))' contacts.ndjson
check "all within radius, duration and window" jq -e -s \
  'all(.closest_m <= 2 and .exposure_s >= 900 and .first >= "2026-03-01T08:00:00Z" and .last <= "2026-03-01T10:00:00Z")' contacts.ndjson
check "hop-2 contacts name who exposed them" jq -e -s '[.[] | select(.hop == 2) | .via] as $v | [.[] | select(.hop == 1) | .subject] as $h1 | all($v[]; . as $x | $h1 | index($x))' contacts.ndjson
expect_exit 0 mt trace --db ward.db --contacts patient-0001 "${window[@]}"
check "without --reveal: pseudonyms only" bash -c "! grep -q patient- out.txt && jq -e -s 'length >= 2 and all(.hop == 1)' out.txt > /dev/null"
expect_exit 0 mt trace --db ward.db --contacts patient-0001 --since 2026-03-01T08:00:00Z --until 2026-03-01T08:20:00Z
check "a window before the contact ended finds nothing long enough" test ! -s out.txt
expect_exit 0 mt trace --db ward.db --contacts patient-0001 "${window[@]}" --radius 5 --min-duration 20m --reveal
check "wider radius reaches the 3.6 m near miss" jq -e -s 'any(.subject_id == "patient-0005")' out.txt
for id in $(jq -r '.evidence[]' contacts.ndjson | sort -u | shuf -n 12 --random-source=<(yes)); do
  expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub "$id"
done
expect_exit 4 mt trace --db ward.db --contacts patient-9999 "${window[@]}"
expect_exit 2 mt trace --db ward.db --contacts patient-0001 --radius -1
expect_exit 2 mt trace --db ward.db --contacts patient-0001 --min-duration soon
expect_exit 2 mt trace --db ward.db --contacts patient-0001 --hops 0

expect_exit 0 mt trace --db ward.db --origin patient-0001 "${window[@]}" --reveal
check "origin chain matches what was planted" jq -e -s --slurpfile truth truth.json \
  'map(.subject_id) == ($truth[0].origin | map(.subject)) and .[-1].earliest and (.[1:] | all(.contact.exposure_s >= 900))' out.txt
check "origin test times decrease" jq -e -s 'map(.test_time) == (map(.test_time) | sort | reverse)' out.txt
for id in $(jq -r '.positive_test, (.contact.evidence[0]? // empty)' out.txt); do
  expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub "$id"
done
expect_exit 4 mt trace --db ward.db --origin patient-0002 "${window[@]}"   # never tested positive

# older_copy N SQL: vN.db, a copy of ward.db taken back to schema N by SQL.
older_copy() {
  cp ward.db "v$1.db"
  sqlite3 "v$1.db" "$2 PRAGMA user_version = $1;"
}
# migrated N: the next writer migrates vN.db to the current schema, which then verifies.
migrated() {
  expect_exit 0 mt anchor --db "v$1.db" --key keys/hospital.key
  check "migrated from schema $1" test "$(sqlite3 "v$1.db" 'PRAGMA user_version')" = "$(sqlite3 ward.db 'PRAGMA user_version')"
  expect_exit 0 mt verify --db "v$1.db" --trust keys/hospital.pub
}

# A schema-1 ledger (no trace indexes) is migrated by the next writer, which rebuilds them.
older_copy 1 "$UNDO_SCHEMA_8 DROP TABLE links; DROP TABLE assets; DROP TABLE proximity; DROP TABLE positions;
  DROP INDEX leaves_device_time; DROP INDEX leaves_subject_time; DROP INDEX leaves_policy; DROP TABLE timestamps; DROP TABLE source_refs; DROP TABLE wraps; DROP TABLE wrap_keys; DROP INDEX leaves_privacy;"
expect_exit 5 mt trace --db v1.db --contacts patient-0001 "${window[@]}"
check "a reader asks for a migration" grep -q 'older schema' err.txt
migrated 1
expect_exit 0 mt trace --db v1.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal
check "rebuilt indexes give the same contacts" cmp -s out.txt contacts.ndjson
check "rebuilt links give the same lineage" bash -c "diff <('$MEDTRAIL' trace --db v1.db '$D' | jq -S 'del(.nodes[].included, .nodes[].block)') \
  <('$MEDTRAIL' trace --db ward.db '$D' | jq -S 'del(.nodes[].included, .nodes[].block)')"

# A schema-10 ledger kept each reading's subject pseudonym and gateway key id in its leaf, and
# whole ids in record_ids; the next writer moves the values to subjects and signer_keys, one
# row per value, and cuts the ids to 8 bytes (migrations 11 and 13).
older_copy 10 "$UNDO_SCHEMA_11"
check "the schema-10 file holds pseudonyms in its leaves" test "$(sqlite3 v10.db 'SELECT count(*) FROM leaves WHERE length(subject) = 32')" -ge 100
check "the schema-10 file keys record_ids by whole ids" test "$(sqlite3 v10.db 'SELECT count(*) FROM record_ids WHERE length(id) = 32')" = "$(sqlite3 v10.db 'SELECT count(*) FROM leaves')"
migrated 10
check "one subjects row per pseudonym" test "$(sqlite3 v10.db 'SELECT count(*) FROM subjects')" = "$(sqlite3 ward.db 'SELECT count(*) FROM subjects')"
check "record_ids keyed by 8-byte id prefixes" test "$(sqlite3 v10.db 'SELECT count(*) FROM record_ids WHERE length(id) = 8')" = "$(sqlite3 v10.db 'SELECT count(*) FROM leaves')"
check "one signer_keys row per key id" test "$(sqlite3 v10.db 'SELECT count(*) FROM signer_keys')" = "$(sqlite3 ward.db 'SELECT count(*) FROM signer_keys')"
expect_exit 0 mt trace --db v10.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal
check "contacts are the same after the migration" cmp -s out.txt contacts.ndjson
check "a subject's records are read from leaves_subject_time" bash -c "sqlite3 v10.db \"EXPLAIN QUERY PLAN SELECT idx, time_ms, type_ref, device_ref FROM leaves
  WHERE subject_ref = (SELECT ref FROM subjects WHERE pseudonym = zeroblob(32)) AND time_ms BETWEEN 1 AND 2\" | grep -q 'COVERING INDEX leaves_subject_time'"

# A schema-14 ledger kept each leaf's kind, device name and type as text; the next writer keeps
# device names and types once each in labels and the kind as a number (migration 15).
older_copy 14 "$UNDO_SCHEMA_15"
check "the schema-14 file holds device names in its leaves" test "$(sqlite3 v14.db "SELECT count(*) FROM leaves WHERE device LIKE 'wb-%' AND kind = 'reading'")" -ge 100
migrated 14
check "one labels row per device name and type" test "$(sqlite3 v14.db 'SELECT count(*) FROM labels')" = "$(sqlite3 ward.db 'SELECT count(*) FROM labels')"
check "every kind has its code" test "$(sqlite3 v14.db 'SELECT count(*) FROM leaves WHERE kind_code BETWEEN 1 AND 11')" = "$(sqlite3 v14.db 'SELECT count(*) FROM leaves')"
expect_exit 0 mt trace --db v14.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal
check "contacts are the same after migration 15" cmp -s out.txt contacts.ndjson
check "a device's timeline is the same after migration 15" bash -c "diff <('$MEDTRAIL' trace --db v14.db --device wb-0002 --type location | jq -S 'del(.block)') \
  <('$MEDTRAIL' trace --db ward.db --device wb-0002 --type location | jq -S 'del(.block)')"
check "a device's records are read from leaves_device_time" bash -c "sqlite3 v14.db \"EXPLAIN QUERY PLAN SELECT idx FROM leaves
  WHERE device_ref = (SELECT ref FROM labels WHERE text = 'wb-0002') AND time_ms BETWEEN 1 AND 2\" | grep -q 'INDEX leaves_device_time'"

# A schema-15 ledger kept 16-byte replay tags; the next writer cuts them to 12 (migration 16),
# and a replay of the same input is still recognised, reading by reading.
older_copy 15 "$UNDO_SCHEMA_16"
check "the schema-15 file holds 16-byte tags" test "$(sqlite3 v15.db 'SELECT count(*) FROM replay_tags WHERE length(tag) = 16')" -ge 100
migrated 15
check "tags cut to 12 bytes in payloads and runs" test \
  "$(sqlite3 v15.db 'SELECT count(*) FROM payloads WHERE length(replay_tag) = 12') $(sqlite3 v15.db 'SELECT count(*) FROM replay_tags WHERE length(tag) = 12')" \
  = "$(sqlite3 ward.db 'SELECT count(*) FROM payloads WHERE replay_tag IS NOT NULL') $(sqlite3 ward.db 'SELECT count(*) FROM payloads WHERE replay_tag IS NOT NULL')"
leaves_before=$(sqlite3 v15.db 'SELECT count(*) FROM leaves')
expect_exit 0 mt ingest --db v15.db --key keys/gw-1.key scenario.ndjson
check "every reading of a replay is a duplicate after migration 16" test "$(jq -r .status out.txt | sort -u)" = duplicate
check "and nothing was added" test "$(sqlite3 v15.db 'SELECT count(*) FROM leaves')" = "$leaves_before"

# A schema-16 ledger's runs have no `more` column; the next writer adds it (migration 17), and
# ids and replays are still found.
older_copy 16 "$UNDO_SCHEMA_17"
migrated 16
expect_exit 0 mt ingest --db v16.db --key keys/gw-1.key scenario.ndjson
check "every reading of a replay is a duplicate after migration 17" test "$(jq -r .status out.txt | sort -u)" = duplicate
expect_exit 0 mt prove --db v16.db "$D"

# A schema-3 ledger kept positions in an R*Tree; the next writer moves them to the grid.
older_copy 3 "$UNDO_SCHEMA_8 CREATE VIRTUAL TABLE old_positions USING rtree_i32(idx, t_min, t_max, lat_min, lat_max, lon_min, lon_max);
  INSERT INTO old_positions SELECT idx, t_s, t_s, lat, lat, lon, lon FROM positions;
  DROP TABLE positions; ALTER TABLE old_positions RENAME TO positions; DROP TABLE timestamps; DROP TABLE source_refs;
  DROP TABLE wraps; DROP TABLE wrap_keys; DROP INDEX leaves_privacy;"
check "the schema-3 file holds an R*Tree" test "$(sqlite3 v3.db "SELECT count(*) FROM positions_node")" -ge 1
migrated 3
check "the R*Tree is gone" test "$(sqlite3 v3.db "SELECT count(*) FROM sqlite_master WHERE name LIKE 'positions_%' AND name != 'positions_grid'")" = 0
check "every position moved" test "$(sqlite3 v3.db 'SELECT count(*) FROM positions')" = "$(sqlite3 ward.db 'SELECT count(*) FROM positions')"
expect_exit 0 mt trace --db v3.db --contacts patient-0001 "${window[@]}" --hops 2 --reveal
check "the grid gives the same contacts as before the migration" cmp -s out.txt contacts.ndjson
check "contact search reads the grid index" bash -c "sqlite3 v3.db 'EXPLAIN QUERY PLAN SELECT idx, t_s, lat, lon FROM positions WHERE t_s / 60 = 1 AND lat >> 7 = 2 AND lon BETWEEN 3 AND 4' | grep -q 'COVERING INDEX positions_grid'"

# Editing an index hides nothing for long: verify reports it.
cp ward.db index.db
sqlite3 index.db "DELETE FROM positions WHERE idx = (SELECT max(idx) FROM positions)"
expect_exit 1 mt verify --db index.db --trust keys/hospital.pub
check "verify names the trace index" grep -q trace_index out.txt
cp ward.db index2.db
sqlite3 index2.db "UPDATE proximity SET distance_m = 9 WHERE idx = (SELECT min(idx) FROM proximity)"
expect_exit 1 mt verify --db index2.db --trust keys/hospital.pub

finish
