#!/usr/bin/env bash
# The man pages (man/*.scd) against the real binary, so pages cannot drift from the code:
# every command has a page, every page renders with scdoc and has the usual sections, and
# every long option and environment variable shown by --help is documented on its page.
here=$(cd "$(dirname "$0")" && pwd)
# lib.sh changes into a temp dir: make a relative binary path absolute first.
case "${MEDTRAIL:-}" in
  */*) [ "${MEDTRAIL#/}" = "$MEDTRAIL" ] && MEDTRAIL="$PWD/$MEDTRAIL" ;;
esac
source "$here/lib.sh"

SRC=${MEDTRAIL_SOURCE_DIR:-$here/../..}
MAN="$SRC/man"
if [ ! -d "$MAN" ]; then
  fail "no man directory at $MAN (set MEDTRAIL_SOURCE_DIR)"
  finish
  exit
fi

# The commands, as `medtrail --help` lists them under "Subcommands:".
mt --help > root-help.txt 2>&1 || fail "medtrail --help failed"
commands=$(awk '/^Subcommands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && /^  [a-z]/ { print $1 }' root-help.txt)
if [ -z "$commands" ]; then fail "no subcommands found in medtrail --help"; else pass; fi

# Long options listed in the "Options:" block of a --help text (not in examples or footers).
options_in_help() {
  awk '/^Options:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /^  +-/ { print }' "$1" |
    grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# mentions PAGE WORD: WORD occurs in PAGE as a whole token (so --record is not --records).
mentions() {
  grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# section PAGE NAME: the text of "# NAME" up to the next "# " header.
section() {
  awk -v want="# $2" '$0 == want { on = 1; next } /^# / { on = 0 } on' "$1"
}

has_sections() {
  local page=$1; shift
  local s
  for s in "$@"; do
    if grep -qx "# $s" "$page"; then
      if [ -n "$(section "$page" "$s" | tr -d '[:space:]')" ]; then pass; else fail "$(basename "$page"): section $s is empty"; fi
    else
      fail "$(basename "$page"): no '# $s' section"
    fi
  done
}

# --- The overview page, medtrail(1) ---
overview="$MAN/medtrail.1.scd"
if [ -f "$overview" ]; then
  pass
  check "medtrail.1.scd starts with the title line medtrail(1)" grep -qE '^medtrail\(1\)( |$)' <(head -1 "$overview")
  has_sections "$overview" NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" COMMANDS ENVIRONMENT "EXIT STATUS" FILES EXAMPLES "SEE ALSO"
  for opt in $(options_in_help root-help.txt); do
    if mentions "$overview" "$opt"; then pass; else fail "medtrail.1.scd does not document the global option $opt"; fi
  done
  for code in 0 1 2 3 4 5; do
    if section "$overview" "EXIT STATUS" | grep -qE "(^|[^0-9])$code([^0-9]|\$)"; then pass; else
      fail "medtrail.1.scd: EXIT STATUS does not describe status $code"
    fi
  done
  for cmd in $commands; do
    if grep -q "\*medtrail-$cmd\*(1)" "$overview"; then pass; else fail "medtrail.1.scd does not refer to medtrail-$cmd(1)"; fi
    if section "$overview" COMMANDS | grep -qx "\*$cmd\*"; then pass; else fail "medtrail.1.scd: COMMANDS does not list $cmd"; fi
  done
else
  fail "missing man/medtrail.1.scd"
fi

# Every environment variable any --help names is documented in medtrail(1).
for cmd in $commands; do mt "$cmd" --help > "help-$cmd.txt" 2>&1 || fail "medtrail $cmd --help failed"; done
for var in $(cat root-help.txt help-*.txt 2>/dev/null | grep -oE 'MEDTRAIL_[A-Z_]+' | sort -u); do
  if [ -f "$overview" ] && mentions "$overview" "$var"; then pass; else fail "medtrail.1.scd does not document $var"; fi
done

# --- One page per command ---
for cmd in $commands; do
  page="$MAN/medtrail-$cmd.1.scd"
  if [ ! -f "$page" ]; then
    fail "command '$cmd' has no man page man/medtrail-$cmd.1.scd"
    continue
  fi
  pass
  check "medtrail-$cmd.1.scd starts with the title line medtrail-$cmd(1)" \
    grep -qE "^medtrail-$cmd\\(1\\)( |\$)" <(head -1 "$page")
  has_sections "$page" NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT EXAMPLES "EXIT STATUS" "SEE ALSO"
  check "medtrail-$cmd.1.scd: NAME is 'medtrail-$cmd - ...'" grep -q "^medtrail-$cmd - " <(section "$page" NAME)
  check "medtrail-$cmd.1.scd: EXAMPLES run medtrail $cmd" grep -q "medtrail.* $cmd" <(section "$page" EXAMPLES)
  check "medtrail-$cmd.1.scd: EXIT STATUS describes status 0" grep -qx '\*0\*' <(section "$page" "EXIT STATUS")
  check "medtrail-$cmd.1.scd: SEE ALSO refers to medtrail(1)" grep -q '\*medtrail\*(1)' <(section "$page" "SEE ALSO")
  for opt in $(options_in_help "help-$cmd.txt"); do
    if mentions "$page" "$opt"; then pass; else fail "medtrail-$cmd.1.scd does not document $opt (shown by 'medtrail $cmd --help')"; fi
  done
  # An option read from the environment names its variable on the command's page too.
  for var in $(grep -oE 'Env:MEDTRAIL_[A-Z_]+' "help-$cmd.txt" | sed 's/^Env://' | sort -u); do
    if mentions "$page" "$var"; then pass; else fail "medtrail-$cmd.1.scd does not mention $var"; fi
  done
done

# No page for a command the binary does not have.
for page in "$MAN"/medtrail-*.scd; do
  [ -e "$page" ] || continue
  name=$(basename "$page")
  cmd=${name#medtrail-}
  cmd=${cmd%.scd}
  cmd=${cmd%.1}
  if printf '%s\n' $commands | grep -qx "$cmd"; then pass; else
    fail "man/$name documents '$cmd', which 'medtrail --help' does not list"
  fi
done

# --- Rendering ---
if command -v scdoc > /dev/null 2>&1; then
  for page in "$MAN"/*.scd; do
    name=$(basename "$page")
    if scdoc < "$page" > rendered.1 2> scdoc-err.txt && [ -s rendered.1 ]; then pass; else
      fail "scdoc cannot render man/$name: $(head -3 scdoc-err.txt)"
    fi
  done
else
  echo "SKIP: scdoc is not installed; the pages were not rendered"
fi

finish
