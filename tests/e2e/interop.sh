#!/usr/bin/env bash
# medtrail's proofs checked by an implementation nobody here wrote: tests/go-verify, built on
# Go's golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's golang-golang-x-mod-dev), offline.
# Checkpoints, receipts (JSON and tlog-proof) and consistency proofs for every pair of tree
# sizes 1 <= old <= new <= 64 must verify; corrupted ones must not.
# Skipped (exit 77) only when Go is not installed; scripts/install-deps.sh installs it.
source "$(dirname "$0")/lib.sh"

if ! command -v go > /dev/null || [ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]; then
  echo "skipped: go or golang-golang-x-mod-dev is not installed (scripts/install-deps.sh installs them)"
  exit 77
fi
: "${MEDTRAIL_SOURCE_DIR:?set MEDTRAIL_SOURCE_DIR to the source tree}"
# GOPATH mode over Debian's source packages: no module download, no vendoring.
(cd "$MEDTRAIL_SOURCE_DIR/tests/go-verify" &&
  GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE="$WORK/gocache" go build -o "$WORK/go-verify" .) ||
  { fail "building tests/go-verify"; finish; exit 1; }
gv() { "$WORK/go-verify" "$@"; }
# Every pair up to 64 in the plain pass. The sanitized pass (scripts/test.sh) looks for memory
# errors in the same code paths, not for new pairs: up to 16 there keeps its run time in bounds.
max=64
[ -n "${MEDTRAIL_SANITIZED:-}" ] && max=16

mt keygen --name hospital --role authority --out keys/ > /dev/null
vkey=$(sed -n 's/^# vkey: //p' keys/hospital.pub)
check "the public key names its vkey" test -n "$vkey"
# One record per block: the genesis block has tree size 1, each enroll adds one leaf.
mt init --db grow.db --authority keys/hospital.key --origin test.example/grow > /dev/null
mt checkpoint --db grow.db > cp-1.txt
mt prove --db grow.db --consistency-from cp-1.txt > c-1-1.json
for size in $(seq 2 "$max"); do
  mt enroll --db grow.db --key keys/hospital.key --role device --name "dev-$size" > /dev/null
  mt anchor --db grow.db --key keys/hospital.key --checkpoint-out "cp-$size.txt" > /dev/null
  for old in $(seq 1 "$size"); do
    mt prove --db grow.db --consistency-from "cp-$old.txt" > "c-$old-$size.json" || fail "prove consistency $old -> $size"
  done
done

expect_exit 0 gv checkpoint "$vkey" cp-*.txt
check "Go accepts all $max checkpoints" test "$(grep -c '^ok ' out.txt)" -eq "$max"
pairs=$(ls c-*-*.json | wc -l)
check "every pair 1 <= old <= new <= $max has a proof" test "$pairs" -eq $((max * (max + 1) / 2))
expect_exit 0 gv consistency "$vkey" c-*-*.json
check "Go's tlog.CheckTree accepts every consistency proof" test "$(grep -c '^ok ' out.txt)" -eq "$pairs"

# Receipts for every record of the final tree, in both forms.
mt log --db grow.db --records --format json | jq -r 'select(.record) | "\(.index) \(.id)"' > ids.txt
check "$max records listed" test "$(wc -l < ids.txt)" -eq "$max"
while read -r idx id; do
  mt prove --db grow.db "$id" > "receipt-$idx.json"
  mt prove --db grow.db "$id" --format tlog-proof > "receipt-$idx.tlog-proof"
done < ids.txt
expect_exit 0 gv receipt "$vkey" receipt-*.json receipt-*.tlog-proof
check "Go's tlog.CheckRecord accepts all $((2 * max)) receipts" test "$(grep -c '^ok ' out.txt)" -eq $((2 * max))

# Corrupted proofs are rejected by the Go verifier too.
corrupt_hash '.consistency[0]' c-5-13.json bad-consistency.json
expect_exit 1 gv consistency "$vkey" bad-consistency.json
check "a corrupted consistency proof fails in Go" grep -q '^FAIL bad-consistency.json' out.txt
jq -c '.consistency += [.consistency[0]]' c-5-13.json > long-consistency.json
expect_exit 1 gv consistency "$vkey" long-consistency.json
jq -c --slurpfile other c-6-13.json '.old_checkpoint = $other[0].old_checkpoint | .old_size = $other[0].old_size' c-5-13.json > swapped.json
expect_exit 1 gv consistency "$vkey" swapped.json
check "a proof for another old size fails in Go" grep -q '^FAIL swapped.json' out.txt
awk 'NR==4 {print "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; next} {print}' receipt-9.tlog-proof > bad.tlog-proof
expect_exit 1 gv receipt "$vkey" bad.tlog-proof
jq -c '.record.name = "dev-x"' receipt-9.json > bad-receipt.json
expect_exit 1 gv receipt "$vkey" bad-receipt.json
check "a changed record fails in Go" grep -q 'does not hash to leaf_hash' out.txt
sed "s/^$max\$/$((max + 1))/" "cp-$max.txt" > bad-cp.txt
expect_exit 1 gv checkpoint "$vkey" bad-cp.txt
mt keygen --name hospital --role authority --out other/ > /dev/null
expect_exit 1 gv checkpoint "$(sed -n 's/^# vkey: //p' other/hospital.pub)" "cp-$max.txt"
check "another key with the same name fails in Go" grep -q '^FAIL' out.txt

# And medtrail agrees with Go on a sample of the same proofs.
for f in "c-1-$max.json" "c-$((max - 1))-$max.json" c-8-9.json c-11-11.json receipt-0.tlog-proof "receipt-$((max - 1)).json"; do
  case $f in
    c-*) expect_exit 0 mt verify --consistency "$f" --trust keys/hospital.pub ;;
    *) expect_exit 0 mt verify --receipt "$f" --trust keys/hospital.pub ;;
  esac
done
expect_exit 1 mt verify --consistency bad-consistency.json --trust keys/hospital.pub
expect_exit 1 mt verify --consistency swapped.json --trust keys/hospital.pub

finish
