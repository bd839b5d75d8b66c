#!/usr/bin/env bash
# run.sh - run the libFuzzer harnesses (built by fuzz/build.sh, which this calls first).
#
# usage: fuzz/run.sh --replay [HARNESS...]
#            each harness over its corpus (fuzz/corpus/H and the fresh seeds of
#            fuzz/out/seeds/H), every input once, no mutation: seconds. Prints TAP,
#            one line per harness; exit 1 if any input fails, 77 if clang is missing.
#        fuzz/run.sh --time SECONDS [--jobs N] [HARNESS...]
#            fuzz each harness for SECONDS, N at a time (default 1: one after the
#            other; libFuzzer -fork=1, going on after a finding, with fuzz/dict/H.dict
#            if there is one), starting from a copy of its corpus in fuzz/out/work/H;
#            reproducers go to fuzz/out/artifacts/H/. Ends with a table:
#            harness | execs | findings | time. Exit 1 if anything was found.
# HARNESS: diffstream, manifest, ... (default: every fuzz/harness/fuzz_*.c). Env: JOBS (build).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FUZZ_OUT:-$SRC/fuzz/out}
# Limits for every run: a chunk is at most 64 MiB, so no allocation of a harness or the
# code under test needs 512 MiB; an input taking 10 s is a hang.
LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10)

mode=${1:-}
case $mode in
    --replay) shift ;;
    --time) secs=${2:?--time needs SECONDS}; shift 2
        if [ "${1:-}" = --jobs ]; then
            njobs=${2:?--jobs needs N}
            shift 2
        fi ;;
    *) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac

"$SRC/fuzz/build.sh" >"$OUT.build.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
    echo "fuzz: skipped: $(tail -n 1 "$OUT.build.log")"
    exit 77
elif [ $rc -ne 0 ]; then
    tail -n 30 "$OUT.build.log"
    echo "fuzz: build failed (log: $OUT.build.log)"
    exit 1
fi

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for f in "$SRC"/fuzz/harness/fuzz_*.c; do
        h=${f##*/fuzz_}
        harnesses+=("${h%.c}")
    done
fi

replay() {
    local i=0 failed=0 h files log
    echo "1..${#harnesses[@]}"
    for h in "${harnesses[@]}"; do
        i=$((i + 1))
        files=()
        for f in "$SRC/fuzz/corpus/$h"/* "$OUT/seeds/$h"/*; do
            [ -f "$f" ] && files+=("$f")
        done
        log=$OUT/replay-$h.log
        if [ ! -x "$OUT/fuzz_$h" ]; then
            echo "not ok $i - $h: no harness fuzz_$h"
            failed=1
        elif [ ${#files[@]} -eq 0 ]; then
            echo "not ok $i - $h: no corpus"
            failed=1
        elif timeout -k 5 300 "$OUT/fuzz_$h" "${LIMITS[@]}" "${files[@]}" >"$log" 2>&1; then
            echo "ok $i - $h (${#files[@]} inputs)"
        else
            echo "not ok $i - $h: fails on $(grep -o 'Running: .*' "$log" | tail -n 1)"
            tail -n 25 "$log" | sed 's/^/#   /'
            failed=1
        fi
    done
    return $failed
}

fuzz_one() { # HARNESS: prints "execs findings seconds"
    local h=$1 work=$OUT/work/$1 art=$OUT/artifacts/$1 t0 last
    mkdir -p "$work/corpus" "$art"
    cp -n "$SRC/fuzz/corpus/$h"/* "$OUT/seeds/$h"/* "$work/corpus/" 2>/dev/null
    local before
    before=$(find "$art" -type f | wc -l)
    local dict=()
    [ -f "$SRC/fuzz/dict/$h.dict" ] && dict=(-dict="$SRC/fuzz/dict/$h.dict")
    t0=$SECONDS
    timeout -k 10 $((secs + 120)) "$OUT/fuzz_$h" "${LIMITS[@]}" "${dict[@]}" -fork=1 \
        -ignore_crashes=1 \
        -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$secs" -artifact_prefix="$art/" \
        "$work/corpus" >"$work/log" 2>&1
    last=$(grep -E '^#[0-9]+: cov:' "$work/log" | tail -n 1)
    last=${last%%:*}
    echo "${last#\#} $(($(find "$art" -type f | wc -l) - before)) $((SECONDS - t0))"
}

if [ "$mode" = --replay ]; then
    replay
    exit
fi

# N at a time, each writing its numbers into $OUT/work/H.result; the table in order.
rows=() total=0
for h in "${harnesses[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "${njobs:-1}" ]; do
        wait -n
    done
    echo "fuzz: $h for ${secs}s (log: $OUT/work/$h/log)"
    mkdir -p "$OUT/work"
    fuzz_one "$h" >"$OUT/work/$h.result" &
done
wait
for h in "${harnesses[@]}"; do
    read -r execs found took <"$OUT/work/$h.result"
    rows+=("| $h | ${execs:-0} | $found | ${took} s |")
    total=$((total + found))
done
echo
echo "| harness | execs | findings | time |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ $total -eq 0 ] || echo "fuzz: $total finding(s); reproducers in $OUT/artifacts/"
[ $total -eq 0 ]
