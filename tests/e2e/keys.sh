#!/usr/bin/env bash
# Key files: permissions, passphrases, wrong kinds of key, corrupted PEM; exit codes 4 and 5.
source "$(dirname "$0")/lib.sh"

echo "correct horse battery staple" > pass.txt
expect_exit 0 mt keygen --name hospital --role authority --out keys/ --passphrase-file pass.txt
check "encrypted PKCS#8" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' keys/hospital.key
check "0600" test "$(stat -c %a keys/hospital.key)" = 600
expect_exit 0 mt init --db w.db --authority keys/hospital.key --origin t.example/w --passphrase-file pass.txt
expect_exit 0 mt anchor --db w.db --key keys/hospital.key --allow-empty --passphrase-file pass.txt
MEDTRAIL_PASSPHRASE="correct horse battery staple" expect_exit 0 mt anchor --db w.db --key keys/hospital.key --allow-empty
echo "wrong" > wrong.txt
expect_exit 5 mt anchor --db w.db --key keys/hospital.key --allow-empty --passphrase-file wrong.txt
check "wrong passphrase explained" grep -q 'wrong passphrase' err.txt
expect_exit 5 mt anchor --db w.db --key keys/hospital.key --allow-empty
check "missing passphrase explained" grep -q 'passphrase' err.txt
# An encrypted private key where a public key belongs: refused, and never a passphrase prompt.
expect_exit 5 mt verify --db w.db --trust keys/hospital.key
check "no passphrase prompt for --trust" bash -c '! grep -qi "pass phrase" err.txt'
MEDTRAIL_KEY=keys/hospital.key MEDTRAIL_PASSPHRASE="correct horse battery staple" MEDTRAIL_DB=w.db \
  expect_exit 0 mt anchor --allow-empty

expect_exit 0 mt keygen --name gw --role gateway --out keys/
chmod 644 keys/gw.key
expect_exit 5 mt enroll --db w.db --key keys/gw.key --role device --name d1
check "wide permissions explained" grep -q 'chmod 600' err.txt
chmod 600 keys/gw.key
expect_exit 4 mt anchor --db w.db --key keys/none.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa.key 2> /dev/null; chmod 600 rsa.key
expect_exit 5 mt anchor --db w.db --key rsa.key --allow-empty
check "wrong kind of key explained" grep -q 'Ed25519' err.txt
grep -v '^MC' keys/gw.key > broken.key; chmod 600 broken.key
expect_exit 5 mt anchor --db w.db --key broken.key --allow-empty
expect_exit 4 mt anchor --db w.db --key keys/gw.key --allow-empty   # not enrolled
expect_exit 5 mt verify --db w.db --trust keys/gw.key                # a private key is not a public key file
expect_exit 2 mt keygen --name 'bad name' --role device --out keys/
expect_exit 2 mt keygen --name x --role emperor --out keys/
expect_exit 2 mt keygen --name x
mkdir ro && chmod 500 ro
if [ "$(id -u)" -ne 0 ]; then expect_exit 5 mt keygen --name x --role device --out ro; fi
finish
