#!/usr/bin/env bash
# audit: every rule kind finds its planted event and nothing else; windows; --fail-on; dry
# runs; incremental runs from a state file find each event exactly once; a rewritten history
# and a tampered ledger are critical; findings recorded as signed alert records.
source "$(dirname "$0")/lib.sh"
: "${MEDTRAIL_SOURCE_DIR:?set MEDTRAIL_SOURCE_DIR to the source tree}"
cp "$MEDTRAIL_SOURCE_DIR/examples/policies/ward.yaml" ward.yaml

new_ledger() {  # $1: file
  mt init --db "$1" --authority keys/hospital.key --origin test.example/ward > /dev/null &&
    mt enroll --db "$1" --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null &&
    mt enroll --db "$1" --key keys/hospital.key --role auditor --name aud-1 keys/aud-1.pub > /dev/null &&
    printf '{"name":"%s","role":"device"}\n' wb-0001 wb-0002 wb-0003 rfid-01 mon-01 |
      mt enroll --db "$1" --key keys/hospital.key --from - > /dev/null
}
mt keygen --name hospital --role authority --out keys/ --no-encryption-key > /dev/null
mt keygen --name gw-1 --role gateway --out keys/ > /dev/null
mt keygen --name aud-1 --role auditor --out keys/ > /dev/null

# Planted events (one finding each): fever wb-0001 08:05; SpO2 < 92 for 6 minutes wb-0002;
# wb-0001 outside the geofence 08:10-08:11; wb-0001 within 1.2 m of wb-0002 08:20; wb-0002
# silent 08:06-08:30; wb-0003 skips seq 3; resp-0002 used unsterilised; resp-0003 fault status;
# mon-01 malfunction E42. Not findings: a short SpO2 dip (wb-0003), a 3 m contact, an unlisted
# asset used, resp-0001 used 30 minutes after a passing cycle.
r() { printf '{"device":"%s","seq":%s,"time":"2026-03-01T%s:00Z",%s}\n' "$@"; }
{
  r wb-0001 1 08:00 '"type":"body_temperature","value":36.8,"unit":"Cel","subject":"patient-1"'
  r wb-0001 2 08:05 '"type":"body_temperature","value":37.9,"unit":"Cel","subject":"patient-1"'
  r wb-0001 3 08:06 '"type":"body_temperature","value":36.9,"unit":"Cel","subject":"patient-1"'
  r wb-0001 4 08:10 '"type":"location","lat":22.205,"lon":113.5439,"subject":"patient-1"'
  r wb-0001 5 08:11 '"type":"location","lat":22.2051,"lon":113.5439,"subject":"patient-1"'
  r wb-0001 6 08:12 '"type":"location","lat":22.1987,"lon":113.5439,"subject":"patient-1"'
  r wb-0001 7 08:20 '"type":"proximity","peer":"wb-0002","distance_m":1.2,"subject":"patient-1"'
  r wb-0001 8 08:21 '"type":"proximity","peer":"wb-0003","distance_m":3,"subject":"patient-1"'
  r wb-0001 9 08:30 '"type":"body_temperature","value":36.8,"unit":"Cel","subject":"patient-1"'
  r wb-0001 10 08:40 '"type":"body_temperature","value":36.8,"unit":"Cel","subject":"patient-1"'
  r wb-0002 1 08:00 '"type":"spo2","value":90,"unit":"%","subject":"patient-2"'
  r wb-0002 2 08:02 '"type":"spo2","value":90,"unit":"%","subject":"patient-2"'
  r wb-0002 3 08:06 '"type":"spo2","value":91,"unit":"%","subject":"patient-2"'
  r wb-0002 4 08:30 '"type":"spo2","value":97,"unit":"%","subject":"patient-2"'
  r wb-0002 5 08:40 '"type":"spo2","value":97,"unit":"%","subject":"patient-2"'
  r wb-0003 1 08:00 '"type":"spo2","value":90,"unit":"%","subject":"patient-3"'
  r wb-0003 2 08:01 '"type":"spo2","value":97,"unit":"%","subject":"patient-3"'
  r wb-0003 4 08:02 '"type":"spo2","value":97,"unit":"%","subject":"patient-3"'
  r wb-0003 5 08:40 '"type":"spo2","value":97,"unit":"%","subject":"patient-3"'
  r rfid-01 1 08:00 '"type":"sterilization","asset":"resp-0001","cycle":"A-1","result":"pass"'
  r rfid-01 2 08:30 '"type":"asset_status","asset":"resp-0001","status":"in_use"'
  r rfid-01 3 08:31 '"type":"asset_status","asset":"resp-0002","status":"in_use"'
  r rfid-01 4 08:32 '"type":"asset_status","asset":"bed-0001","status":"in_use"'
  r rfid-01 5 08:33 '"type":"asset_status","asset":"resp-0003","status":"fault"'
  r mon-01 1 08:35 '"type":"malfunction","code":"E42","asset":"resp-0003","message":"fan stopped"'
} | jq -cs 'sort_by(.time)[]' > readings.ndjson
cat > truth.txt <<'T'
band-off wb-0002 2026-03-01T08:06:00.000Z
close-contact wb-0001 2026-03-01T08:20:00.000Z
faults mon-01 2026-03-01T08:35:00.000Z
faults rfid-01 2026-03-01T08:33:00.000Z
fever wb-0001 2026-03-01T08:05:00.000Z
left-quarantine wb-0001 2026-03-01T08:10:00.000Z
low-spo2 wb-0002 2026-03-01T08:00:00.000Z
missing-or-replayed wb-0003 2026-03-01T08:01:00.000Z
unsterile-use rfid-01 2026-03-01T08:31:00.000Z
T
found() { jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.start)"' "$@" | sort; }

new_ledger ward.db || { fail "setup"; finish; exit 1; }
# No policy: nothing to evaluate.
expect_exit 4 mt audit --db ward.db
check "no policy is explained" grep -q 'no policy on this ledger' err.txt
# The ward's policy is in force before its readings arrive (a reading is judged by the rules
# its block commits to; see "Policy added after" below).
mt policy add --db ward.db --key keys/hospital.key ward.yaml > /dev/null
mt ingest --db ward.db --key keys/gw-1.key readings.ndjson > /dev/null 2>&1
mt anchor --db ward.db --key keys/hospital.key > /dev/null

# Dry run with the file: every planted event, nothing else; criticals make it exit 1.
expect_exit 1 mt audit --db ward.db --policy ward.yaml
found out.txt > dry.txt
if diff truth.txt dry.txt > diff.txt; then pass; else fail "dry run findings differ from the planted events"; cat diff.txt >&2; fi
check "no progress or noise on stderr in a pipe" test ! -s err.txt
check "summary line counts them" test "$(tail -1 out.txt | jq -r '"\(.kind) \(.findings) \(.worst)"')" = "summary 9 critical"
if grep -q patient- out.txt; then fail "a patient id appears in the findings"; else pass; fi
check "findings carry the subject's pseudonym" test "$(jq -r 'select(.rule=="fever") | .subject | test("^[0-9a-f]{64}$")' out.txt)" = true
check "sustained SpO2 spans its readings" test "$(jq -r 'select(.rule=="low-spo2") | "\(.end) \(.records) \(.evidence | length)"' out.txt)" = "2026-03-01T08:06:00.000Z 3 3"
check "contact names the peer" test "$(jq -r 'select(.rule=="close-contact") | .peer' out.txt)" = wb-0002
check "unsterile use names the asset" test "$(jq -r 'select(.rule=="unsterile-use") | .asset' out.txt)" = resp-0002
check "evidence ids are records of the ledger" mt show --db ward.db "$(jq -r 'select(.rule=="fever") | .evidence[0]' out.txt)"

# --fail-on and a policy of warnings only.
printf 'name: fever-only\nrules:\n  - {name: fever, kind: threshold, severity: warning, type: body_temperature, op: ">=", value: 37.5, unit: Cel}\n' > fever.yaml
expect_exit 1 mt audit --db ward.db --policy fever.yaml
expect_exit 0 mt audit --db ward.db --policy fever.yaml --fail-on critical
check "the finding is still printed" test "$(found out.txt)" = "fever wb-0001 2026-03-01T08:05:00.000Z"
expect_exit 0 mt audit --db ward.db --policy fever.yaml --since 2026-03-01T08:06:00Z
check "outside the window: nothing" test "$(found out.txt)" = ""
expect_exit 1 mt audit --db ward.db --policy ward.yaml --until 2026-03-01T08:07:00Z
check "--until: only what happened before" test "$(found out.txt | cut -d' ' -f1 | tr '\n' ' ')" = "fever low-spo2 missing-or-replayed "
expect_exit 0 mt audit --db ward.db --policy fever.yaml --fail-on critical --format text
check "text format" grep -q '^WARNING  fever  wb-0001  2026-03-01T08:05:00.000Z' out.txt

# Bad input.
expect_exit 2 mt audit --db ward.db --policy ward.yaml --since yesterday
expect_exit 2 mt audit --db ward.db --policy ward.yaml --since 2026-03-02T00:00:00Z --until 2026-03-01T00:00:00Z
expect_exit 2 mt audit --db ward.db --policy ward.yaml --fail-on severe
# --key alone reads with that key; on a clear ledger there is nothing to decrypt or record.
before=$(sqlite3 ward.db "SELECT count(*) FROM leaves")
expect_exit 1 mt audit --db ward.db --policy ward.yaml --key keys/aud-1.key
check "reading a clear ledger appends no access record" test "$(sqlite3 ward.db "SELECT count(*) FROM leaves")" = "$before"
expect_exit 2 mt audit --db ward.db --policy ward.yaml --record-findings
printf 'name: x\nrules:\n  - {name: a, kind: threshold, severity: info, type: spo2, op: "<", value: 90, unit: "%%", for: soon}\n' > bad.yaml
expect_exit 3 mt audit --db ward.db --policy bad.yaml
check "bad policy names file and line" grep -q 'bad.yaml:3:' err.txt
expect_exit 4 mt audit --db ward.db --policy nothing.yaml
echo '{"format":"other"}' > bad.state
expect_exit 2 mt audit --db ward.db --policy ward.yaml --state bad.state

# The active policy gives the same findings as the dry run.
expect_exit 1 mt audit --db ward.db
check "active policy: same findings" test "$(found out.txt)" = "$(cat truth.txt)"

# Findings recorded as alert records signed by the auditor; verify accepts them.
cp ward.db crash.db
expect_exit 2 mt audit --db ward.db --record-findings --key keys/gw-1.key
expect_exit 1 mt audit --db ward.db --record-findings --key keys/aud-1.key
check "summary counts recorded alerts" test "$(tail -1 out.txt | jq .recorded)" = 9
check "9 alert records on the ledger" test "$(sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 7")" = 9
expect_exit 1 mt audit --db ward.db --record-findings --key keys/aud-1.key
check "a rerun prints the findings but records none twice" \
  test "$(tail -1 out.txt | jq -c '[.findings, .recorded, .already_recorded]')" = "[9,0,9]"
check "still 9 alert records" test "$(sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 7")" = 9
# A cron audit that died after appending its alerts and before saving --state (simulated by
# removing the state it saved) records nothing twice when it runs again.
expect_exit 1 mt audit --db crash.db --state crash.state --record-findings --key keys/aud-1.key
check "cron run records 9 alerts" test "$(tail -1 out.txt | jq .recorded)" = 9
rm crash.state
expect_exit 1 mt audit --db crash.db --state crash.state --record-findings --key keys/aud-1.key
check "the run after the crash records none twice" test "$(tail -1 out.txt | jq -c '[.recorded, .already_recorded]')" = "[0,9]"
check "9 alert records after the crash" test "$(sqlite3 crash.db "SELECT count(*) FROM leaves WHERE kind_code = 7")" = 9
expect_exit 0 mt audit --db crash.db --state crash.state --record-findings --key keys/aud-1.key
check "then nothing new" test "$(tail -1 out.txt | jq -c '[.findings, .recorded]')" = "[0,0]"
mt anchor --db ward.db --key keys/hospital.key > /dev/null
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub
cp ward.db forged-alert.db
sqlite3 forged-alert.db "UPDATE leaves SET extra = json_set(extra, '\$.finding.severity', 'info') WHERE kind_code = 7; DELETE FROM nodes"
expect_exit 1 mt verify --db forged-alert.db --trust keys/hospital.pub

# Integrity: a changed reading is a critical finding of the integrity rule.
cp ward.db tampered.db
sqlite3 tampered.db "UPDATE payloads SET reading = json_set(reading, '\$.value', 36.9) WHERE json_extract(reading, '\$.value') = 37.9"
expect_exit 1 mt audit --db tampered.db --fail-on critical
check "tampered payload is an integrity finding" \
  test "$(jq -r 'select(.rule_kind=="integrity") | "\(.severity) \(.check)"' out.txt | sort -u)" = "critical payload_mismatch"
check "and the fever is gone from the rules' view" bash -c "! grep -q '\"rule\":\"fever\"' out.txt"

# Policy added after: readings sealed before a policy was added are not judged by it (their
# blocks commit to the rules that were in force, none); a dry run of the file still sees them,
# and readings sealed after it are judged.
new_ledger late.db
mt ingest --db late.db --key keys/gw-1.key readings.ndjson > /dev/null 2>&1
mt anchor --db late.db --key keys/hospital.key > /dev/null
mt policy add --db late.db --key keys/hospital.key ward.yaml > /dev/null
mt anchor --db late.db --key keys/hospital.key > /dev/null
expect_exit 0 mt audit --db late.db
check "a policy added later does not judge earlier blocks" test "$(tail -1 out.txt | jq -c '[.findings, .readings, .policies]')" = "[0,0,1]"
expect_exit 1 mt audit --db late.db --policy ward.yaml
check "the dry run of the same file finds them" test "$(found out.txt)" = "$(cat truth.txt)"
r wb-0001 11 08:50 '"type":"body_temperature","value":38.2,"unit":"Cel","subject":"patient-1"' > late.ndjson
mt ingest --db late.db --key keys/gw-1.key late.ndjson > /dev/null 2>&1
mt anchor --db late.db --key keys/hospital.key > /dev/null
expect_exit 1 mt audit --db late.db
check "a reading sealed after it is judged by it" test "$(found out.txt)" = "fever wb-0001 2026-03-01T08:50:00.000Z"

# Incremental: three cron runs over a growing ledger find each event exactly once.
new_ledger inc.db
mt policy add --db inc.db --key keys/hospital.key ward.yaml > /dev/null
jq -c 'select(.time < "2026-03-01T08:10")' readings.ndjson > part1.ndjson
jq -c 'select(.time >= "2026-03-01T08:10" and .time < "2026-03-01T08:31")' readings.ndjson > part2.ndjson
jq -c 'select(.time >= "2026-03-01T08:31")' readings.ndjson > part3.ndjson
: > cron.ndjson
for part in 1 2 3; do
  mt ingest --db inc.db --key keys/gw-1.key "part$part.ndjson" > /dev/null 2>&1
  mt anchor --db inc.db --key keys/hospital.key --checkpoint-out "cp-$part.txt" > /dev/null
  mt audit --db inc.db --state audit.state --trust keys/hospital.pub > "run-$part.ndjson" 2> "run-$part.err"
  check "run $part: state saved with mode 0600" test "$(stat -c %a audit.state)" = 600
  cat "run-$part.ndjson" >> cron.ndjson
done
found cron.ndjson > cron.txt
if diff truth.txt cron.txt > diff.txt; then pass; else fail "three cron runs differ from the planted events"; cat diff.txt >&2; fi
check "the runs resumed where the last stopped" \
  test "$(jq -s -r '[.[] | select(.kind=="summary") | .from_index] | map(. > 0) | tostring' run-*.ndjson)" = "[false,true,true]"
expect_exit 0 mt audit --db inc.db --state audit.state --trust keys/hospital.pub
check "a fourth run with nothing new finds nothing" test "$(tail -1 out.txt | jq .findings)" = 0
# Pending (unanchored) readings wait for the next block.
echo '{"device":"wb-0001","seq":11,"time":"2026-03-01T08:41:00Z","type":"body_temperature","value":38.5,"unit":"Cel","subject":"patient-1"}' |
  mt ingest --db inc.db --key keys/gw-1.key > /dev/null 2>&1
expect_exit 0 mt audit --db inc.db --state audit.state
check "pending fever not audited yet" test "$(tail -1 out.txt | jq .readings)" = 0
mt anchor --db inc.db --key keys/hospital.key > /dev/null
expect_exit 1 mt audit --db inc.db --state audit.state
check "after anchoring it is" test "$(found out.txt)" = "fever wb-0001 2026-03-01T08:41:00.000Z"

# A rewritten history: critical, exit 1, state left as it was.
cp audit.state state.before
# (the rewrite reaches records the last run saw, and a new block was sealed over it since)
cp inc.db rewritten.db
echo '{"device":"wb-0001","seq":12,"time":"2026-03-01T08:42:00Z","type":"body_temperature","value":36.5,"unit":"Cel","subject":"patient-1"}' |
  mt ingest --db rewritten.db --key keys/gw-1.key > /dev/null 2>&1
mt anchor --db rewritten.db --key keys/hospital.key > /dev/null
sqlite3 rewritten.db "UPDATE nodes SET hash = zeroblob(32)"
expect_exit 1 mt audit --db rewritten.db --state audit.state
check "rewritten history is a critical 'history' finding" \
  test "$(jq -r 'select(.kind=="finding") | "\(.rule) \(.severity) \(.check)"' out.txt | head -1)" = "history critical consistency"
check "state unchanged after a rewrite" cmp -s audit.state state.before
cp inc.db shrunk.db
sqlite3 shrunk.db "DELETE FROM blocks WHERE height = (SELECT max(height) FROM blocks)"
expect_exit 1 mt audit --db shrunk.db --state audit.state
check "removed block is history_shrank" grep -q '"check":"history_shrank"' out.txt
# Another ledger of the same origin is not the history this state saw.
expect_exit 1 mt audit --db ward.db --state audit.state
check "another ledger under the same name is a rewritten history" grep -q '"rule":"history"' out.txt

finish
