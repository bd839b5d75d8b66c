#!/usr/bin/env bash
# run.sh - the fault suite: scripted, bounded fault scenarios against a sandbox of its own.
#
# usage: tests/faults/run.sh [--quick] [--keep-logs] [SCENARIO...]
#   SCENARIO     run only the scenarios whose number is it (s1) or whose name contains it
#   --quick      fewer runs per scenario (about 6 minutes; what ./run-tests.sh runs)
#   --keep-logs  keep the log directory also when everything passed
#   -h, --help   this text
# The full run takes about 15-20 minutes on a 2-core machine (17.4 on the unfixed baseline).
#
# It starts a private sandbox (tests/sandbox/sandbox.sh start in a mktemp dir; never a
# shared one: scenarios kill the RGW and freeze OSDs), runs each tests/faults/s*.sh with
# SANDBOX_DIR pointing at it, and stops it at the end (also on failure or a signal). A
# scenario's own output is shown indented; then a table (scenario | runs | ok | failures |
# data lost) and one TAP line per scenario ("ok N - ..." / "not ok N - ..."). Exit 1 if
# any check failed: a committed backup lost or restoring wrong, a restore exiting 0 with
# wrong bytes, a run past its bound (a hang), a cleanup failure without a word, or any
# other expectation of the scenarios (see the header of each s*.sh).
#
# Env: RBD2S3 (binary, default ./rbd2s3), FAULTS_SCENARIO_TIMEOUT (s, per scenario;
# default 900 quick, 3600 full), FAULTS_IMG_MB (image size, default 48),
# FAULTS_RETRY_BUDGET (s3: a clean failure after a shorter outage is noted, default 60;
# 0: no note), FAULTS_FREEZE_GUARD (s4, default 180), FAULTS_TERM_GRACE
# (s4, default 45), FAULTS_FLIPS (s5 flips per object kind, default 4).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QUICK=0 KEEP_LOGS=${KEEP_LOGS:-0} FILTERS=()
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --keep-logs) KEEP_LOGS=1 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "faults: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) FILTERS+=("$1") ;;
    esac
    shift
done
export RBD2S3=${RBD2S3:-$REPO/rbd2s3}
[ -x "$RBD2S3" ] || { echo "faults: $RBD2S3 is not built" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then DEF_T=900; else DEF_T=3600; fi
STEP_T=${FAULTS_SCENARIO_TIMEOUT:-$DEF_T}

SCENARIOS=()
for f in "$HERE"/s[0-9]*_*.sh; do
    name=$(basename "$f" .sh)
    if [ ${#FILTERS[@]} -gt 0 ]; then
        hit=no
        for x in "${FILTERS[@]}"; do
            case $x in
                s[0-9]|s[0-9][0-9]) case $name in "${x}_"*) hit=yes ;; esac ;;
                *) case $name in *"$x"*) hit=yes ;; esac ;;
            esac
        done
        [ $hit = yes ] || continue
    fi
    SCENARIOS+=("$name")
done
[ ${#SCENARIOS[@]} -gt 0 ] || { echo "faults: no scenario matches ${FILTERS[*]}" >&2; exit 2; }

OUT=$(mktemp -d /tmp/rbd2s3-faults.XXXXXX)
SB="" CHILD="" TAILPID="" FAILED=0

sandbox_start() {
    SB=$(mktemp -d /tmp/rbd2s3-faults-sb.XXXXXX)
    echo "faults: starting a private sandbox in $SB"
    if ! timeout -k 10 300 "$REPO/tests/sandbox/sandbox.sh" start "$SB" \
            >>"$OUT/sandbox.log" 2>&1 </dev/null; then
        tail -n 20 "$OUT/sandbox.log"
        return 1
    fi
    : >"$SB/.faults-private"
}

sandbox_stop() {
    [ -n "$SB" ] || return 0
    timeout -k 10 120 "$REPO/tests/sandbox/sandbox.sh" stop "$SB" \
            >>"$OUT/sandbox.log" 2>&1 </dev/null ||
        echo "faults: warning: sandbox stop failed (see $OUT/sandbox.log)"
    SB=""
}

on_signal() {
    trap - INT TERM
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    [ -n "$TAILPID" ] && kill "$TAILPID" 2>/dev/null
    sandbox_stop
    echo "faults: interrupted; logs in $OUT"
    echo "not ok 1 - fault suite interrupted"
    exit 1
}
trap on_signal INT TERM
trap 'sandbox_stop' EXIT

# run_scenario NAME: runs it (bounded), its output indented; its row lands in $OUT
run_scenario() {
    local name=$1 log=$OUT/$1.log rc t0=$SECONDS
    echo "faults: ---- $name"
    : >"$log"
    timeout -k 30 "$STEP_T" env SANDBOX_DIR="$SB" FAULTS_QUICK="$QUICK" FAULTS_OUT="$OUT" \
        bash "$HERE/$name.sh" >"$log" 2>&1 </dev/null &
    CHILD=$!
    tail -n +1 -f --pid="$CHILD" "$log" 2>/dev/null | sed -u 's/^/    /' &
    TAILPID=$!
    wait "$CHILD"
    rc=$?
    wait "$TAILPID" 2>/dev/null
    CHILD="" TAILPID=""
    echo "faults: $name: exit $rc after $((SECONDS - t0))s"
    if [ ! -s "$OUT/$name.row" ]; then
        local why="no result (exit $rc)"
        [ $rc = 124 ] && why="HANG: the scenario ran past ${STEP_T}s"
        printf '%s\t?\t?\t?\t?\t%s\n' "$name" "$why" >"$OUT/$name.row"
    elif [ $rc = 124 ]; then
        awk -F'\t' -v OFS='\t' -v h="HANG: the scenario ran past ${STEP_T}s" \
            '{ $6 = h "; " $6; print }' "$OUT/$name.row" >"$OUT/$name.row.new" &&
            mv "$OUT/$name.row.new" "$OUT/$name.row"
    fi
    echo "$rc" >"$OUT/$name.rc"
}

# the sandbox must be sound before each scenario (a scenario may have broken it)
sandbox_sound() {
    "$REPO/tests/sandbox/sandbox.sh" status "$SB" >/dev/null 2>&1 &&
        ! "$REPO/tests/sandbox/sandbox.sh" full "$SB" >/dev/null 2>&1
}

T0=$SECONDS
sandbox_start || { echo "not ok 1 - fault suite: the sandbox does not start"; exit 1; }
for name in "${SCENARIOS[@]}"; do
    if ! sandbox_sound; then
        echo "faults: the sandbox is not sound before $name; starting a fresh one"
        sandbox_stop
        if ! sandbox_start; then
            printf '%s\t?\t?\t?\t?\tno sandbox\n' "$name" >"$OUT/$name.row"
            continue
        fi
    fi
    run_scenario "$name"
done
sandbox_stop

# ---------------------------------------------------------------- the table and TAP
echo
echo "fault suite ($([ "$QUICK" = 1 ] && echo quick || echo full), $((SECONDS - T0))s, $RBD2S3)"
printf '| %-20s | %4s | %4s | %8s | %9s |\n' scenario runs ok failures "data lost"
printf '|%s|%s|%s|%s|%s|\n' "----------------------" ------ ------ ---------- -----------
n=0
for name in "${SCENARIOS[@]}"; do
    IFS=$'\t' read -r _ runs okc fails lost notes <"$OUT/$name.row"
    printf '| %-20s | %4s | %4s | %8s | %9s |\n' "$name" "$runs" "$okc" "$fails" "$lost"
done
echo
for name in "${SCENARIOS[@]}"; do
    n=$((n + 1))
    IFS=$'\t' read -r _ runs okc fails lost notes <"$OUT/$name.row"
    checks=$(grep -c '^not ok ' "$OUT/$name.log" 2>/dev/null)
    rc=$(cat "$OUT/$name.rc" 2>/dev/null || echo '?')
    if [ "$fails" = 0 ] && [ "$lost" = 0 ] && [ "$rc" = 0 ] && [ "${checks:-0}" = 0 ]; then
        echo "ok $n - $name: $runs runs, all ok"
    else
        FAILED=$((FAILED + 1))
        echo "not ok $n - $name: $runs runs, $fails failed, $lost with data lost (exit $rc)"
        tr ';' '\n' <<<"$notes" | sed 's/^ */#   /'
    fi
done
echo "1..$n"
echo "# fault suite: $((n - FAILED)) of $n scenarios passed; logs in $OUT"
if [ "$FAILED" = 0 ] && [ "$KEEP_LOGS" != 1 ]; then
    rm -rf "$OUT"
fi
[ "$FAILED" = 0 ]
