# shellcheck shell=bash
# tap.sh - TAP output for the integration scripts that need no sandbox (test_units.sh,
# test_deb.sh); lib.sh has the same functions for the others. TEST_NAME names the script
# in the summary line.
#   ok DESC | not_ok DESC | diag TEXT... | skip DESC
#   check DESC CMD...        ok if CMD exits 0, else not ok with the end of its output
#   expect_eq GOT WANT DESC  ok if GOT = WANT, else not ok showing both
#   silent DESC CMD...       ok if CMD exits 0 and prints nothing (warnings are output)
#   none DESC LIST           ok if LIST (what is missing or wrong, one a line) is empty
#   done_testing             plan line, summary; exit 1 if anything failed or nothing ran

TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
_T_N=0
_T_FAIL=0

ok()     { _T_N=$((_T_N + 1)); echo "ok $_T_N - $*"; }
not_ok() { _T_N=$((_T_N + 1)); _T_FAIL=$((_T_FAIL + 1)); echo "not ok $_T_N - $*"; }
skip()   { _T_N=$((_T_N + 1)); echo "ok $_T_N - # SKIP $*"; }
diag()   { printf '%s\n' "$@" | sed 's/^/# /'; }

check() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "command: $*" "exit code: $rc"
        [ -n "$out" ] && printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
    fi
    return $rc
}

expect_eq() {
    if [ "$1" = "$2" ]; then
        ok "$3"
    else
        not_ok "$3"
        diag "got:      '$1'" "expected: '$2'"
        return 1
    fi
}

silent() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "command: $*" "exit code: $rc" "$out"
        return 1
    fi
}

none() {
    if [ -z "$2" ]; then
        ok "$1"
    else
        not_ok "$1"
        printf '%s\n' "$2" | sed 's/^/#   missing or wrong: /'
        return 1
    fi
}

done_testing() {
    echo "1..$_T_N"
    echo "# $TEST_NAME: $((_T_N - _T_FAIL)) passed, $_T_FAIL failed"
    [ "$_T_FAIL" -eq 0 ] && [ "$_T_N" -gt 0 ]
    exit
}
