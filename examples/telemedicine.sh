#!/usr/bin/env bash
# Use E, remote healthcare: patients at home with a wearable, a blood-pressure cuff, a glucose
# meter and a thermometer, some of them in [degF] or mmol/L. Only enrolled devices are
# accepted; the audit converts units to the rule's and finds the planted low SpO2, the
# hypertensive reading, the fever, the hypoglycaemia and the lost measurement, but not the
# two-minute SpO2 dip.
# Run: bash examples/telemedicine.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
policies="$(cd "$(dirname "$0")" && pwd)/policies"
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-telemedicine.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "telemedicine: $*" >&2; exit 1; }

step "10 patients at home (40 devices), two hours"
"$mt" keygen --name clinic --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-home --role gateway --out keys/ > /dev/null
"$mt" init --db clinic.db --authority keys/clinic.key --origin clinic.example/remote > /dev/null
"$mt" enroll --db clinic.db --key keys/clinic.key --role gateway --name gw-home keys/gw-home.pub > /dev/null
"$mt" simulate --scenario telemedicine --devices 40 --minutes 120 --list-devices |
  "$mt" enroll --db clinic.db --key keys/clinic.key --from - > /dev/null
"$mt" policy add --db clinic.db --key keys/clinic.key "$policies/telemedicine.yaml" > /dev/null
"$mt" simulate --scenario telemedicine --devices 40 --minutes 120 --truth truth.json |
  "$mt" ingest --db clinic.db --key keys/gw-home.key > receipts.ndjson
"$mt" anchor --db clinic.db --key keys/clinic.key > /dev/null
echo "records: $(wc -l < receipts.ndjson)"

step "a device nobody enrolled is refused"
code=0
echo '{"device":"wear-9999","time":"2026-03-01T10:00:00Z","type":"spo2","value":97,"unit":"%","subject":"patient-9999"}' |
  "$mt" ingest --db clinic.db --key keys/gw-home.key > rejected.ndjson 2> rejected.err || code=$?
[ "$code" = 3 ] || die "an unenrolled device's reading was not rejected (exit $code)"
grep -q 'not enrolled' rejected.ndjson rejected.err || die "the rejection does not say why"
grep -h -o '"reason":"[^"]*"' rejected.ndjson rejected.err | head -1

step "audit: vital signs out of range, in the rule's unit"
code=0
"$mt" audit --db clinic.db --key keys/clinic.key > audit.ndjson || code=$?
[ "$code" = 1 ] || die "expected exit 1 (critical findings), got $code"
jq -r 'select(.kind == "finding") | "\(.severity)  \(.rule)  \(.device)  \(.start)  \(.message)"' audit.ndjson
diff <(jq -r '.findings[] | "\(.rule) \(.device) \(.start)"' truth.json | sort) \
  <(jq -r 'select(.kind == "finding") | "\(.rule) \(.device) \(.start)"' audit.ndjson | sort) ||
  die "the findings differ from the planted events"
jq -e -s 'map(select(.rule == "fever")) | .[0].message | test("\\[degF\\] = ")' audit.ndjson > /dev/null ||
  die "the [degF] fever was not converted"
echo "every planted event found; not reported: $(jq -r '[.near_misses[].reason] | join(", ")' truth.json)"

step "summary"
jq -r -s 'map(select(.kind == "finding")) | group_by(.rule)[] | "\(.[0].rule): \(length)"' audit.ndjson
