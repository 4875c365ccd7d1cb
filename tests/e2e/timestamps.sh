#!/usr/bin/env bash
# RFC 3161 timestamps: anchor --tsa-cmd / --tsa-url against a local TSA run with `openssl ts
# -reply` under a throwaway CA; verify --tsa-cert checks every token. A token over another
# checkpoint and a token from a TSA the CA never certified are both rejected.
source "$(dirname "$0")/lib.sh"

# make_tsa NAME: a CA NAME-ca.pem and a TSA certificate it issued, with an `openssl ts` config
# and a --tsa-cmd script NAME.sh (request on stdin, response on stdout).
make_tsa() {
  local n=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$n-ca.key" -out "$n-ca.pem" \
    -days 2 -subj "/CN=$n test CA" 2> /dev/null || return 1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$n-tsa.key" -out "$n-tsa.csr" \
    -subj "/CN=$n test TSA" 2> /dev/null || return 1
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' > "$n-ext.cnf"
  openssl x509 -req -in "$n-tsa.csr" -CA "$n-ca.pem" -CAkey "$n-ca.key" -CAcreateserial -days 2 \
    -extfile "$n-ext.cnf" -out "$n-tsa.pem" 2> /dev/null || return 1
  echo 01 > "$n-serial"
  cat > "$n-tsa.cnf" <<CNF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = $WORK/$n-serial
crypto_device = builtin
signer_cert = $WORK/$n-tsa.pem
certs = $WORK/$n-ca.pem
signer_key = $WORK/$n-tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
  cat > "$n.sh" <<SH
#!/usr/bin/env bash
set -e
tmp=\$(mktemp -d)
cat > "\$tmp/req.der"
openssl ts -reply -config "$WORK/$n-tsa.cnf" -queryfile "\$tmp/req.der" -out "\$tmp/resp.der" 2> "\$tmp/err" || { cat "\$tmp/err" >&2; exit 1; }
cat "\$tmp/resp.der"
rm -rf "\$tmp"
SH
  chmod +x "$n.sh"
}

make_tsa good || { fail "making the test CA"; finish; exit 1; }
make_tsa rogue || { fail "making the rogue CA"; finish; exit 1; }
setup_ledger 3 || { fail "setup"; finish; exit 1; }

mt simulate --devices 3 --minutes 2 --seed 1 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key --tsa-cmd "$WORK/good.sh" --checkpoint-out cp-1.txt
check "anchor prints the token" jq -e '.timestamp_token | length > 100' out.txt
jq -r .timestamp_token out.txt | base64 -d > token-1.der
# Checkable by OpenSSL's own tool, with no medtrail code: the imprint is SHA-256 of the checkpoint file.
check "openssl ts -verify accepts the token over the checkpoint file" \
  openssl ts -verify -data cp-1.txt -in token-1.der -token_in -CAfile good-ca.pem
check "schema 5: the token is stored by height" test "$(sqlite3 ward.db 'SELECT count(*) FROM timestamps WHERE height = 1')" = 1
check "schema 5 or later" test "$(sqlite3 ward.db 'PRAGMA user_version')" -ge 5
mt simulate --devices 3 --minutes 2 --seed 2 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null
expect_exit 0 mt anchor --db ward.db --key keys/hospital.key --tsa-cmd "$WORK/good.sh"
mt anchor --db ward.db --key keys/hospital.key --allow-empty --tsa-cmd "$WORK/good.sh" > /dev/null

expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub --tsa-cert good-ca.pem --format json
check "three tokens verified; the genesis block has none" \
  jq -e 'select(.status) | .status == "verified" and .timestamped == 3 and .untimestamped == 1' out.txt
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub --tsa-cert good-tsa.pem
# Without --tsa-cert the tokens are not looked at, and the chain still verifies.
expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub

# An empty block repeats its predecessor's checkpoint byte for byte (same size and root, and
# Ed25519 is deterministic), so the same token is honestly valid for both.
check "the heartbeat block's checkpoint equals block 2's" test \
  "$(sqlite3 ward.db 'SELECT count(DISTINCT checkpoint) FROM blocks WHERE height IN (2, 3)')" = 1
# A token over the wrong checkpoint: block 1's token moved onto block 2.
cp ward.db moved.db
sqlite3 moved.db 'UPDATE timestamps SET token = (SELECT token FROM timestamps WHERE height = 1) WHERE height = 2'
expect_exit 1 mt verify --db moved.db --trust keys/hospital.pub --tsa-cert good-ca.pem --format json
check "a token over another checkpoint: timestamp_invalid at height 2" \
  jq -se '[.[] | select(.finding)] | length == 1 and .[0].finding == "timestamp_invalid" and .[0].height == 2' out.txt
check "and the summary counts it" jq -e 'select(.status) | .status == "failed" and .findings == 1' out.txt
# A damaged token.
cp ward.db damaged.db
sqlite3 damaged.db "UPDATE timestamps SET token = substr(token, 1, 100) WHERE height = 2"
expect_exit 1 mt verify --db damaged.db --tsa-cert good-ca.pem --format json
check "a truncated token: timestamp_invalid" grep -q '"finding":"timestamp_invalid"' out.txt

# A token from a TSA the given CA never certified.
cp ward.db rogue.db
mt simulate --devices 3 --minutes 2 --seed 3 | mt ingest --db rogue.db --key keys/gw-1.key > /dev/null
expect_exit 0 mt anchor --db rogue.db --key keys/hospital.key --tsa-cmd "$WORK/rogue.sh"
expect_exit 1 mt verify --db rogue.db --trust keys/hospital.pub --tsa-cert good-ca.pem --format json
check "an untrusted TSA: timestamp_invalid at height 4 only" \
  test "$(jq -c 'select(.finding) | [.finding, .height]' out.txt)" = '["timestamp_invalid",4]'
expect_exit 1 mt verify --db rogue.db --tsa-cert rogue-ca.pem --format json
check "and under the rogue CA the honest tokens fail instead" test "$(grep -c timestamp_invalid out.txt)" -eq 3

# A TSA that answers a request of its own (another imprint) is refused at anchor time; the
# block is sealed anyway and the exit status says the timestamp is missing.
cat > liar.sh <<SH
#!/usr/bin/env bash
cat > /dev/null
echo other > "$WORK/other.txt"
openssl ts -query -data "$WORK/other.txt" -sha256 -cert -no_nonce -out "$WORK/other.tsq" 2> /dev/null
openssl ts -reply -config "$WORK/good-tsa.cnf" -queryfile "$WORK/other.tsq" -out /dev/stdout 2> /dev/null
SH
chmod +x liar.sh
mt simulate --devices 3 --minutes 2 --seed 4 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null
expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --tsa-cmd "$WORK/liar.sh"
check "the block is printed even so" jq -e '.header.height == 4 and (has("timestamp_token") | not)' out.txt
check "the refusal says the block was sealed without a timestamp" grep -q "sealed without a timestamp" err.txt
expect_exit 0 mt verify --db ward.db --tsa-cert good-ca.pem --format json
check "a block without a token is counted, not failed" jq -e 'select(.status) | .untimestamped == 2' out.txt

# Transport failures and bad input.
expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --allow-empty --tsa-cmd "exit 3"
check "a failing --tsa-cmd is named with its status" grep -q "exit status 3" err.txt
expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --allow-empty --tsa-cmd "echo garbage"
check "garbage from the TSA is named" grep -q "not a DER TimeStampResp" err.txt
expect_exit 5 mt anchor --db ward.db --key keys/hospital.key --allow-empty --tsa-url http://127.0.0.1:9/tsr --tsa-timeout 5
height_before=$(sqlite3 ward.db 'SELECT max(height) FROM blocks')
expect_exit 2 mt anchor --db ward.db --key keys/hospital.key --allow-empty --tsa-url https://tsa.example/
check "https is refused with the curl alternative" grep -q "tsa-cmd" err.txt
check "and no block is made for it" test "$(sqlite3 ward.db 'SELECT max(height) FROM blocks')" = "$height_before"
expect_exit 2 mt anchor --db ward.db --key keys/hospital.key --tsa-url http://a/ --tsa-cmd "$WORK/good.sh"
expect_exit 2 mt anchor --db ward.db --key keys/hospital.key --tsa-cmd "$WORK/good.sh" --tsa-timeout 0
expect_exit 4 mt verify --db ward.db --tsa-cert missing.pem
echo "not a certificate" > junk.pem
expect_exit 2 mt verify --db ward.db --tsa-cert junk.pem
expect_exit 2 mt verify --db ward.db --tsa-cert good-ca.pem --checkpoint cp-1.txt
expect_exit 2 mt verify --db ward.db --tsa-cert good-ca.pem 3f9a01c2

# --tsa-url over HTTP, when python3 is there to serve the local TSA.
if command -v python3 > /dev/null; then
  cat > server.py <<PY
import http.server, subprocess, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.headers["Content-Type"] == "application/timestamp-query"
        out = subprocess.run(["$WORK/good.sh"], input=body, capture_output=True).stdout if ok else b""
        self.send_response(200 if ok else 415)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *args): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
  python3 server.py > port.txt &
  server=$!
  for _ in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
  mt simulate --devices 3 --minutes 2 --seed 5 | mt ingest --db ward.db --key keys/gw-1.key > /dev/null
  expect_exit 0 mt anchor --db ward.db --key keys/hospital.key --tsa-url "http://127.0.0.1:$(cat port.txt)/tsr"
  check "a token over HTTP" jq -e '.timestamp_token | length > 100' out.txt
  kill "$server"
  expect_exit 0 mt verify --db ward.db --trust keys/hospital.pub --tsa-cert good-ca.pem --format json
  check "it verifies with the rest" jq -e 'select(.status) | .timestamped == 4' out.txt
else
  echo "note: python3 not found; --tsa-url over HTTP not exercised"
fi

finish
