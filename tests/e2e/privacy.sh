#!/usr/bin/env bash
# privacy: encrypted payloads (nothing in clear in the file, its WAL or receipts; a salted
# commitment resists a value search), grants (subject, device, record, all; expiry and
# revocation), audited reads (signed access records, refusals recorded and exit 4), the audit
# access rule, erasure by crypto-shredding (verify exits 0 and lists the erased; a payload
# deleted by hand is tampering), and hostile keys and ciphertexts.
source "$(dirname "$0")/lib.sh"

mt keygen --name hospital --role authority --out keys/ > /dev/null
mt keygen --name gw-1 --role gateway --out keys/ > /dev/null
mt keygen --name dr-lee --role clinician --out keys/ > /dev/null
mt keygen --name dr-kim --role clinician --out keys/ > /dev/null
mt keygen --name aud-1 --role auditor --out keys/ > /dev/null
echo "s3cret phrase" > pass.txt
mt keygen --name dr-pass --role clinician --out keys/ --passphrase-file pass.txt > /dev/null
check "a clinician key holds a second (X25519) key" test "$(grep -c 'BEGIN PRIVATE KEY' keys/dr-lee.key)" = 2
check "its public file names the encryption key" grep -q '^# enc_key_id: [0-9a-f]\{16\}$' keys/dr-lee.pub
check "a gateway key has none" test "$(grep -c 'BEGIN' keys/gw-1.key)" = 1
mt init --db ward.db --authority keys/hospital.key --origin test.example/privacy > /dev/null
mt enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
for who in dr-lee dr-kim dr-pass; do mt enroll --db ward.db --key keys/hospital.key --role clinician --name $who keys/$who.pub > /dev/null; done
mt enroll --db ward.db --key keys/hospital.key --role auditor --name aud-1 keys/aud-1.pub > /dev/null
for d in wb-1 wb-2 bp-3; do mt enroll --db ward.db --key keys/hospital.key --role device --name $d > /dev/null; done
check "the genesis record makes the authority the data owner" \
  bash -c "'$MEDTRAIL' show --db ward.db \$(sqlite3 ward.db \"SELECT lower(hex(id)) FROM leaves WHERE idx = 0\") --format json | jq -e '.record.enc_key | length == 44'"

# Distinctive values and identifiers, to look for in the file afterwards.
cat > readings.ndjson <<'R'
{"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"body_temperature","value":38.47,"unit":"Cel","subject":"patient-alpha-7731"}
{"device":"wb-1","time":"2026-03-01T08:05:00Z","type":"body_temperature","value":38.91,"unit":"Cel","subject":"patient-alpha-7731"}
{"device":"wb-2","time":"2026-03-01T08:01:00Z","type":"heart_rate","value":131,"unit":"/min","subject":"patient-beta-4410"}
{"device":"bp-3","time":"2026-03-01T08:02:00Z","type":"blood_pressure","systolic":187,"diastolic":119,"unit":"mm[Hg]","subject":"patient-gamma-5120"}
R
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key readings.ndjson
cp out.txt receipts.ndjson
alpha1=$(sed -n 1p receipts.ndjson | jq -r .id); alpha2=$(sed -n 2p receipts.ndjson | jq -r .id)
beta=$(sed -n 3p receipts.ndjson | jq -r .id); gamma=$(sed -n 4p receipts.ndjson | jq -r .id)
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key
expect_exit 0 mt prove --db ward.db "$alpha1"
cp out.txt receipt.json

# ---- Nothing in clear: the file, its WAL, receipts and proofs.
sqlite3 ward.db "PRAGMA wal_checkpoint(PASSIVE)" > /dev/null
for needle in 38.47 38.91 patient-alpha-7731 patient-beta-4410 patient-gamma-5120 '"systolic":187'; do
  check "no '$needle' in the ledger file or its WAL" bash -c "! grep -a -q -F -- '$needle' ward.db ward.db-wal 2>/dev/null"
  check "no '$needle' in receipts or proofs" bash -c "! grep -q -F -- '$needle' receipts.ndjson receipt.json"
done
check "no clear payload column is filled" test "$(sqlite3 ward.db 'SELECT count(*) FROM payloads WHERE salt IS NOT NULL OR reading IS NOT NULL')" = 0
check "every reading has a ciphertext" test "$(sqlite3 ward.db 'SELECT count(*) FROM payloads WHERE ciphertext IS NOT NULL')" = 4
# The salts: decrypted by the owner through the library's reader, then looked for as bytes.
# (show prints readings, not salts; the owner's verify --key checks the commitments below.)

# A salted commitment cannot be matched by trying every body temperature: the search below
# finds a bare (unsalted) hash in the same space, so the test fails if salting is dropped.
commitment=$(mt show --db ward.db "$alpha1" --format json | jq -r .record.commitment)
cat > search.py <<'PY'
import hashlib, json, sys
target = sys.argv[1]
def candidates():
    for centi in range(3000, 4501):
        value = centi / 100
        reading = {"device": "wb-1", "subject": "patient-alpha-7731", "time": "2026-03-01T08:00:00Z",
                   "type": "body_temperature", "unit": "Cel", "value": value}
        yield value, json.dumps(reading, separators=(",", ":"), sort_keys=True)
control = hashlib.sha256(dict(candidates())[38.47].encode()).hexdigest()
found_control = any(hashlib.sha256(text.encode()).hexdigest() == control for _, text in candidates())
found_real = [v for v, text in candidates() if hashlib.sha256(text.encode()).hexdigest() == target]
print(json.dumps({"control_found": found_control, "real_found": found_real}))
PY
python3 search.py "$commitment" > search.json
check "the search finds an unsalted hash (control)" jq -e '.control_found' search.json
check "but not the salted commitment" jq -e '.real_found == []' search.json

# ---- Reads: without a key, by the owner, by a clinician without and with a grant.
expect_exit 0 mt show --db ward.db "$alpha1" --format json
check "without a key the reading is encrypted" jq -e '.payload == "encrypted" and (has("reading") | not)' out.txt
accesses() { sqlite3 ward.db "SELECT count(*) FROM leaves WHERE kind_code = 10"; }
check "reading nothing records nothing" test "$(accesses)" = 0
expect_exit 0 mt show --db ward.db "$alpha1" --key keys/hospital.key --purpose "quality check" --format json
check "the owner reads the value" jq -e '.payload == "decrypted" and .reading.value == 38.47' out.txt
check "and the read is recorded" test "$(accesses)" = 1
expect_exit 4 mt show --db ward.db "$alpha1" --key keys/dr-lee.key --format json
check "a clinician without a grant is refused" jq -e '.payload == "refused" and (has("reading") | not)' out.txt
check "refusal says why" grep -q 'no grant to dr-lee covers this record' err.txt
check "the refusal is recorded too" test "$(accesses)" = 2
check "the access record is signed by the reader" test \
  "$(sqlite3 ward.db "SELECT (SELECT text FROM labels WHERE labels.ref = device_ref) || ' ' || key_id || ' ' || json_extract(extra, '$.outcome') FROM leaves JOIN signer_keys ON ref = signer_ref WHERE kind_code = 10 ORDER BY idx DESC LIMIT 1")" \
  = "dr-lee $(grep -o '^# key_id: .*' keys/dr-lee.pub | cut -d' ' -f3) refused"

expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to dr-lee --subject patient-alpha-7731 --purpose treatment
grant_alpha=$(jq -r .grant out.txt)
check "the grant wrapped the subject's two readings" jq -e '.wrapped == 2 and .record.scope == "subject" and .record.name == "dr-lee"' out.txt
check "the grant holds the pseudonym, not the patient id" bash -c "! grep -q patient-alpha out.txt"
expect_exit 0 mt show --db ward.db "$alpha2" --key keys/dr-lee.key --purpose treatment --format json
check "the grantee reads the covered reading" jq -e '.reading.value == 38.91 and .payload == "decrypted"' out.txt
expect_exit 4 mt show --db ward.db "$beta" --key keys/dr-lee.key
check "but not another patient's" grep -q 'no grant' err.txt
# Readings ingested after the grant are wrapped to the grantee at ingest.
echo '{"device":"wb-1","time":"2026-03-01T08:10:00Z","type":"body_temperature","value":39.02,"unit":"Cel","subject":"patient-alpha-7731"}' > later.ndjson
expect_exit 0 mt ingest --db ward.db --key keys/gw-1.key later.ndjson
alpha3=$(jq -r .id out.txt)
expect_exit 0 mt show --db ward.db "$alpha3" --key keys/dr-lee.key --format json
check "a later reading of the subject is readable by the grantee" jq -e '.reading.value == 39.02' out.txt

# Device and record scopes; a grant that expires.
expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to dr-kim --device bp-3
expect_exit 0 mt show --db ward.db "$gamma" --key keys/dr-kim.key --format json
check "device grant: blood pressure readable" jq -e '.reading.systolic == 187' out.txt
expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to dr-kim --record "${beta:0:12}"
expect_exit 0 mt show --db ward.db "$beta" --key keys/dr-kim.key --format json
check "record grant: that one record" jq -e '.reading.value == 131' out.txt
expect_exit 4 mt show --db ward.db "$alpha1" --key keys/dr-kim.key
# Far enough ahead for a slow (sanitized, loaded) run to read before it; then wait it out.
until_epoch=$(( $(date +%s) + 20 ))
until_time=$(date -u -d "@$until_epoch" +%Y-%m-%dT%H:%M:%SZ)
expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to dr-pass --subject patient-beta-4410 --until "$until_time"
MEDTRAIL_PASSPHRASE="s3cret phrase" expect_exit 0 mt show --db ward.db "$beta" --key keys/dr-pass.key
while [ "$(date +%s)" -le "$until_epoch" ]; do sleep 1; done
MEDTRAIL_PASSPHRASE="s3cret phrase" expect_exit 4 mt show --db ward.db "$beta" --key keys/dr-pass.key
check "after --until the grant has expired" grep -q 'expired' err.txt

# Revocation: refused from then on, and the grantee's wrapped keys are destroyed.
wraps_of() { sqlite3 ward.db "SELECT count(*) FROM wraps WHERE recipient = '$(grep -o '^# enc_key_id: .*' keys/$1.pub | cut -d' ' -f3)'"; }
check "dr-lee holds three wrapped keys" test "$(wraps_of dr-lee)" = 3
expect_exit 0 mt revoke --db ward.db --key keys/hospital.key "${grant_alpha:0:12}" --reason "treatment ended"
check "revoke destroyed them" jq -e '.keys_destroyed == 3' out.txt
check "none left" test "$(wraps_of dr-lee)" = 0
expect_exit 4 mt show --db ward.db "$alpha1" --key keys/dr-lee.key
check "a read after revocation is refused as such" grep -q 'revoked' err.txt
expect_exit 2 mt revoke --db ward.db --key keys/hospital.key "${grant_alpha:0:12}"
check "revoking twice is a usage error" grep -q 'already revoked' err.txt

# Only the data owner grants; only enrolled identities with encryption keys receive grants.
expect_exit 2 mt grant --db ward.db --key keys/dr-lee.key --to dr-kim --device wb-1
expect_exit 4 mt grant --db ward.db --key keys/hospital.key --to nobody --device wb-1
expect_exit 2 mt grant --db ward.db --key keys/hospital.key --to gw-1 --device wb-1
check "a gateway cannot be granted" grep -q 'without an encryption key' err.txt
expect_exit 2 mt grant --db ward.db --key keys/hospital.key --to dr-kim
expect_exit 2 mt grant --db ward.db --key keys/hospital.key --to dr-kim --device wb-1 --record "${beta:0:12}"
expect_exit 2 mt grant --db ward.db --key keys/hospital.key --to dr-kim --device wb-1 --until 2020-01-01T00:00:00Z
expect_exit 2 mt grant --db ward.db --key keys/hospital.key --to dr-kim --device wb-1 --until tomorrow

# Wrong keys and passphrases.
expect_exit 5 mt show --db ward.db "$alpha1" --key keys/dr-pass.key
MEDTRAIL_PASSPHRASE="wrong" expect_exit 5 mt show --db ward.db "$alpha1" --key keys/dr-pass.key
check "wrong passphrase says so" grep -q 'wrong passphrase' err.txt
expect_exit 5 mt show --db ward.db "$alpha1" --key keys/gw-1.key
check "a key without an encryption key cannot decrypt" grep -q 'no encryption key' err.txt
mkdir other && mt keygen --name dr-lee --role clinician --out other/ > /dev/null
expect_exit 4 mt show --db ward.db "$alpha1" --key other/dr-lee.key
check "an unenrolled key is told so" grep -q 'not enrolled' err.txt

# Enrolled from an NDJSON line with the keys keygen printed: the encryption key comes along.
mt keygen --name dr-ndjson --role clinician --out keys/ | jq -c '{name, role: "clinician", public_key, enc_key}' > line.ndjson
expect_exit 0 mt enroll --db ward.db --key keys/hospital.key --from line.ndjson
expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to dr-ndjson --record "${beta:0:12}"
expect_exit 0 mt show --db ward.db "$beta" --key keys/dr-ndjson.key --format json
check "an identity enrolled --from NDJSON with enc_key can be granted" jq -e '.reading.value == 131' out.txt
echo '{"name":"dr-bad","role":"clinician","enc_key":"AAAA"}' > bad-line.ndjson
expect_exit 3 mt enroll --db ward.db --key keys/hospital.key --from bad-line.ndjson

# ---- verify: digests without a key; everything with the owner's key.
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub
check "verify counts the encrypted payloads" jq -e -s '.[-1] | .encrypted == 5 and .erased == 0 and .status == "verified"' out.txt
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub --key keys/hospital.key
check "with the owner's key every payload is decrypted and checked" jq -e -s '.[-1] | .decrypted == 5' out.txt
expect_exit 2 mt verify --db ward.db --trust keys/hospital.pub --key keys/dr-kim.key

# ---- audit: the access rule over the access records.
cat > access.yaml <<'Y'
name: reads
rules:
  - name: who-reads
    kind: access
    severity: warning
    max_reads: 1
    within: 1h
Y
expect_exit 1 mt audit --db ward.db --policy access.yaml
check "refused reads are findings" jq -e -s 'any(.[]; .check == "read_outside_grant" and .device == "dr-lee")' out.txt
check "a read after revocation is its own finding" jq -e -s 'any(.[]; .check == "read_after_revocation" and .device == "dr-lee")' out.txt
check "expiry counts as revocation" jq -e -s 'any(.[]; .check == "read_after_revocation" and .device == "dr-pass")' out.txt
check "dr-kim read more than 1 record within the hour" jq -e -s 'any(.[]; .check == "read_volume" and .device == "dr-kim")' out.txt
check "every finding's evidence is an access record" bash -c "jq -r 'select(.kind == \"finding\") | .evidence[]' out.txt | while read -r id; do
  [ \"\$(sqlite3 ward.db \"SELECT kind_code FROM leaves WHERE lower(hex(id)) = '\$id'\")\" = 10 ] || exit 1; done"
printf 'name: x\nrules:\n  - {name: a, kind: access, within: 1h}\n' > bad-access.yaml
expect_exit 3 mt audit --db ward.db --policy bad-access.yaml
printf 'name: x\nrules:\n  - {name: a, kind: access, max_reads: 0}\n' > bad-access.yaml
expect_exit 3 mt audit --db ward.db --policy bad-access.yaml
# A rule on values needs a key; an auditor with --all reads everything, and says so in the log.
printf 'name: fever\nrules:\n  - {name: fever, kind: threshold, severity: warning, type: body_temperature, op: ">=", value: 38, unit: Cel}\n' > fever.yaml
expect_exit 2 mt audit --db ward.db --policy fever.yaml
check "audit without a key refuses to judge encrypted values" grep -q 'encrypted' err.txt
expect_exit 0 mt grant --db ward.db --key keys/hospital.key --to aud-1 --all --purpose "quality audit"
check "--all wraps every reading" jq -e '.wrapped == 5' out.txt
expect_exit 1 mt audit --db ward.db --policy fever.yaml --key keys/aud-1.key
check "the auditor finds the fevers" test "$(jq -s '[.[] | select(.kind == "finding")] | length' out.txt)" = 1
check "its read is an access record" test "$(sqlite3 ward.db "SELECT json_extract(extra, '$.read.count') || json_extract(extra, '$.command') FROM leaves WHERE kind_code = 10 ORDER BY idx DESC LIMIT 1")" = 5audit
expect_exit 0 mt trace --db ward.db --subject patient-alpha-7731 --key keys/aud-1.key --data-key keys/hospital.datakey
check "trace with a key shows values" grep -q '38.47' out.txt

# ---- Tampering with ciphertexts: detected without keys, refused with them.
idx_of() { sqlite3 ward.db "SELECT idx FROM leaves WHERE lower(hex(id)) = '$1'"; }
tamper truncated ciphertext_mismatch "UPDATE payloads SET ciphertext = substr(ciphertext, 1, 20) WHERE idx = $(idx_of "$beta")"
expect_exit 1 mt show --db truncated.db "$beta" --key keys/hospital.key
check "a truncated ciphertext is refused with a reason" grep -q 'differs from the digest' err.txt
tamper swapped ciphertext_mismatch "UPDATE payloads SET ciphertext = (SELECT ciphertext FROM payloads WHERE idx = $(idx_of "$gamma")) WHERE idx = $(idx_of "$beta")"
expect_exit 1 mt show --db swapped.db "$beta" --key keys/hospital.key
tamper deleted payload_missing "UPDATE payloads SET ciphertext = NULL WHERE idx = $(idx_of "$beta")"
tamper dropped payload_missing "DELETE FROM payloads WHERE idx = $(idx_of "$beta")"
cp ward.db wrapswap.db
owner_id=$(grep -o '^# enc_key_id: .*' keys/hospital.pub | cut -d' ' -f3)
sqlite3 wrapswap.db "UPDATE wraps SET (wrap_key, wrapped) = (SELECT wrap_key, wrapped FROM wraps w2 WHERE w2.idx = $(idx_of "$gamma") AND w2.recipient = '$owner_id')
  WHERE idx = $(idx_of "$beta") AND recipient = '$owner_id'"
expect_exit 1 mt show --db wrapswap.db "$beta" --key keys/hospital.key
check "a wrapped key moved from another record does not open" grep -q 'wrapped data key does not open' err.txt

# ---- forget: the subject's payloads are destroyed; the chain still verifies.
alpha_ct=$(sqlite3 ward.db "SELECT hex(ciphertext) FROM payloads WHERE idx = $(idx_of "$alpha1")")
expect_exit 2 mt forget --db ward.db --key keys/dr-lee.key --subject patient-alpha-7731
expect_exit 0 mt forget --db ward.db --key keys/hospital.key --subject patient-alpha-7731 --reason "Art. 17 request 114"
check "three readings erased" jq -e '.erased == 3 and (.erasure | length) == 64' out.txt
check "no ciphertext or wrapped key of the subject is left" test \
  "$(sqlite3 ward.db "SELECT count(*) FROM payloads p JOIN leaves l USING (idx) WHERE l.subject_ref = (SELECT subject_ref FROM leaves WHERE lower(hex(id)) = '$alpha1') AND (p.ciphertext IS NOT NULL OR p.replay_tag IS NOT NULL)")" = 0
check "the WAL was truncated" test "$(stat -c %s ward.db-wal 2>/dev/null || echo 0)" = 0
check "the old ciphertext bytes are nowhere in the file" python3 -c "
import sys
needle = bytes.fromhex('$alpha_ct')[8:40]
data = open('ward.db', 'rb').read()
try: data += open('ward.db-wal', 'rb').read()
except FileNotFoundError: pass
sys.exit(1 if needle in data else 0)"
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub
check "verify lists the erased readings, not as findings" jq -e -s '[.[] | select(.status == "erased")] | length == 3' out.txt
check "and its summary counts them" jq -e -s '.[-1] | .erased == 3 and .findings == 0' out.txt
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub "$alpha1"
expect_exit 0 mt show --db ward.db "$alpha1" --key keys/hospital.key --format json
check "show says erased" jq -e '.payload == "erased"' out.txt
expect_exit 0 mt forget --db ward.db --key keys/hospital.key --subject patient-alpha-7731
check "forgetting again finds nothing left" jq -e '.erased == 0' out.txt
# A payload that vanishes without an erasure record is still tampering.
tamper vanished payload_missing "UPDATE payloads SET ciphertext = NULL WHERE idx = $(idx_of "$gamma")"

# A ledger stored in clear has nothing to grant or erase.
mkdir clear && (cd clear && mt keygen --name hospital --role authority --out keys/ --no-encryption-key > /dev/null &&
  mt init --db clear.db --authority keys/hospital.key --origin test.example/clear > /dev/null) || fail "clear ledger"
expect_exit 2 mt forget --db clear/clear.db --key clear/keys/hospital.key --subject patient-1
check "forget on a clear ledger says why" grep -q 'in clear' err.txt

finish
