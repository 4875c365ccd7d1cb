#!/usr/bin/env bash
# The five uses as simulated scenarios (simulate --scenario NAME --truth FILE) against their
# policies (examples/policies/NAME.yaml): for every rule kind the audit finds every planted
# event and nothing else, for two seeds; three incremental cron runs find each exactly once;
# the output is deterministic; a policy replaced mid-ledger judges each block by the rules
# its block header commits to, and verify checks those roots; a tampered ledger is critical.
source "$(dirname "$0")/lib.sh"
: "${MEDTRAIL_SOURCE_DIR:?set MEDTRAIL_SOURCE_DIR to the source tree}"
policies="$MEDTRAIL_SOURCE_DIR/examples/policies"
mt keygen --name hospital --role authority --out keys/ --no-encryption-key > /dev/null
mt keygen --name gw-1 --role gateway --out keys/ > /dev/null

declare -A size=([origin]=20 [quarantine]=12 [hospital]=10 [provenance]=4 [telemedicine]=20)
scenarios=(origin quarantine hospital provenance telemedicine)

# One line per finding, comparable between the truth and audit's output.
truth_lines() { jq -r '.findings[] | "\(.rule) \(.device) \(.asset // "-") \(.peer // "-") \(.start)"' "$1" | sort; }
found_lines() { jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.asset // "-") \(.peer // "-") \(.start)"' "$@" | sort; }
same() {  # same DESCRIPTION WANT_FILE GOT_FILE
  if diff "$2" "$3" > diff.txt; then pass; else fail "$1"; sed 's/^/  /' diff.txt | head -20 >&2; fi
}
new_ledger() {  # new_ledger DB SCENARIO
  mt init --db "$1" --authority keys/hospital.key --origin "test.example/$2" > /dev/null &&
    mt enroll --db "$1" --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null &&
    mt simulate --scenario "$2" --devices "${size[$2]}" --minutes 120 --list-devices |
    mt enroll --db "$1" --key keys/hospital.key --from - > /dev/null
}

# Bad input: too small for the scenario, unknown scenario.
expect_exit 2 mt simulate --scenario quarantine --devices 5 --minutes 120
check "too few devices is explained" grep -q 'quarantine scenario needs --devices 10' err.txt
expect_exit 2 mt simulate --scenario hospital --devices 10 --minutes 60
expect_exit 2 mt simulate --scenario moon --devices 10 --minutes 120
expect_exit 2 mt simulate --devices 10 --minutes 10 --truth t.json
check "--truth alone is refused" grep -q 'needs --scenario' err.txt

declare -A kinds_seen=()
for s in "${scenarios[@]}"; do
  n=${size[$s]}
  # Deterministic: the same seed gives the same readings and truth; another seed does not.
  mt simulate --scenario "$s" --devices "$n" --minutes 120 --seed 1 --truth "$s.truth.json" > "$s.ndjson"
  mt simulate --scenario "$s" --devices "$n" --minutes 120 --seed 1 --truth "$s.truth2.json" > "$s.again.ndjson"
  check "$s: same seed, same readings" cmp -s "$s.ndjson" "$s.again.ndjson"
  check "$s: same seed, same truth" cmp -s "$s.truth.json" "$s.truth2.json"
  mt simulate --scenario "$s" --devices "$n" --minutes 120 --seed 2 > "$s.seed2.ndjson"
  check "$s: another seed, other readings" bash -c "! cmp -s $s.ndjson $s.seed2.ndjson"
  check "$s: readings in time order" bash -c "jq -r .time $s.ndjson | sort -c"
  check "$s: the truth plants something" test "$(jq '.findings | length' "$s.truth.json")" -gt 0
  for k in $(jq -r '.findings[].kind' "$s.truth.json"); do kinds_seen[$k]=1; done

  for seed in 1 7; do
    db="$s-$seed.db"
    mt simulate --scenario "$s" --devices "$n" --minutes 120 --seed "$seed" --truth "truth-$s-$seed.json" > "in-$s-$seed.ndjson"
    new_ledger "$db" "$s" || fail "$s: ledger setup"
    expect_exit 0 mt ingest --db "$db" --key keys/gw-1.key "in-$s-$seed.ndjson"
    check "$s seed $seed: every reading accepted" test "$(grep -c '"status":"pending"' out.txt)" = "$(wc -l < "in-$s-$seed.ndjson")"
    mt anchor --db "$db" --key keys/hospital.key > /dev/null
    expect_exit 1 mt audit --db "$db" --policy "$policies/$s.yaml" --trust keys/hospital.pub
    found_lines out.txt > "found-$s-$seed.txt"
    truth_lines "truth-$s-$seed.json" > "want-$s-$seed.txt"
    same "$s seed $seed: audit finds every planted event and nothing else" "want-$s-$seed.txt" "found-$s-$seed.txt"
    if grep -q 'patient-' out.txt; then fail "$s: a patient id appears in the findings"; else pass; fi
  done

  # Incremental: the policy on the ledger, three cron runs over a growing ledger (readings of
  # minutes 0-40, 40-80, 80-120 arriving in turn) report each planted event exactly once.
  db="$s-cron.db"
  new_ledger "$db" "$s"
  mt policy add --db "$db" --key keys/hospital.key "$policies/$s.yaml" > /dev/null
  since=$(jq -r .window.since "$s.truth.json")
  : > "cron-$s.ndjson"
  for part in 1 2 3; do
    # Split by minute of the scenario, each line kept byte for byte.
    python3 - "$s.ndjson" "$part" "$since" > "part-$s-$part.ndjson" <<'PY'
import sys, datetime
path, part, since = sys.argv[1], int(sys.argv[2]), sys.argv[3]
start = datetime.datetime.fromisoformat(since.replace("Z", "+00:00"))
for line in open(path):
    t = line.split('"time":"', 1)[1].split('"', 1)[0]
    minute = (datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) - start).total_seconds() // 60
    if min(int(minute // 40), 2) + 1 == part:
        sys.stdout.write(line)
PY
    mt ingest --db "$db" --key keys/gw-1.key "part-$s-$part.ndjson" > /dev/null 2>&1
    mt anchor --db "$db" --key keys/hospital.key > /dev/null
    mt audit --db "$db" --state "$s.state" --trust keys/hospital.pub >> "cron-$s.ndjson" 2> /dev/null
  done
  check "$s: the three parts hold every reading" test "$(cat part-"$s"-*.ndjson | wc -l)" = "$(wc -l < "$s.ndjson")"
  found_lines "cron-$s.ndjson" > "cron-found-$s.txt"
  truth_lines "$s.truth.json" > "cron-want-$s.txt"
  same "$s: three cron runs report each planted event exactly once" "cron-want-$s.txt" "cron-found-$s.txt"
done
mt simulate --scenario hospital --devices 10 --minutes 120 --list-devices --truth listed.json > listed.ndjson
check "--list-devices --truth prints enrollment lines" test "$(jq -r .role listed.ndjson | sort -u)" = device
check "--list-devices --truth writes the same truth" cmp -s listed.json hospital.truth.json
check "every reading-rule kind is planted by some scenario" \
  test "$(printf '%s\n' "${!kinds_seen[@]}" | sort | tr '\n' ' ')" = "gap geofence malfunction proximity silence sterilization threshold "

# Units: the telemedicine policy is in Cel and mg/dL; the planted fever came in [degF] and the
# low glucose in mmol/L, and the findings say what was read and what it is in the rule's unit.
jq -c 'select(.rule=="fever" or .rule=="hypoglycaemia")' <(mt audit --db telemedicine-1.db --policy "$policies/telemedicine.yaml") > units.ndjson
check "a [degF] reading judged in Cel" grep -q '\[degF\] = 3[89]\.[0-9]* Cel' units.ndjson
check "a mmol/L reading judged in mg/dL" grep -q 'mmol/L = 5[0-9]\.[0-9]* mg/dL' units.ndjson

# A tampered ledger: the integrity rule reports it as critical and the audit exits 1.
cp provenance-1.db tampered.db
sqlite3 tampered.db "UPDATE payloads SET reading = json_set(reading, '\$.value', 60) WHERE idx = (SELECT max(idx) FROM payloads)"
expect_exit 1 mt audit --db tampered.db --policy "$policies/provenance.yaml" --fail-on critical --trust keys/hospital.pub
check "tampering is a critical integrity finding" \
  test "$(jq -r 'select(.rule_kind=="integrity") | "\(.rule) \(.severity)"' out.txt | sort -u)" = "tamper critical"

# Policy replaced mid-ledger: quarantine A (every rule) judges minutes 0-60; then A is retired
# and B (a 500 m fence, no band-off rule) judges the rest. The breach (minute 40) and the
# contact (30) fall under A; the band taken off at minute 80 falls under B, which has no
# silence rule: not reported. Blocks before the switch carry A's policy root, after it B's.
db=switch.db
new_ledger "$db" quarantine
sed -e 's/^name: quarantine-block-a/name: quarantine-relaxed/' -e 's/radius_m: 60/radius_m: 500/' "$policies/quarantine.yaml" |
  awk '/- name: band-off/ {skip = 3; next} skip > 0 {skip--; next} {print}' > relaxed.yaml
check "relaxed policy has no silence rule" bash -c "! grep -q silence relaxed.yaml"
a=$(mt policy add --db "$db" --key keys/hospital.key "$policies/quarantine.yaml" | jq -r .id)
jq -c 'select(.time < "2026-03-01T09:00")' quarantine.ndjson > before.ndjson
jq -c 'select(.time >= "2026-03-01T09:00")' quarantine.ndjson > after.ndjson
mt ingest --db "$db" --key keys/gw-1.key before.ndjson > /dev/null 2>&1
mt anchor --db "$db" --key keys/hospital.key > block-a.json
mt audit --db "$db" --state switch.state > switch-1.ndjson 2> /dev/null
mt policy retire --db "$db" --key keys/hospital.key "$a" --reason "relaxed after review" > /dev/null
b=$(mt policy add --db "$db" --key keys/hospital.key relaxed.yaml | jq -r .id)
mt ingest --db "$db" --key keys/gw-1.key after.ndjson > /dev/null 2>&1
mt anchor --db "$db" --key keys/hospital.key > block-b.json
expect_exit 1 mt audit --db "$db"
found_lines out.txt > switch-found.txt
grep -v '^band-off ' "cron-want-quarantine.txt" > switch-want.txt
same "each reading judged by the policy its block commits to" switch-want.txt switch-found.txt
check "the audit counted both policies" test "$(tail -1 out.txt | jq .policies)" = 2
mt audit --db "$db" --state switch.state > switch-2.ndjson 2> /dev/null
found_lines switch-1.ndjson switch-2.ndjson > switch-cron.txt
same "incremental runs across the switch agree" switch-want.txt switch-cron.txt
root_of() { mt policy show --db "$db" "$1" | jq -c .policy |
  python3 -c 'import json,sys,hashlib; p=json.load(sys.stdin); print(hashlib.sha256(json.dumps([p],separators=(",",":"),sort_keys=True,ensure_ascii=False).encode()).hexdigest())'; }
check "the block before the switch commits to A" test "$(jq -r .header.policy_root block-a.json)" = "$(root_of "$a")"
check "the block after the switch commits to B" test "$(jq -r .header.policy_root block-b.json)" = "$(root_of "$b")"
expect_exit 0 mt verify --db "$db" --trust keys/hospital.pub
cp "$db" switch-tampered.db
sqlite3 switch-tampered.db "UPDATE blocks SET header = json_set(header, '\$.policy_root', '$(root_of "$a")') WHERE height = (SELECT max(height) FROM blocks)"
expect_exit 1 mt verify --db switch-tampered.db --trust keys/hospital.pub
check "a block claiming the old policy is caught" grep -q '"finding":"policy_root_mismatch"' out.txt
# The same readings, all judged by A (a dry run), report the band taken off too.
expect_exit 1 mt audit --db "$db" --policy "$policies/quarantine.yaml"
found_lines out.txt > dry-a.txt
same "a dry run of A over everything finds all of the truth" cron-want-quarantine.txt dry-a.txt

finish
