#!/usr/bin/env bash
# Faults of the environment (issue 7), every one in this one suite: a read-only ledger or
# directory, a full disk mid-ingest and mid-anchor, a ledger locked by another writer, files
# that are not ledgers, unusable key files, and a reader that closes our stdout early.
# Each fault: the documented exit status (5 unless noted), one "medtrail: error:" line on
# stderr, and the ledger unchanged (same checkpoint, same records) and still verifying.
#
# File modes mean nothing to root, so as root the suite runs itself again as nobody, from a
# copy of itself and of the binary that nobody can read wherever the checkout lives.
if [ "$(id -u)" -eq 0 ]; then
  command -v setpriv > /dev/null || { echo "faults.sh: as root this suite needs setpriv (util-linux)" >&2; exit 1; }
  copy=$(mktemp -d /tmp/medtrail-faults.XXXXXX) && chmod 755 "$copy" &&
    cp "$0" "$(dirname "$0")/lib.sh" "${MEDTRAIL:?set MEDTRAIL to the medtrail binary}" "$copy/" || exit 1
  MEDTRAIL="$copy/$(basename "$MEDTRAIL")" setpriv --reuid=65534 --regid=65534 --clear-groups -- \
    env TMPDIR=/tmp bash "$copy/$(basename "$0")" "$@"
  status=$?
  rm -rf "$copy"
  exit "$status"
fi
source "$(dirname "$0")/lib.sh"

setup_ledger 3 || { fail "setup"; finish; exit 1; }
# The ledger lives in its own directory so that directory can be made read-only.
mkdir ledger && mv ward.db ledger/ward.db
db=ledger/ward.db
mt simulate --devices 3 --minutes 300 --seed 2 | mt ingest --db $db --key keys/gw-1.key > receipts.ndjson
mt anchor --db $db --key keys/hospital.key > /dev/null
mt simulate --devices 3 --minutes 300 --seed 3 > more.ndjson  # fresh readings: not duplicates
id=$(head -1 receipts.ndjson | jq -r .id)

# "Unchanged": the same latest checkpoint and the same records, anchored or pending.
ledger_state() { mt checkpoint --db $db && sqlite3 $db "SELECT count(*), max(idx) FROM leaves"; }
before=$(ledger_state)
unchanged() {
  if mt verify --db $db --trust keys/hospital.pub > verify.txt 2>&1; then pass; else
    fail "$1: the ledger no longer verifies"; head -5 verify.txt >&2
  fi
  if [ "$(ledger_state)" = "$before" ]; then pass; else fail "$1: the ledger changed"; fi
}
# fault STATUS WHAT PATTERN CMD...: CMD exits STATUS with one error line matching PATTERN.
fault() {
  local want=$1 what=$2 pattern=$3; shift 3
  expect_exit "$want" "$@"
  if [ "$(wc -l < err.txt)" -eq 1 ] && grep -q '^medtrail: error: ' err.txt && grep -qi -- "$pattern" err.txt; then pass; else
    fail "$what: expected one 'medtrail: error:' line saying '$pattern'"; sed 's/^/  stderr: /' err.txt | head -5 >&2
  fi
}
# limited KIB CMD...: CMD under a file-size limit (ulimit -f), as if the disk filled up. Its
# stdout goes through cat, outside the limit, so only the ledger's files meet it.
limited() {
  bash -c 'ulimit -f "$1"; shift; exec "$@"' limited "$@" | cat
  return "${PIPESTATUS[0]}"
}
# A sqlite3 process that keeps the ledger open: holder_start SQL...; holder_stop.
holder_start() {
  rm -f holder.fifo holder.out && mkfifo holder.fifo
  sqlite3 $db < holder.fifo > holder.out 2>&1 &
  holder=$!
  exec 3> holder.fifo
  printf '%s\n' "$@" '.print holding' >&3
  for _ in $(seq 100); do grep -q holding holder.out && break; sleep 0.1; done
  check "sqlite3 holds the ledger" grep -q holding holder.out
}
holder_stop() {
  exec 3>&-  # end of its input: sqlite3 rolls back what it holds and exits
  wait "$holder"
}

# --- The ledger file read-only: writers refuse; readers still read.
chmod 444 $db
fault 5 "read-only ledger: ingest" "ward.db is read-only" mt ingest --db $db --key keys/gw-1.key more.ndjson
fault 5 "read-only ledger: anchor" "ward.db is read-only" mt anchor --db $db --key keys/hospital.key --allow-empty
fault 5 "read-only ledger: retire" "ward.db is read-only" mt retire --db $db --key keys/hospital.key gw-1
expect_exit 0 mt verify --db $db --trust keys/hospital.pub
expect_exit 0 mt checkpoint --db $db
expect_exit 0 mt log --db $db
expect_exit 0 mt prove --db $db "${id:0:12}"
expect_exit 0 mt show --db $db "${id:0:12}"
chmod 644 $db
# Those readers left ward.db-shm behind with the ledger's read-only mode (SQLite copies it):
# a writer names that file instead of blaming the ledger.
check "a reader left ward.db-shm read-only" test ! -w $db-shm
fault 5 "read-only -shm left by a reader" "ward.db-shm is read-only" mt anchor --db $db --key keys/hospital.key --allow-empty
chmod 644 $db-shm $db-wal
unchanged "read-only ledger"

# --- Its directory read-only: SQLite cannot create ward.db-wal and ward.db-shm, even to read.
# (Where they exist already, it can use them: a read-write close removes them first.)
sqlite3 $db "SELECT 1" > /dev/null
check "no -wal or -shm beside the ledger" test ! -e $db-wal -a ! -e $db-shm
chmod 555 ledger
fault 5 "read-only directory: ingest" "directory" mt ingest --db $db --key keys/gw-1.key more.ndjson
fault 5 "read-only directory: anchor" "directory" mt anchor --db $db --key keys/hospital.key --allow-empty
fault 5 "read-only directory: verify" "directory" mt verify --db $db --trust keys/hospital.pub
fault 5 "read-only directory: log" "directory" mt log --db $db
chmod 755 ledger
unchanged "read-only directory"

# --- Locked by another writer past --busy-timeout: writers give up, readers are not blocked.
holder_start 'BEGIN IMMEDIATE;'
fault 5 "locked: ingest" "locked by another writer" mt --busy-timeout 200 ingest --db $db --key keys/gw-1.key more.ndjson
fault 5 "locked: anchor" "locked by another writer" mt --busy-timeout 200 anchor --db $db --key keys/hospital.key --allow-empty
fault 5 "locked: enroll" "locked by another writer" mt --busy-timeout 200 enroll --db $db --key keys/hospital.key --role device --name d-x
fault 5 "locked: retire, --db from the environment" "locked by another writer" \
  env MEDTRAIL_DB=$db "$MEDTRAIL" --busy-timeout 100 retire --key keys/hospital.key gw-1
expect_exit 0 mt verify --db $db --trust keys/hospital.pub
expect_exit 0 mt log --db $db --records
holder_stop
unchanged "locked ledger"

# --- Files that are not medtrail ledgers, for a reader and a writer; none is modified.
cp $db newer.db && sqlite3 newer.db "PRAGMA user_version=99"
echo "hello, not a ledger" > text.db
head -c 65536 /dev/urandom > random.db
: > empty.db
sqlite3 other.db "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
for f in newer text random empty other; do
  cp $f.db $f.orig
  case $f in newer) says="schema version 99" ;; *) says="not a medtrail ledger" ;; esac
  fault 5 "$f.db: verify" "$says" mt verify --db $f.db --trust keys/hospital.pub
  fault 5 "$f.db: anchor" "$says" mt anchor --db $f.db --key keys/hospital.key --allow-empty
  fault 5 "$f.db: log" "$says" mt log --db $f.db
  check "$f.db left as it was" cmp -s $f.db $f.orig
done

# --- Key files: readable by others, the wrong kind, corrupted, a wrong or missing passphrase.
cp keys/gw-1.key wide.key && chmod 644 wide.key
fault 5 "key readable by others" "chmod 600" mt ingest --db $db --key wide.key more.ndjson
fault 5 "public key as --key" "is a public key" mt anchor --db $db --key keys/hospital.pub --allow-empty
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa.key 2> /dev/null && chmod 600 rsa.key
fault 5 "RSA key" "Ed25519" mt anchor --db $db --key rsa.key --allow-empty
grep -v '^MC' keys/hospital.key > broken.key && chmod 600 broken.key
fault 5 "corrupted PEM" "not a valid PEM private key" mt anchor --db $db --key broken.key --allow-empty
: > empty.key && chmod 600 empty.key
fault 5 "empty key file" "not a valid PEM private key" mt anchor --db $db --key empty.key --allow-empty
echo "correct horse battery staple" > pass.txt
echo "wrong" > wrong.txt
mt keygen --name locked-auth --role authority --out enc/ --passphrase-file pass.txt > /dev/null
fault 5 "wrong passphrase" "wrong passphrase" mt anchor --db $db --key enc/locked-auth.key --allow-empty --passphrase-file wrong.txt
fault 5 "missing passphrase" "passphrase" mt anchor --db $db --key enc/locked-auth.key --allow-empty
# A private key where a public key belongs: refused, and never a passphrase prompt.
fault 5 "private key as --trust" "not a PEM public key" mt verify --db $db --trust enc/locked-auth.key
check "no passphrase prompt for --trust" bash -c '! grep -qi "pass phrase" err.txt'
fault 5 "unencrypted private key as --trust" "not a PEM public key" mt verify --db $db --trust keys/gw-1.key
fault 5 "data key as --trust" "not a PEM public key" mt verify --db $db --trust keys/hospital.datakey
# A sound key of the wrong role is a usage error (status 2, medtrail(1)), not an environment one.
fault 2 "gateway key where an authority is needed" "needs authority" mt anchor --db $db --key keys/gw-1.key --allow-empty
unchanged "key files"

# --- Standard output closed early: no noise, exit by SIGPIPE (141) as documented, and no
# partial write. Also when the parent ignores SIGPIPE (which children inherit).
for ignore in no yes; do
  trap_cmd=":"; [ $ignore = yes ] && trap_cmd="trap '' PIPE"
  for cmd in "log --db $db --records" "simulate --devices 100 --minutes 1000000"; do
    status=$(bash -c "$trap_cmd; timeout 120 \"\$MEDTRAIL\" $cmd 2> pipe-err.txt | head -1 > /dev/null; echo \${PIPESTATUS[0]}")
    if [ "$status" = 141 ] || [ "$status" = 0 ]; then pass; else fail "$cmd | head -1 (SIGPIPE ignored: $ignore): exit $status"; fi
    if [ ! -s pipe-err.txt ]; then pass; else fail "$cmd | head -1 (SIGPIPE ignored: $ignore): stderr noise"; sed 's/^/  /' pipe-err.txt >&2; fi
  done
done
unchanged "stdout closed early"

# --- Out of space mid-anchor: nothing sealed, nothing half-written. A reader holds the
# ledger open, so its -shm exists and the first write past the limit is the block's commit.
mt ingest --db $db --key keys/gw-1.key --chunk 500 more.ndjson > pending.ndjson
before=$(ledger_state)
holder_start 'SELECT count(*) FROM meta;'
fault 5 "file-size limit mid-anchor" "file-size limit" limited 4 "$MEDTRAIL" anchor --db $db --key keys/hospital.key
holder_stop
unchanged "file-size limit mid-anchor"

# --- Out of space mid-ingest, in the first chunk: nothing committed, no receipt.
mt simulate --devices 3 --minutes 300 --seed 4 > more2.ndjson
fault 5 "file-size limit mid-ingest" "file-size limit" limited 256 "$MEDTRAIL" ingest --db $db --key keys/gw-1.key more2.ndjson
check "no receipt for an uncommitted chunk" test ! -s out.txt
unchanged "file-size limit mid-ingest"

# ... and after some chunks committed: exactly the records with receipts were added.
readings() { sqlite3 $db "SELECT count(*) FROM leaves WHERE kind_code = 1"; }
n0=$(readings)
fault 5 "file-size limit after commits" "file-size limit" limited 2048 "$MEDTRAIL" ingest --db $db --key keys/gw-1.key --chunk 50 more2.ndjson
check "some chunks were committed first" test -s out.txt
check "every committed record has its receipt" test "$(($(readings) - n0))" -eq "$(wc -l < out.txt)"
expect_exit 0 mt verify --db $db --trust keys/hospital.pub

# ... and ingest closed early by its reader: committed chunks are whole (verify checks every
# seal), and a replay commits the rest, reporting what was already in as duplicates.
mt simulate --devices 3 --minutes 300 --seed 5 > more3.ndjson
status=$(bash -c "\"\$MEDTRAIL\" ingest --db $db --key keys/gw-1.key --chunk 50 more3.ndjson 2> pipe-err.txt | head -1 > /dev/null; echo \${PIPESTATUS[0]}")
if [ "$status" = 141 ]; then pass; else fail "ingest | head -1: exit $status"; fi
check "ingest | head -1: no stderr noise" test ! -s pipe-err.txt
expect_exit 0 mt verify --db $db --trust keys/hospital.pub

# After every fault the ledger still takes writes: the rest of each input, then a block.
expect_exit 0 mt ingest --db $db --key keys/gw-1.key more2.ndjson more3.ndjson
check "replay: every line is a record or a duplicate" \
  test "$(($(wc -l < more2.ndjson) + $(wc -l < more3.ndjson)))" -eq "$(wc -l < out.txt)"
expect_exit 0 mt anchor --db $db --key keys/hospital.key
expect_exit 0 mt verify --db $db --trust keys/hospital.pub
check "nothing pending after the last anchor" jq -e '.pending == 0 and .findings == 0' out.txt
finish
