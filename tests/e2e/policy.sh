#!/usr/bin/env bash
# Policies on the ledger: add, list, show, retire; bad YAML rejected with file:line:column;
# each block commits to the rule set active when it was sealed, and verify recomputes it.
source "$(dirname "$0")/lib.sh"
: "${MEDTRAIL_SOURCE_DIR:?set MEDTRAIL_SOURCE_DIR to the source tree}"
setup_ledger 10 || { fail "setup"; finish; exit 1; }
mt keygen --name gw-2 --role gateway --out keys/ > /dev/null
cp "$MEDTRAIL_SOURCE_DIR/examples/policies/ward.yaml" ward.yaml
empty_root=4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945

# Blocks before any policy commit to the empty rule set.
mt anchor --db ward.db --key keys/hospital.key > b1.json
check "block before policies has the empty policy root" test "$(jq -r .header.policy_root b1.json)" = $empty_root

# Bad input: nothing is recorded, the error names file, line and column.
printf 'name: x\nrules:\n  - name: a\n    kind: teleport\n    severity: info\n' > kind.yaml
expect_exit 3 mt policy add --db ward.db --key keys/hospital.key kind.yaml
check "unknown kind: file:line:column" grep -q 'kind.yaml:4:5: unknown rule kind "teleport"' err.txt
printf 'name: x\nrules:\n  - name: a\n    kind: gap\n    severity: info\n    colour: red\n' > field.yaml
expect_exit 3 mt policy add --db ward.db --key keys/hospital.key field.yaml
check "unknown field: file:line:column" grep -q 'field.yaml:6:5: unknown field "colour"' err.txt
printf 'name: x\nrules:\n  - name: a\n    kind: gap: x\n' > syntax.yaml
expect_exit 3 mt policy add --db ward.db --key keys/hospital.key syntax.yaml
check "YAML syntax error: file:line:column" grep -qE 'syntax.yaml:4:[0-9]+: ' err.txt
expect_exit 4 mt policy add --db ward.db --key keys/hospital.key missing.yaml
expect_exit 2 mt policy add --db ward.db --key keys/hospital.key
expect_exit 2 mt policy frobnicate
expect_exit 2 mt policy list extra
expect_exit 2 mt policy show --reason x 12345678
# Only an active authority may add a policy.
expect_exit 2 mt policy add --db ward.db --key keys/gw-1.key ward.yaml
expect_exit 4 mt policy add --db ward.db --key keys/gw-2.key ward.yaml
expect_exit 0 mt policy list --db ward.db
check "nothing recorded by the failures" test ! -s out.txt

# Add: one authority-signed record; list and show it.
expect_exit 0 mt policy add --db ward.db --key keys/hospital.key ward.yaml
id=$(jq -r .id out.txt)
check "add prints an active policy with 9 rules" test "$(jq -r '"\(.status) \(.rules) \(.name)"' out.txt)" = "active 9 ward-3"
expect_exit 2 mt policy add --db ward.db --key keys/hospital.key ward.yaml
check "same name twice is refused" grep -q 'already active' err.txt
expect_exit 0 mt policy list --db ward.db
check "list shows it active" test "$(jq -r '"\(.id) \(.status)"' out.txt)" = "$id active"
expect_exit 0 mt policy show --db ward.db "${id:0:8}"
check "show has the canonical policy" test "$(jq -r '.policy.rules[1].for' out.txt)" = 5m
expect_exit 0 mt policy show --db ward.db "${id:0:8}" --format text
check "text show lists the rules" grep -q 'left-quarantine  geofence  critical' out.txt
expect_exit 4 mt policy show --db ward.db ffffffffffff
identity=$(sqlite3 ward.db "SELECT hex(id) FROM leaves WHERE kind_code = 2 LIMIT 1")
expect_exit 4 mt policy show --db ward.db "${identity:0:12}"
check "a record that is not a policy is named" grep -q 'not a policy record' err.txt
mt show --db ward.db "${id:0:8}" > record.json
check "the record is kind policy, signed by the authority" \
  test "$(jq -r '[.. | objects | select(.kind? == "policy")][0] | "\(.name) \(.signer | length) \(.sig | length > 0)"' record.json)" = "ward-3 16 true"

# The block sealing it commits to SHA-256 of [policy].
mt anchor --db ward.db --key keys/hospital.key > b2.json
want=$(jq -c '.policy' <(mt policy show --db ward.db "$id") | python3 -c 'import json,sys,hashlib; p=json.load(sys.stdin); print(hashlib.sha256(json.dumps([p],separators=(",",":"),sort_keys=True,ensure_ascii=False).encode()).hexdigest())')
check "policy root = SHA-256(JCS([policy]))" test "$(jq -r .header.policy_root b2.json)" = "$want"
mt simulate --devices 10 --minutes 3 --seed 4 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
mt anchor --db ward.db --key keys/hospital.key > b3.json
check "later blocks keep the root" test "$(jq -r .header.policy_root b3.json)" = "$want"

# Retire: later blocks commit to the empty set again; earlier ones keep theirs.
expect_exit 2 mt policy retire --db ward.db "$id"
expect_exit 0 mt policy retire --db ward.db --key keys/hospital.key "${id:0:10}" --reason "replaced"
check "retire prints the policy id" test "$(jq -r .policy out.txt)" = "$id"
expect_exit 2 mt policy retire --db ward.db --key keys/hospital.key "$id"
check "second retire refused" grep -q 'already retired' err.txt
expect_exit 0 mt policy list --db ward.db
check "list shows it retired with its reason" test "$(jq -r '"\(.status) \(.retired_reason)"' out.txt)" = "retired replaced"
mt anchor --db ward.db --key keys/hospital.key > b4.json
check "after retirement the root is empty again" test "$(jq -r .header.policy_root b4.json)" = $empty_root

# Policy B after A: the next block commits to B alone; blocks before keep A's root.
printf 'name: ward-3-v2\nrules:\n  - {name: replay, kind: gap, severity: critical}\n' > v2.yaml
expect_exit 0 mt policy add --db ward.db --key keys/hospital.key v2.yaml
mt anchor --db ward.db --key keys/hospital.key > b5.json
want_b=$(printf '[{"name":"ward-3-v2","rules":[{"kind":"gap","name":"replay","severity":"critical"}]}]' | sha256sum | cut -d' ' -f1)
check "policy B's root" test "$(jq -r .header.policy_root b5.json)" = "$want_b"
check "block 3 still carries A's root" test "$(mt log --db ward.db --format json | jq -r 'select(.kind=="block" and .header.height==3) | .header.policy_root')" = "$want"
sqlite3 ward.db "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

# Tampering: a policy record's rules, a block's policy root, a retirement's target.
tamper policy-value leaf_hash_mismatch \
  "UPDATE leaves SET extra = json_set(extra, '\$.policy.rules[0].value', 39) WHERE kind_code = 5"
tamper policy-value policy_root_mismatch \
  "UPDATE leaves SET extra = json_set(extra, '\$.policy.rules[0].value', 39) WHERE kind_code = 5"
tamper block-policy-root block_hash_mismatch \
  "UPDATE blocks SET header = json_set(header, '\$.policy_root', '$empty_root') WHERE height = 2"
tamper block-policy-root policy_root_mismatch \
  "UPDATE blocks SET header = json_set(header, '\$.policy_root', '$empty_root') WHERE height = 2"
tamper drop-retirement policy_root_mismatch "UPDATE leaves SET kind_code = 3 WHERE kind_code = 6"
tamper policy-signature policy_signature \
  "UPDATE leaves SET extra = json_set(extra, '\$.sig', (SELECT json_extract(extra, '\$.sig') FROM leaves WHERE idx = 1)) WHERE kind_code = 5"

finish
