#!/usr/bin/env bash
# Use A, tracing a pandemic's origin: wristbands and thermal cameras screen a district for
# fever, a lab runs PCR tests, and a fever cluster is planted (simulate --scenario origin). The
# audit finds every fever screening, and contact tracing on the ledger walks from the latest
# case back to the earliest one, without printing anyone's identity unless asked (--reveal).
# Run: bash examples/origin.sh   (MEDTRAIL=path/to/medtrail to use a build tree's binary)
# Exits non-zero as soon as a step does not behave as stated.
set -euo pipefail
mt=$(command -v "${MEDTRAIL:-medtrail}") || { echo "medtrail not found: set MEDTRAIL to the binary" >&2; exit 2; }
case $mt in /*) ;; *) mt="$PWD/$mt" ;; esac
policies="$(cd "$(dirname "$0")" && pwd)/policies"
work=$(mktemp -d "${TMPDIR:-/tmp}/medtrail-origin.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }
die() { echo "origin: $*" >&2; exit 1; }

step "a district of 40 devices (wristbands, thermal cameras, a PCR lab), two hours, sealed"
"$mt" keygen --name health-authority --role authority --out keys/ > /dev/null
"$mt" keygen --name gw-1 --role gateway --out keys/ > /dev/null
"$mt" init --db district.db --authority keys/health-authority.key --origin health.example/district-7 > /dev/null
"$mt" enroll --db district.db --key keys/health-authority.key --role gateway --name gw-1 keys/gw-1.pub > /dev/null
"$mt" simulate --scenario origin --devices 40 --minutes 120 --list-devices |
  "$mt" enroll --db district.db --key keys/health-authority.key --from - > /dev/null
"$mt" policy add --db district.db --key keys/health-authority.key "$policies/origin.yaml" > /dev/null
"$mt" simulate --scenario origin --devices 40 --minutes 120 --truth truth.json |
  "$mt" ingest --db district.db --key keys/gw-1.key > receipts.ndjson
"$mt" anchor --db district.db --key keys/health-authority.key > /dev/null
echo "records: $(wc -l < receipts.ndjson); planted fever screenings: $(jq '.findings | length' truth.json)"

step "fever screenings found by the audit (policy $(basename "$policies")/origin.yaml)"
"$mt" audit --db district.db --key keys/health-authority.key --fail-on critical > audit.ndjson || die "the audit failed (exit $?)"
jq -r 'select(.kind == "finding") | "\(.start)  \(.device)  \(.message)"' audit.ndjson
diff <(jq -r '.findings[] | "\(.device) \(.start)"' truth.json | sort) \
  <(jq -r 'select(.kind == "finding") | "\(.device) \(.start)"' audit.ndjson | sort) > /dev/null ||
  die "the audit's fever findings differ from the planted ones"
! grep -q 'patient-' audit.ndjson || die "a patient's name appears in the findings"
echo "every planted fever found, nothing else; subjects appear only as pseudonyms"

step "where did the cluster begin? from the latest case back to the earliest"
export MEDTRAIL_DATA_KEY=keys/health-authority.datakey
latest=$(jq -r '.origin[0].subject' truth.json)
"$mt" trace --db district.db --origin "$latest" --reveal --key keys/health-authority.key > origin.ndjson
jq -c '{step, subject_id, test_time, earliest}' origin.ndjson
[ "$(jq -r -s 'map(.subject_id) | join(" ")' origin.ndjson)" = "$(jq -r '[.origin[].subject] | join(" ")' truth.json)" ] ||
  die "the origin chain differs from the planted one"
first=$(jq -r -s 'last | .subject_id' origin.ndjson)
[ "$first" = "$(jq -r .first_case truth.json)" ] || die "the earliest case is not the planted first case"
earliest_band=$(jq -r -s '[.[] | select(.kind == "finding" and (.device | startswith("wb-")))] | sort_by(.start) | .[0].device' audit.ndjson)
echo "earliest case: $first; the earliest wristband fever on record: $earliest_band"
[ "$earliest_band" = "wb-${first#patient-}" ] || die "the earliest fever is not the first case's wristband"

step "summary"
echo "fever findings: $(jq -s '[.[] | select(.kind == "finding")] | length' audit.ndjson); cluster: $(jq -r '.cluster | join(", ")' truth.json); first case: $first"
