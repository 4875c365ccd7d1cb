#!/usr/bin/env bash
# Installs the Debian 12 packages medtrail needs to build, test and run its demo.
# Idempotent: installs only what is missing; needs root (or sudo) only when something is.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libssl-dev libsqlite3-dev libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev catch2
  scdoc sqlite3 jq openssl
  graphviz  # tests check that trace --format dot output is valid Graphviz
  # scripts/fuzz.sh (run by scripts/test.sh): clang, and libclang-rt-14-dev for libFuzzer and
  # the sanitizer runtimes, which clang only recommends (not installed with --no-install-recommends).
  clang libclang-rt-14-dev
  # several e2e suites compute expected values with python3 (policy roots, scenario splits).
  python3
  # tests/e2e/faults.sh drops root with setpriv so file modes apply.
  util-linux
  # tests/e2e/interop.sh builds tests/go-verify, an independent verifier on Go's
  # golang.org/x/mod/sumdb/note and sumdb/tlog, offline from Debian's source package.
  golang-go golang-golang-x-mod-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
