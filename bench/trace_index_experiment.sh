#!/usr/bin/env bash
# What a trace index costs ingest, in plain SQLite and nothing of medtrail's: 10^6 rows of
# (device, time) from 1,000 devices are appended to a leaves-like table in 61 commits of 16,384
# rows (as ingest commits), with the ledger's pragmas, and indexed in one of these ways:
#   none          no index (the floor)
#   index         CREATE INDEX on (device, time): SQLite inserts each row's entry as it comes
#   sorted        a WITHOUT ROWID (device, time, idx) table, each commit's entries inserted in
#                 key order
#   batch-N       the same table, entries inserted in key order once N rows have gathered
# Each line prints wall, user and sys seconds (GNU time). Usage: bench/trace_index_experiment.sh
# [ROWS]. Takes about 20 s. Results and their reading: bench/README.md, "What the trace indexes
# cost ingest".
set -euo pipefail
rows=${1:-1000000}
chunk=16384
command -v sqlite3 >/dev/null || { echo "trace_index_experiment: sqlite3 is not installed (scripts/install-deps.sh)" >&2; exit 5; }
[[ -x /usr/bin/time ]] || { echo "trace_index_experiment: /usr/bin/time is not installed (apt-get install time)" >&2; exit 5; }
dir=$(mktemp -d /tmp/medtrail-trace-index.XXXXXX)
trap 'rm -rf "$dir"' EXIT

pragmas="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=16384;"
# The source rows: devices in random order, times rising (readings arrive roughly in time order).
sqlite3 "$dir/src.db" >/dev/null <<SQL
$pragmas
CREATE TABLE src(idx INTEGER PRIMARY KEY, device INT, time INT);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $rows - 1)
INSERT INTO src SELECT i, abs(random()) % 1000, 1700000000000 + i * 60 FROM c;
SQL

# script MODE BATCH: the SQL of one way of indexing, on stdout.
script() {
  local mode=$1 batch=$2 lo hi done=0
  echo "ATTACH '$dir/src.db' AS s; $pragmas"
  echo "CREATE TABLE leaves(idx INTEGER PRIMARY KEY, device INT, time INT, pad BLOB);"
  case $mode in
    index) echo "CREATE INDEX leaves_device_time ON leaves(device, time);" ;;
    sorted | batch) echo "CREATE TABLE trace(device INT, time INT, idx INT, PRIMARY KEY(device, time, idx)) WITHOUT ROWID;" ;;
  esac
  for ((lo = 0; lo < rows; lo += chunk)); do
    hi=$((lo + chunk))
    echo "BEGIN; INSERT INTO leaves SELECT idx, device, time, zeroblob(150) FROM s.src WHERE idx >= $lo AND idx < $hi;"
    if [[ $mode == sorted ]] || { [[ $mode == batch ]] && { ((hi - done >= batch)) || ((hi >= rows)); }; }; then
      echo "INSERT INTO trace SELECT device, time, idx FROM s.src WHERE idx >= $done AND idx < $hi ORDER BY device, time, idx;"
      done=$hi
    fi
    echo "COMMIT;"
  done
}

run() {
  local label=$1
  rm -f "$dir"/t.db*
  script "$2" "${3:-0}" >"$dir/run.sql"
  /usr/bin/time -f "$label %e s wall %U s user %S s sys" sqlite3 "$dir/t.db" <"$dir/run.sql" >/dev/null
}

echo "$rows rows, commits of $chunk, 1,000 devices"
run none none
run index index
run sorted sorted
for batch in 65536 262144 1048576; do run "batch-$batch" batch "$batch"; done
