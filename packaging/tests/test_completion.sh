#!/usr/bin/env bash
# Checks packaging/completion/tandem against a real `tandem` binary: the
# completion function is called as bash calls it (COMP_WORDS, COMP_CWORD) and
# what it offers is compared with what the command table allows.
# Usage: test_completion.sh TANDEM_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tandem_bin=${1:?usage: test_completion.sh TANDEM_BINARY}
PATH="$(dirname "$(readlink -f "$tandem_bin")"):$PATH"
# shellcheck source=../completion/tandem
source "$here/../completion/tandem"

failures=0
# expect "WORDS;AS;BASH;SPLITS;THEM (the last is completed)" "expected COMPREPLY, |-joined"
expect() {
    local line=$1 want=$2
    IFS=';' read -r -a COMP_WORDS <<<"$line"
    [[ $line == *";" ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _tandem
    local got
    got=$(IFS='|'; echo "${COMPREPLY[*]}")
    if [[ $got == "$want" ]]; then
        echo "ok    [$line] -> $got"
    else
        echo "FAIL  [$line] -> '$got', expected '$want'"
        failures=$((failures + 1))
    fi
}

expect "tandem;--js" "--json"
expect "tandem;-" "-c|--command|-j|--json|-s|--socket|-t|--timeout|--complete|-V|--version|-h|--help"
expect "tandem;sh" "show"
expect "tandem;show;" "application|cluster|config|counters|high-availability|interfaces|nat|session|version"
expect "tandem;sh;ha;" "state|state-synchronization"
expect "tandem;--json;show;counters;" "all|dataplane|ha|peer-link"
expect "tandem;-s;/tmp/x.sock;request;high-availability;f" "functional"
expect "tandem;show;bogus;" ""
expect "tandem;-c;\"show high-availability st" "\"show high-availability state|\"show high-availability state-synchronization"
expect "tandem;-c;\"request h" "\"request high-availability "
expect "tandem;-c;show" "show "
expect "tandem;-c;\"show counters\";" ""

if ((failures)); then
    echo "$failures completion check(s) failed"
    exit 1
fi
echo "completion: all checks passed"
