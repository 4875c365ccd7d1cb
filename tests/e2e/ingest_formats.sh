#!/usr/bin/env bash
# FHIR and CSV input: the official HL7 examples and Synthea output round-trip (ingest, then
# show / trace give the values back), rejections carry the Bundle entry or CSV row, the format
# is detected from the content, and a contradiction with --format is an error (exit 2).
source "$(dirname "$0")/lib.sh"
DATA="${MEDTRAIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/../shared/data"
[ -d "$DATA/hl7-phd-ig" ] || { echo "no test data at $DATA"; fail "test data"; finish; exit 1; }

CLEAR_PAYLOADS=1 setup_ledger 1 || { fail "setup"; finish; exit 1; }
enroll_device() { mt enroll --db ward.db --key keys/hospital.key --role device --name "$1" > /dev/null || fail "enroll $1"; }
for d in phd-74E8FFFEFF051C00.001C05FFE874 phd-711000FEFF5F49B0.B0495F001071 phg-ecde3d4e58532d31.000000000000 \
  example bp-cuff phd-001 phg-001 garmin-0001 csv-1 csv-2; do
  enroll_device "$d"
done
ingest() { mt ingest --db ward.db --key keys/gw-1.key "$@"; }
# value_of ID: the reading a record holds, as `show` prints it.
reading_of() { mt show --db ward.db "$1" | jq -c '.reading'; }

# --- FHIR: single Observations from the HL7 core and PHD examples --------------------------
expect_exit 0 ingest --format fhir --device bp-cuff "$DATA/hl7-fhir-r4-examples/observation-example-bloodpressure.json"
bp_id=$(jq -r .id out.txt)
check "bp receipt names its FHIR id" jq -e '.fhir == "Observation/blood-pressure" and .type == "blood_pressure"' out.txt
check "bp values back from show" jq -e '.systolic == 107 and .diastolic == 60 and .unit == "mm[Hg]" and .subject == "Patient/example"' <(reading_of "$bp_id")

expect_exit 0 ingest "$DATA/hl7-fhir-r4-examples/observation-example-satO2.json"   # detected, no --format
check "SpO2 from DeviceMetric/example" jq -e '.device == "example" and .type == "spo2"' out.txt
check "SpO2 value back" jq -e '.value == 95 and .unit == "%"' <(reading_of "$(jq -r .id out.txt)")

# The core temperature and heart-rate examples are dated 1999: before medtrail's 2000 floor for
# reading times, so they are rejected with that reason (exit 3); the same resources dated
# 2019 round-trip.
for f in body-temperature heart-rate; do
  expect_exit 3 ingest --device bp-cuff "$DATA/hl7-fhir-r4-examples/observation-example-$f.json"
  check "$f: 1999 is before the floor" grep -q 'before 2000-01-01' err.txt
  jq '.effectiveDateTime = "2019-07-02"' "$DATA/hl7-fhir-r4-examples/observation-example-$f.json" > "$f-2019.json"
  expect_exit 0 ingest --device bp-cuff "$f-2019.json"
  cp out.txt "$f.receipt"
done
check "temperature back" jq -e '.value == 36.5 and .unit == "Cel"' <(reading_of "$(jq -r .id body-temperature.receipt)")
check "heart rate back" jq -e '.value == 44 and .unit == "/min"' <(reading_of "$(jq -r .id heart-rate.receipt)")

# PHD examples, each on its own: mapped types, generic observations with their coding kept.
for f in compound-numeric-blood-pressure numeric-spo2-alarm numeric-spotnumeric temperature-observation \
  glucose-observation numeric-observation-not-a-number coin-20181119174911 coin-example-timefault bpm-status; do
  expect_exit 0 ingest "$DATA/hl7-phd-ig/$f.json"
  cp out.txt "phd-$f.receipt"
done
check "PHD bp is a blood_pressure" jq -e '.type == "blood_pressure"' phd-compound-numeric-blood-pressure.receipt
check "PHD bp with its mean" jq -e '.systolic and .diastolic and .mean' <(reading_of "$(jq -r .id phd-compound-numeric-blood-pressure.receipt)")
check "MDC-only glucose maps" jq -e '.type == "glucose"' phd-glucose-observation.receipt
check "not-a-number kept as an observation" jq -e '.type == "observation"' phd-numeric-observation-not-a-number.receipt
check "its coding and absent reason kept" jq -e '.code[0].code == "150320" and .data_absent == "not-a-number"' \
  <(reading_of "$(jq -r .id phd-numeric-observation-not-a-number.receipt)")
# bpm-status is derivedFrom Observation/compound-numeric-blood-pressure, ingested above.
status_id=$(jq -r .id phd-bpm-status.receipt)
check "derivedFrom became a derivation link" jq -e --arg p "$(jq -r .id phd-compound-numeric-blood-pressure.receipt)" \
  '.derived_from == [$p]' <(reading_of "$status_id")
expect_exit 0 mt trace --db ward.db "$status_id" --up --format json
check "trace shows the link" grep -q "$(jq -r .id phd-compound-numeric-blood-pressure.receipt)" out.txt
expect_exit 0 mt trace --db ward.db --device phd-711000FEFF5F49B0.B0495F001071
check "device timeline holds the PHD bp" grep -q blood_pressure out.txt

# --- FHIR: transaction Bundles -------------------------------------------------------------
expect_exit 0 ingest --format fhir "$DATA/hl7-phd-ig/bundle-example-1.json"
check "three Observations from the PHD bundle" test "$(grep -c pending out.txt)" -eq 3
check "receipts carry entry indexes" jq -e -s 'map(.entry) | sort == [3,4,5]' out.txt
check "Patient and Devices skipped, and said so" grep -q '"skipped":3' err.txt
check "urn:uuid device resolved to its id" jq -e -s 'map(select(.entry == 4))[0].device == "phd-001"' out.txt

expect_exit 0 ingest "$DATA/hl7-phd-ig/bundle-continuousnonin.json"
check "47 entries of the continuous oximeter" test "$(jq -s 'map(select(.entry != null)) | length' out.txt)" -eq 47
hr_receipt=$(jq -c -s 'map(select(.entry == 2))[0]' out.txt)
check "entry 2 is a heart rate" jq -e '.type == "heart_rate"' <<< "$hr_receipt"
check "its value back" jq -e '.value == 53 and .unit == "/min"' <(reading_of "$(jq -r .id <<< "$hr_receipt")")
expect_exit 0 mt trace --db ward.db --device phd-74E8FFFEFF051C00.001C05FFE874 --type heart_rate
check "trace --device gives the oximeter's heart rates" test "$(grep -c heart_rate out.txt)" -ge 12
check "including entry 2's, with its value" jq -e -s --arg id "$(jq -r .id <<< "$hr_receipt")" \
  'map(select(.id == $id))[0].reading.value == 53' out.txt

expect_exit 0 ingest "$DATA/hl7-fhir-r4-examples-package/Bundle-bundle-transaction.json"
check "a bundle of Patients and DELETEs records nothing" test ! -s out.txt
check "its ten entries are skipped" grep -q '"skipped":10' err.txt

# Re-sending a bundle: every reading is a duplicate, nothing added.
expect_exit 0 ingest "$DATA/hl7-phd-ig/bundle-example-1.json"
check "re-sent bundle: duplicates" test "$(grep -c duplicate out.txt)" -eq 3

# --- FHIR Bulk NDJSON (Synthea) and hasMember ------------------------------------------------
# Synthea's Patient and Device files hold no Observations: read, skipped, nothing rejected.
expect_exit 0 ingest "$DATA/synthea-sample-bulk-fhir/Patient.000.ndjson" "$DATA/synthea-sample-bulk-fhir/Device.000.ndjson"
check "Synthea resources are detected as FHIR and skipped" grep -q '"skipped":29' err.txt
cat > bulk.ndjson <<'EOF'
{"resourceType":"Observation","id":"hr-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p-7"},"effectiveDateTime":"2026-03-01T10:00:00Z","device":{"reference":"Device/csv-1"},"valueQuantity":{"value":88,"unit":"beats/min","system":"http://unitsofmeasure.org","code":"/min"}}
{"resourceType":"Observation","id":"rr-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9279-1"}]},"subject":{"reference":"Patient/p-7"},"effectiveDateTime":"2026-03-01T10:00:00Z","device":{"reference":"Device/csv-1"},"valueQuantity":{"value":18,"system":"http://unitsofmeasure.org","code":"/min"}}
{"resourceType":"Observation","id":"vitals-1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85353-1","display":"Vital signs panel"}]},"subject":{"reference":"Patient/p-7"},"effectiveDateTime":"2026-03-01T10:00:00Z","device":{"reference":"Device/csv-1"},"hasMember":[{"reference":"Observation/hr-1"},{"reference":"Observation/rr-1"},{"reference":"Observation/not-here"}]}
{"resourceType":"Observation","id":"hr-2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2026-03-01T10:01:00Z","device":{"reference":"Device/csv-1"},"valueString":"fast"}
EOF
expect_exit 3 ingest --format fhir --rejects bulk-rejects.ndjson bulk.ndjson
check "bulk NDJSON: three recorded" test "$(grep -c pending out.txt)" -eq 3
check "bulk rejection names line 4 and why" jq -e '.line == 4 and (.reason | test("not a quantity"))' bulk-rejects.ndjson
panel=$(jq -c 'select(.fhir == "Observation/vitals-1")' out.txt)
check "unresolved member listed in the receipt" jq -e '.unresolved == ["Observation/not-here"]' <<< "$panel"
check "the panel is derived from its two members" jq -e '.derived_from | length == 2' <(reading_of "$(jq -r .id <<< "$panel")")
check "the panel keeps its LOINC coding" jq -e '.type == "observation" and .code[0].code == "85353-1"' <(reading_of "$(jq -r .id <<< "$panel")")
expect_exit 0 mt trace --db ward.db --subject Patient/p-7 --data-key keys/hospital.datakey
check "subject pseudonymised as for NDJSON: trace --subject finds 3" test "$(wc -l < out.txt)" -eq 3

# --- FHIR: broken resources are rejected with their entry index -------------------------------
jq '.entry[4].resource |= del(.status) | .entry[5].resource.valueQuantity.system = "http://example.org" |
    .entry[3].resource |= del(.code)' "$DATA/hl7-phd-ig/bundle-example-1.json" > broken-bundle.json
expect_exit 3 ingest --rejects broken.ndjson broken-bundle.json
check "three rejections" test "$(wc -l < broken.ndjson)" -eq 3
check "entry 4: no status" jq -e -s 'map(select(.entry == 4))[0].reason | test("no status")' broken.ndjson
check "entry 5: not UCUM" jq -e -s 'map(select(.entry == 5))[0].reason | test("unitsofmeasure")' broken.ndjson
check "entry 3: no code" jq -e -s 'map(select(.entry == 3))[0].reason | test("no code")' broken.ndjson
echo '{"resourceType":"Bundle","type":"history","entry":[]}' > history.json
expect_exit 3 ingest history.json
check "unsupported Bundle type rejected" grep -q 'history' err.txt
printf '{\n  "resourceType": "Observation",\n  "status": \n' > truncated.json
expect_exit 3 ingest --format fhir truncated.json
check "truncated document rejected" grep -q 'not a valid JSON document' err.txt
expect_exit 3 ingest "$DATA/hl7-fhir-r4-examples/observation-example-bloodpressure.json"
check "no device and no --device: rejected, saying so" grep -q -- '--device' err.txt

# --- CSV -----------------------------------------------------------------------------------
printf '\xEF\xBB\xBFdevice,time,type,value,unit,subject\r\n' > readings.csv
printf 'csv-1,2026-03-01T10:00:00Z,heart_rate,72,/min,patient-1\r\n' >> readings.csv
printf '"csv-1","2026-03-01T10:00:01Z","body_temperature","37.5","Cel","patient ""x"", ward 3"\r\n' >> readings.csv
printf 'csv-1,2026-03-01T10:00:02Z,heart_rate,fast,/min,\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:03Z,spo2,97,%%,"two\r\nlines"\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:03Z,spo2,97,%%,patient-2\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:04Z,spo2,970,%%,\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:05Z,spo2,96,%%\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:06Z,spo2,9"6,%%,\r\n' >> readings.csv
printf 'csv-2,2026-03-01T10:00:07Z,spo2,95,%%,"never closed\r\n' >> readings.csv
expect_exit 3 ingest --rejects csv-rejects.ndjson readings.csv
check "CSV: three rows recorded" test "$(grep -c pending out.txt)" -eq 3
check "receipts carry rows (header is row 1)" jq -e -s 'map(.row) == [2,3,6]' out.txt
check "row 6 starts on line 7: row 5 spans two lines" jq -e -s '.[2].line == 7' out.txt
check "six bad rows, with their numbers" jq -e -s 'map(.row) == [4,5,7,8,9,10]' csv-rejects.ndjson
check "bad rows say why" bash -c "grep -q 'not a number' csv-rejects.ndjson && grep -q 'plausible range' csv-rejects.ndjson &&
  grep -q '5 fields' csv-rejects.ndjson && grep -q 'quote inside' csv-rejects.ndjson && grep -q 'unterminated' csv-rejects.ndjson"
check "quoted subject with comma and quotes back" jq -e '.subject == "patient \"x\", ward 3" and .value == 37.5' \
  <(reading_of "$(jq -r -s '.[1].id' out.txt)")
# A line break inside a quoted field stays in the field (and a subject may not hold one).
check "row 5: one record over lines 5-6" jq -e -s 'map(select(.row == 5))[0] | .line == 5 and (.reason | test("subject"))' csv-rejects.ndjson
printf 'device,time,colour\ncsv-1,2026-03-01T10:00:00Z,red\n' > unmapped.csv
expect_exit 3 ingest unmapped.csv
check "a column that is no member needs a map" grep -q -- '--map' err.txt

# The Garmin export (FLIRT): semicolons, no header, typed rows; the shipped example map.
head -400 "$DATA/flirt-wearable/garmin/data.csv" > garmin.csv
expect_exit 0 ingest --map "$MEDTRAIL_SOURCE_DIR/examples/maps/garmin.yaml" garmin.csv
cp out.txt garmin.receipts
hr_rows=$(grep -c ';HEART_RATE;' garmin.csv)
check "every Garmin heart-rate row recorded" test "$(grep -c pending out.txt)" -eq "$hr_rows"
check "other Garmin rows skipped, and counted" grep -q "\"skipped\":$((400 - hr_rows))" err.txt
first=$(grep -m1 ';HEART_RATE;' garmin.csv)
check "first Garmin row's value back" jq -e --argjson v "${first##*;}" '.value == $v and .unit == "/min" and .time == "2019-10-16T12:09:00.511+02:00"' \
  <(reading_of "$(jq -r -s '.[0].id' garmin.receipts)")
expect_exit 0 mt trace --db ward.db --device garmin-0001 --type heart_rate
check "trace --device lists every Garmin heart rate" test "$(wc -l < out.txt)" -eq "$hr_rows"

printf 'header: maybe\n' > bad-map.yaml
expect_exit 3 ingest --map bad-map.yaml readings.csv
check "a bad map names file:line:column" grep -q 'bad-map.yaml:1:9' err.txt
expect_exit 4 ingest --map no-such-map.yaml readings.csv

# --- detection and contradictions --------------------------------------------------------------
cp readings.csv before.csv
count_before=$(sqlite3 ward.db 'SELECT count(*) FROM leaves')
expect_exit 2 ingest --format fhir readings.csv
check "csv given as fhir: said so" grep -q 'holds csv, not --format fhir' err.txt
expect_exit 2 ingest --format ndjson bulk.ndjson
check "fhir-ndjson given as ndjson" grep -q 'holds fhir-ndjson' err.txt
expect_exit 2 ingest --format csv "$DATA/hl7-phd-ig/bundle-example-1.json"
expect_exit 2 ingest --map "$MEDTRAIL_SOURCE_DIR/examples/maps/garmin.yaml" bulk.ndjson
check "--map on FHIR input" grep -q 'map is for CSV' err.txt
expect_exit 2 ingest --format xml readings.csv
# A contradiction in the second file stops the run before the first is read.
expect_exit 2 ingest --format csv readings.csv bulk.ndjson
check "nothing committed by refused runs" test "$(sqlite3 ward.db 'SELECT count(*) FROM leaves')" -eq "$count_before"

# Everything above verifies, including the source_refs index; an edited index is found.
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub
cp ward.db edited.db
sqlite3 edited.db "UPDATE source_refs SET ref = 'Observation/forged' WHERE ref = 'Observation/hr-1'"
expect_exit 1 mt verify --db edited.db --trust keys/hospital.pub
check "an edited source_refs row is a trace_index finding" grep -q trace_index out.txt

# A schema-5 ledger (before source_refs) is migrated by the next writer and still verifies.
expect_exit 0 mt init --db v4.db --authority keys/hospital.key --origin test.example/v4
sqlite3 v4.db "$UNDO_SCHEMA_8 DROP TABLE source_refs; DROP TABLE wraps; DROP TABLE wrap_keys; DROP INDEX leaves_privacy; PRAGMA user_version = 5;"
expect_exit 5 mt verify --db v4.db --trust keys/hospital.pub
expect_exit 0 mt enroll --db v4.db --key keys/hospital.key --role device --name csv-1
check "migrated to the current schema" test "$(sqlite3 v4.db 'PRAGMA user_version')" = "$(sqlite3 ward.db 'PRAGMA user_version')"
expect_exit 0 mt verify --db v4.db --trust keys/hospital.pub

finish
