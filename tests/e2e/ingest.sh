#!/usr/bin/env bash
# Ingest validation: every bad line is rejected with its line number and reason, valid lines
# are still committed (exit 3), --atomic commits nothing, replays are duplicates, and devices
# enrolled with a key must sign.
source "$(dirname "$0")/lib.sh"

setup_ledger 3 || { fail "setup"; finish; exit 1; }
good='{"device":"wb-0001","time":"2026-03-01T10:15:00.120Z","type":"body_temperature","value":37.9,"unit":"Cel","subject":"patient-123"}'
cat > mixed.ndjson <<EOF2
$good
not json at all
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"levitation","value":1}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"body_temperature","value":37.9,"unit":"kg"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"body_temperature","value":99.5,"unit":"Cel"}
{"device":"wb-0001","time":"2999-03-01T10:16:00Z","type":"heart_rate","value":70,"unit":"/min"}
{"time":"2026-03-01T10:16:00Z","type":"heart_rate","value":70,"unit":"/min"}
{"device":"stranger","time":"2026-03-01T10:16:00Z","type":"heart_rate","value":70,"unit":"/min"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"heart_rate","value":70,"unit":"/min","colour":"red"}
{"device":"wb-0001","time":"2026-03-01 10:16","type":"heart_rate","value":70,"unit":"/min"}
{"device":"wb-0001","time":"2026-02-30T10:16:00Z","type":"heart_rate","value":70,"unit":"/min"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"heart_rate","value":"70","unit":"/min"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"blood_pressure","systolic":70,"diastolic":90,"unit":"mm[Hg]"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"pcr_test","result":"positive"}
{"device":"wb-0001","time":"2026-03-01T10:16:00Z","type":"spo2","value":97,"unit":"%","subject":"patient-123"}
[1,2,3]
{"device":"wb-0001","time":"2026-03-01T10:17:00+08:00","type":"location","lat":22.1987,"lon":113.5439,"accuracy_m":4}
EOF2
head -c 70000 /dev/zero | tr '\0' 'x' >> mixed.ndjson; echo >> mixed.ndjson
expect_exit 3 mt ingest --db ward.db --key keys/gw-1.key --rejects rejects.ndjson mixed.ndjson
check "three accepted" test "$(jq -s 'map(select(.status=="pending")) | length' out.txt)" -eq 3
check "fifteen rejected" test "$(wc -l < rejects.ndjson)" -eq 15
check "rejections carry line numbers" jq -e -s 'map(.line) | sort == [2,3,4,5,6,7,8,9,10,11,12,13,14,16,18]' rejects.ndjson
check "reasons are specific" bash -c "grep -q 'not a UCUM unit' rejects.ndjson && grep -q 'plausible range' rejects.ndjson &&
  grep -q 'in the future' rejects.ndjson && grep -q 'not enrolled' rejects.ndjson && grep -q 'unknown field' rejects.ndjson &&
  grep -q 'longer than' rejects.ndjson && grep -q 'systolic' rejects.ndjson && grep -q 'needs a' rejects.ndjson"
check "receipt lines name input lines" jq -e -s 'map(.line) == [1,15,17]' out.txt

# Replays are reported as duplicates of the existing record, never added twice.
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key <<< "$good"
check "duplicate" jq -e '.status == "duplicate"' out.txt
check "duplicate points at the first record" test "$(jq -r .id out.txt)" = "$(jq -r -s '.[0].id' <(mt ingest --db ward.db --key keys/gw-1.key <<< "$good" 2>/dev/null))"

# --atomic: one bad line and nothing is committed.
before=$(sqlite3 ward.db "SELECT count(*) FROM leaves")
printf '%s\n%s\n' '{"device":"wb-0002","time":"2026-03-01T11:00:00Z","type":"heart_rate","value":71,"unit":"/min"}' 'oops' > atomic.ndjson
expect_exit 3 mt ingest --db ward.db --key keys/gw-1.key --atomic atomic.ndjson
check "atomic: no receipts printed" test ! -s out.txt
check "atomic: nothing committed" test "$(sqlite3 ward.db 'SELECT count(*) FROM leaves')" -eq "$before"
head -1 atomic.ndjson > atomic-ok.ndjson
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key --atomic atomic-ok.ndjson
check "atomic: committed when clean" test "$(jq -r .status out.txt)" = pending

# A device enrolled with a public key must sign each reading (Ed25519 over JCS without "sig").
mt keygen --name thermo-9 --role device --out keys/ > /dev/null
expect_exit 0 mt enroll --db ward.db --key keys/hospital.key --role device --name thermo-9 keys/thermo-9.pub
reading='{"device":"thermo-9","time":"2026-03-01T12:00:00Z","type":"body_temperature","unit":"Cel","value":36.6}'
printf '%s' "$(jq -cS . <<< "$reading")" > msg.bin
sig=$(openssl pkeyutl -sign -inkey keys/thermo-9.key -rawin -in msg.bin | base64 -w0)
jq -c --arg sig "$sig" '. + {sig: $sig}' <<< "$reading" > signed.ndjson
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key signed.ndjson
expect_exit 3 mt ingest --db ward.db --key keys/gw-1.key <<< "$(jq -c '.value = 36.7' signed.ndjson)"
check "forged device signature rejected" grep -q 'does not verify' err.txt
expect_exit 3 mt ingest --db ward.db --key keys/gw-1.key <<< "$(jq -c 'del(.sig) | .value = 36.8' signed.ndjson)"
check "unsigned reading from a keyed device rejected" grep -q 'must sign' err.txt

# Only enrolled gateways (or authorities) may ingest; the data key must be found.
mt keygen --name gw-rogue --role gateway --out rogue/ > /dev/null
expect_exit 4 mt ingest --db ward.db --key rogue/gw-rogue.key --data-key keys/hospital.datakey <<< "$good"
expect_exit 4 mt ingest --db ward.db --key rogue/gw-rogue.key <<< "$good"
check "missing data key explained" grep -q 'data key' err.txt
expect_exit 4 mt ingest --db ward.db --key keys/gw-1.key no-such-file.ndjson
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

# A live stream that goes quiet: its readings are committed (and receipted) about a second
# later, not when the next line happens to arrive.
mt simulate --devices 3 --minutes 1 --seed 41 | head -n 3 > quiet.ndjson
# The stream is a fifo this script holds open until the receipts are in (or 30 s passed), so a
# slow machine (or ASan) cannot close it first.
rm -f quiet.fifo && mkfifo quiet.fifo
mt ingest --db ward.db --key keys/gw-1.key < quiet.fifo > quiet-receipts.ndjson 2> quiet-err.txt &
streamer=$!
exec 4> quiet.fifo
cat quiet.ndjson >&4
for _ in $(seq 1 300); do [ "$(wc -l < quiet-receipts.ndjson)" -ge 3 ] && break; sleep 0.1; done
check "receipts arrive while the stream is still open" test "$(wc -l < quiet-receipts.ndjson)" -eq 3
check "the ingest is still reading then" kill -0 "$streamer"
exec 4>&-
wait "$streamer"
check "the ingest ends when the stream does" test $? -eq 0
sed "s/^/  quiet stream: /" quiet-err.txt >&2

# The subject never appears in clear in the ledger file.
sqlite3 ward.db "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
check "pseudonymised subject in leaves" test "$(sqlite3 ward.db "SELECT count(*) FROM leaves JOIN subjects ON ref = subject_ref WHERE length(pseudonym) = 32")" -ge 1
finish
