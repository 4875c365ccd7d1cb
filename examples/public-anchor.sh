#!/usr/bin/env bash
# Public anchoring: a ledger's checkpoints leave the hospital so that nobody, the hospital
# included, can later rewrite history unseen. Each block's checkpoint is stamped by an RFC
# 3161 timestamp authority (`anchor --tsa-cmd`; here a local one run with `openssl ts` under a
# throwaway CA, in production `--tsa-url` of a public TSA), checked by `verify --tsa-cert` and
# by `openssl ts -verify` with no medtrail code. The checkpoint file is then what public
# systems take with their own tools: `ots stamp cp.txt` of OpenTimestamps (run here only when
# the `ots` client is installed and MEDTRAIL_EXAMPLE_ONLINE=1, since it needs the network;
# otherwise the commands are shown). Finally a verifier without the ledger gets a receipt in
# C2SP tlog-proof form and a consistency proof from the stamped checkpoint to the latest one.
# Run: bash examples/public-anchor.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-public-anchor.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "public-anchor: $*" >&2; exit 1; }

step "a throwaway timestamp authority: a CA and a TSA certificate for time stamping"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out tsa-ca.pem \
  -days 2 -subj "/CN=example TSA CA" 2> /dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.csr \
  -subj "/CN=example TSA" 2> /dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' > tsa-ext.cnf
openssl x509 -req -in tsa.csr -CA tsa-ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile tsa-ext.cnf \
  -out tsa.pem 2> /dev/null
echo 01 > tsa-serial
cat > tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = $work/tsa-serial
signer_cert = $work/tsa.pem
certs = $work/tsa-ca.pem
signer_key = $work/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
ess_cert_id_alg = sha256
CNF
# The --tsa-cmd contract: a DER TimeStampReq on stdin, the DER TimeStampResp on stdout.
cat > local-tsa.sh <<SH
#!/usr/bin/env bash
set -e
cat > "$work/req.tsq"
openssl ts -reply -config "$work/tsa.cnf" -queryfile "$work/req.tsq" -out "$work/resp.tsr" 2> /dev/null
cat "$work/resp.tsr"
SH
chmod +x local-tsa.sh

step "a ledger with readings, anchored with a timestamp over each checkpoint"
"$mt" keygen --name hospital --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward3 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 4 --minutes 10 --seed 3 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 4 --minutes 10 --seed 3 | "$mt" ingest --db ward.db --key keys/gw-1.key > receipts.ndjson 2> /dev/null
"$mt" anchor --db ward.db --key keys/hospital.key --tsa-cmd "$work/local-tsa.sh" --checkpoint-out cp-1.txt > block-1.json
jq -r .timestamp_token block-1.json | base64 -d > cp-1.tst
echo "block 1: $(sed -n 2p cp-1.txt) records, token of $(stat -c %s cp-1.tst) bytes"
# In production: --tsa-url http://timestamp.example/ (http), or for https:
echo "(with a public TSA: $mt anchor ... --tsa-cmd 'curl -sf --data-binary @- -H \"Content-Type: application/timestamp-query\" https://tsa.example/')"

step "the token checks with medtrail and with OpenSSL alone"
"$mt" verify --db ward.db --trust keys/hospital.pub --tsa-cert tsa-ca.pem --format json | tail -1
openssl ts -verify -data cp-1.txt -in cp-1.tst -token_in -CAfile tsa-ca.pem 2> /dev/null | grep -q OK ||
  die "openssl ts -verify did not accept the token"
echo "openssl ts -verify: OK"

step "OpenTimestamps: the checkpoint file is what ots stamps"
if command -v ots > /dev/null && [ "${MEDTRAIL_EXAMPLE_ONLINE:-0}" = 1 ]; then
  ots stamp cp-1.txt
  ls -l cp-1.txt.ots
else
  echo "ots stamp cp-1.txt            # writes cp-1.txt.ots, anchored in Bitcoin by public calendars"
  echo "ots upgrade cp-1.txt.ots      # hours later: the complete proof"
  echo "ots verify cp-1.txt.ots       # anyone, with the checkpoint file"
  echo "(not run: needs the ots client and the network; set MEDTRAIL_EXAMPLE_ONLINE=1 to run it)"
fi

step "more readings and a second block; proofs for someone without the ledger"
"$mt" simulate --devices 4 --minutes 10 --seed 4 | "$mt" ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
"$mt" anchor --db ward.db --key keys/hospital.key --tsa-cmd "$work/local-tsa.sh" --checkpoint-out cp-2.txt > /dev/null
"$mt" prove --db ward.db --consistency-from cp-1.txt > grew.json
"$mt" verify --consistency grew.json --trust keys/hospital.pub > /dev/null || die "the consistency proof did not verify"
echo "consistency $(jq .old_size grew.json) -> $(jq .new_size grew.json): $(jq '.consistency | length' grew.json) hashes, verified offline"
id=$(head -1 receipts.ndjson | jq -r .id)
"$mt" prove --db ward.db "$id" --format tlog-proof > receipt.tlog-proof
"$mt" verify --receipt receipt.tlog-proof --trust keys/hospital.pub > /dev/null || die "the tlog-proof did not verify"
echo "tlog-proof for ${id:0:16}…: $(head -1 receipt.tlog-proof), verified offline"

step "a history rebuilt after stamping, under the same key and name, is caught"
# Whoever holds the key and the file could make a new chain; the stamped checkpoint pins the old one.
mkdir rebuilt && cp -r keys rebuilt/ && cd rebuilt
"$mt" init --db ward.db --authority keys/hospital.key --origin hospital-a.example/ward3 > /dev/null
"$mt" enroll --db ward.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --devices 4 --minutes 30 --seed 9 --list-devices | "$mt" enroll --db ward.db --key keys/hospital.key --from - > /dev/null
"$mt" simulate --devices 4 --minutes 30 --seed 9 | "$mt" ingest --db ward.db --key keys/gw-1.key > /dev/null 2>&1
"$mt" anchor --db ward.db --key keys/hospital.key > /dev/null
if "$mt" prove --db ward.db --consistency-from ../cp-1.txt > /dev/null 2> refused.txt; then
  die "a rebuilt history was proven consistent with the stamped checkpoint"
fi
echo "prove --consistency-from cp-1.txt on the rebuilt ledger: $(cat refused.txt)"
