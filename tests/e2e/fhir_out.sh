#!/usr/bin/env bash
# FHIR out: trace ID --format fhir (a transaction Bundle of R4 Provenance resources) and audit
# --format fhir (R4 AuditEvent resources, one per line). Checks the elements FHIR R4 requires
# (Provenance: target, recorded, agent.who; Signature: type, when, who; AuditEvent: type,
# recorded, agent.requestor, source.observer), the agents and roles, the derivation entities,
# and that each signature is the Ed25519 signature the ledger holds.
source "$(dirname "$0")/lib.sh"

CLEAR_PAYLOADS=1 setup_ledger 3 || { fail "setup"; finish; exit 1; }
reading() {  # device time type extra-json
  jq -cn --arg d "$1" --arg t "$2" --arg y "$3" --argjson x "$4" '{device:$d, time:$t, type:$y} + $x'
}
ingest_one() { mt ingest --db ward.db --key keys/gw-1.key - 2> /dev/null | jq -r .id; }
A=$(reading wb-0001 2026-03-01T08:00:00Z body_temperature '{"value":38.9,"unit":"Cel","subject":"patient-0001"}' | ingest_one)
B=$(reading wb-0002 2026-03-01T08:01:00Z heart_rate '{"value":88,"unit":"/min"}' | ingest_one)
D=$(reading wb-0003 2026-03-01T08:03:00Z report "{\"title\":\"triage\",\"derived_from\":[\"$A\",\"$B\"]}" | ingest_one)
mt anchor --db ward.db --key keys/hospital.key > block.json

expect_exit 0 mt trace --db ward.db "${D:0:12}" --format fhir
cp out.txt bundle.json
check "one transaction Bundle" jq -e '.resourceType == "Bundle" and .type == "transaction" and (.entry | length) == 3' bundle.json
check "every entry PUTs a Provenance under the record id" jq -e \
  'all(.entry[]; .resource.resourceType == "Provenance" and .request.method == "PUT" and .request.url == "Provenance/\(.resource.id)")' bundle.json
check "required: target, recorded (an instant), agent with who" jq -e 'all(.entry[].resource;
  (.target | length) >= 1 and (.recorded | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and
  (.agent | length) >= 1 and all(.agent[]; .who.identifier.value | length > 0))' bundle.json
check "ids are valid FHIR ids" jq -e 'all(.entry[].resource.id; test("^[A-Za-z0-9.-]{1,64}$"))' bundle.json
report() { jq --arg id "$D" '.entry[].resource | select(.id == $id)' bundle.json; }
check "the report's target is its record" test "$(report | jq -r '.target[0].identifier.value')" = "$D"
check "agents: device (author), gateway (enterer), authority (attester), with roles" test \
  "$(report | jq -c '[.agent[] | [.type.coding[0].code, .role[0].coding[0].code, .who.display]]')" = \
  '[["author","device","wb-0003"],["enterer","gateway","gw-1"],["attester","authority","hospital"]]'
check "derivation entities name both parents" test \
  "$(report | jq -r '[.entity[] | select(.role == "derivation") | .what.identifier.value] | sort | join(" ")')" = \
  "$(printf '%s\n' "$A" "$B" | sort | tr '\n' ' ' | sed 's/ $//')"
check "a source entity: the committed reading" jq -e 'any(.entity[]; .role == "source" and (.what.identifier.value | test("^[0-9a-f]{64}$")))' <(report)
check "signature: required type, when, who, and data" jq -e 'all(.signature[]; (.type | length) >= 1 and .when and .who.identifier.value and .data)' <(report)
block_sig=$(jq -r '.signatures[0].sig' block.json)
check "the signature carries the block's Ed25519 signature" test "$(report | jq -r '.signature[] | select(.type[0].code == "1.2.840.10065.1.12.1.5") | .data')" = "$block_sig"
check "a parent has no derivation entity" test "$(jq --arg id "$A" '[.entry[].resource | select(.id == $id) | .entity[]? | select(.role == "derivation")] | length' bundle.json)" = 0

# A device that signs its readings: the reading's own Ed25519 signature is a second signature.
mt keygen --name wb-sig --role device --out keys/ > /dev/null
mt enroll --db ward.db --key keys/hospital.key --role device --name wb-sig keys/wb-sig.pub > /dev/null
# Signed over JCS(reading without sig): key-sorted compact JSON, as jq -cS writes this reading.
unsigned=$(reading wb-sig 2026-03-01T08:10:00Z heart_rate '{"value":70,"unit":"/min"}' | jq -cS .)
printf '%s' "$unsigned" > unsigned.json
openssl pkeyutl -sign -rawin -inkey keys/wb-sig.key -in unsigned.json -out sig.bin 2> /dev/null
S=$(jq -c --arg s "$(base64 -w0 sig.bin)" '. + {sig: $s}' unsigned.json | ingest_one)
check "the signed reading was accepted" test -n "$S"
mt anchor --db ward.db --key keys/hospital.key > /dev/null
expect_exit 0 mt trace --db ward.db "$S" --format fhir
check "the device's Author's Signature carries the reading's sig" test \
  "$(jq -r '.entry[0].resource.signature[] | select(.type[0].code == "1.2.840.10065.1.12.1.1") | .data' out.txt)" = "$(base64 -w0 sig.bin)"
# A record that is not anchored yet has no authority agent and no block signature.
P=$(reading wb-0001 2026-03-01T08:20:00Z heart_rate '{"value":71,"unit":"/min"}' | ingest_one)
expect_exit 0 mt trace --db ward.db "$P" --format fhir
check "pending: no attester" jq -e '[.entry[0].resource.agent[] | select(.type.coding[0].code == "attester")] | length == 0' out.txt
expect_exit 2 mt trace --db ward.db "$D" --format hl7
expect_exit 4 mt trace --db ward.db ffffffffffff --format fhir

# ---- audit --format fhir
printf 'name: fever\nrules:\n  - {name: fever, kind: threshold, severity: critical, type: body_temperature, op: ">=", value: 38.0, unit: Cel}\n' > fever.yaml
expect_exit 1 mt audit --db ward.db --policy fever.yaml --format fhir
check "one AuditEvent per finding, nothing else on stdout" test "$(jq -r .resourceType out.txt | sort -u)" = AuditEvent
check "the summary goes to stderr" jq -e '.kind == "summary" and .findings == 1' err.txt
check "required: type, recorded, agent.requestor, source.observer" jq -e '.type.code == "110113" and
  (.recorded | test("Z$")) and (.agent | length) >= 1 and all(.agent[]; .requestor == false) and .source.observer.display' out.txt
check "critical is a serious failure, with the rule and its message" jq -e \
  '.outcome == "8" and .subtype[0].code == "threshold" and .subtype[0].display == "fever" and (.outcomeDesc | length > 0)' out.txt
check "evidence records as entities" test "$(jq -r '.entity[] | select(.what.identifier.system | test(":record$")?) | .what.identifier.value' out.txt)" = "$A"
check "the medtrail finding rides along" jq -e '.entity[] | select(.detail) | .detail[] | select(.type == "finding") | .valueString | fromjson | .rule == "fever"' out.txt
check "the period is the finding's" jq -e '.period.start == "2026-03-01T08:00:00.000Z"' out.txt
expect_exit 0 mt audit --db ward.db --policy fever.yaml --format fhir --since 2026-03-01T09:00:00Z
check "no finding: no AuditEvent" test ! -s out.txt
expect_exit 2 mt audit --db ward.db --policy fever.yaml --format xml

finish
