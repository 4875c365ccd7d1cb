#!/usr/bin/env bash
# Key files: passphrase-encrypted keys in use, keygen's refusals, keys that do not exist or are
# not enrolled (exit codes 2 and 4). Unusable key files (readable by others, the wrong kind,
# corrupted, a wrong or missing passphrase) are environment faults: tests/e2e/faults.sh.
source "$(dirname "$0")/lib.sh"

echo "correct horse battery staple" > pass.txt
expect_exit 0 mt keygen --name hospital --role authority --out keys/ --passphrase-file pass.txt
check "encrypted PKCS#8" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' keys/hospital.key
check "0600" test "$(stat -c %a keys/hospital.key)" = 600
expect_exit 0 mt init --db w.db --authority keys/hospital.key --origin t.example/w --passphrase-file pass.txt
expect_exit 0 mt anchor --db w.db --key keys/hospital.key --allow-empty --passphrase-file pass.txt
MEDTRAIL_PASSPHRASE="correct horse battery staple" expect_exit 0 mt anchor --db w.db --key keys/hospital.key --allow-empty
MEDTRAIL_KEY=keys/hospital.key MEDTRAIL_PASSPHRASE="correct horse battery staple" MEDTRAIL_DB=w.db \
  expect_exit 0 mt anchor --allow-empty

expect_exit 0 mt keygen --name gw --role gateway --out keys/
expect_exit 4 mt anchor --db w.db --key keys/none.key
expect_exit 4 mt anchor --db w.db --key keys/gw.key --allow-empty   # not enrolled
expect_exit 2 mt keygen --name 'bad name' --role device --out keys/
expect_exit 2 mt keygen --name x --role emperor --out keys/
expect_exit 2 mt keygen --name x
mkdir ro && chmod 500 ro
if [ "$(id -u)" -ne 0 ]; then expect_exit 5 mt keygen --name x --role device --out ro; fi
finish
