#!/usr/bin/env bash
# run-tests.sh - build rbd2s3 and run every test: unit tests (`make check`), the fuzz
# harnesses over their corpus (fuzz/run.sh --replay; skipped without clang), the unit tests
# under AddressSanitizer/UBSan, and the integration tests against a throwaway sandbox
# (two Ceph clusters and an RGW on loopback, tests/sandbox/sandbox.sh), then the quick
# subset of the fault suite (tests/faults/run.sh --quick, in a sandbox of its own; the
# filter "faults" selects it, FAULTS_TIMEOUT bounds it, default 2400 s).
#
# usage: ./run-tests.sh [options] [FILTER...]
#   FILTER          run only the integration tests whose name contains FILTER (several
#                   filters: any of them), e.g. `./run-tests.sh backup_chain crash`;
#                   with a filter the sanitizer build is skipped unless --asan is given
#   --no-asan       skip the sanitizer build
#   --asan          do the sanitizer build even with a filter
#   --no-unit       skip `make check` and the fuzz corpus replay (the build still runs)
#   --no-integration  skip the sandbox, the integration tests and the fault suite
#   --asan-integration  run the integration scripts a second time with the sanitizer
#                   build's binary (build-asan/src/rbd2s3)
#   --sandbox DIR   use the sandbox already running in DIR (not stopped at the end)
#   --no-s3rver     skip the second pass of the bucket-level scripts against s3rver
#   -h, --help      this text
#
# Builds:
#   main       in the source tree, as documented: ./autogen.sh && ./configure && make
#              (autogen.sh only when ./configure is missing, configure only when ./Makefile
#              is missing; make re-runs both itself when configure.ac or Makefile.am change)
#   sanitizer  automake cannot build out-of-tree from a source dir that is configured in
#              tree, so the sources (git ls-files: tracked and untracked, not ignored) are
#              copied to build-asan/src and configured there with --enable-sanitizers;
#              the copy keeps timestamps, so a re-run rebuilds only what changed
#
# Counting: automake's "# PASS: N" adds N passed, "# FAIL:", "# ERROR:" and "# XPASS:" add
# failures (per test program); the integration programs (tests/integration/s3/test_s3_rgw,
# tests/integration/rbdio/test_rbdio) print "N passed, N failed" themselves; each
# tests/integration/**/test_*.sh (in a subject folder or flat; run in the order of their
# names, FILTER matches the name) prints TAP lines: every "ok N" passes, every "not ok N"
# fails, and a script that exits non-zero without a "not ok" counts as one failure. A
# build, sandbox or install step that fails counts as one failure. The last line is
# "N passed, N failed"; the exit code is non-zero if anything failed. Logs are kept in a
# temp dir named at the end when anything failed (always with KEEP_LOGS=1). Env: JOBS
# (make -j, default 2), SCRIPT_TIMEOUT (s, per integration script, default 1200), KEEP=1
# (scripts keep their images and buckets).
#
# The s3rver pass: after the RGW pass, the bucket-level scripts (S3RVER_SCRIPTS: backup,
# restore, list, prune, verify) run again with their bucket on s3rver, a second S3
# implementation (tests/sandbox/s3rver.sh installs it with npm and starts it on loopback;
# Ceph stays the sandbox's); their lines read "[s3rver] test_NAME". The filter "s3rver"
# selects the whole pass. When s3rver cannot be installed or started (no npm, offline),
# each of its scripts counts as one failure, with one line saying why.
set -u -o pipefail

cd "$(dirname "$0")" || exit 1
TOP=$(pwd)

ASAN=auto UNIT=yes INTEG=yes ASAN_INTEG=no USE_SB="" FILTERS=() S3RVER=yes
while [ $# -gt 0 ]; do
    case $1 in
        --no-asan) ASAN=no ;;
        --asan) ASAN=yes ;;
        --no-unit) UNIT=no ;;
        --no-integration) INTEG=no ;;
        --asan-integration) ASAN_INTEG=yes; ASAN=yes ;;
        --sandbox) USE_SB=${2:?--sandbox needs a directory}; shift ;;
        --no-s3rver) S3RVER=no ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-tests: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) FILTERS+=("$1") ;;
    esac
    shift
done
if [ "$ASAN" = auto ]; then
    if [ ${#FILTERS[@]} -gt 0 ]; then ASAN=no; else ASAN=yes; fi
fi

PASSED=0 FAILED=0 ASAN_OK=no
NOTES=()
LOGDIR=$(mktemp -d /tmp/rbd2s3-tests.XXXXXX)
SB="" OWN_SB=no CHILD="" TAILPID=""
JOBS=${JOBS:-2}
export AM_COLOR_TESTS=no

say()     { printf '\n=== %s\n' "$*"; }
fail_step() { FAILED=$((FAILED + 1)); NOTES+=("FAILED: $*"); echo "run-tests: FAILED: $*"; }

stop_sandbox() {
    if [ "$OWN_SB" = yes ] && [ -n "$SB" ]; then
        timeout -k 10 120 tests/sandbox/sandbox.sh stop "$SB" >>"$LOGDIR/sandbox.log" 2>&1 </dev/null \
            || echo "run-tests: warning: sandbox stop failed (see $LOGDIR/sandbox.log)"
        OWN_SB=no
    fi
}

# Ceph 16's memstore can lose count of its bytes and then call its OSD full ("failsafe
# engaged ... now -2147483648% full"): every write to that cluster then hangs. Seen once,
# on the destination cluster after test_crash. When our own sandbox says so after a
# script, it is replaced by a fresh one so that the scripts after it are not stuck too
# (the script that ran into it has failed already, and the run stays failed).
renew_sandbox_if_full() { # NAME: the script just run
    [ "$OWN_SB" = yes ] && [ -n "$SB" ] || return 0
    local full
    full=$(tests/sandbox/sandbox.sh full "$SB" 2>/dev/null) || return 0
    fail_step "after $1 the sandbox's OSD reports full ($full); starting a fresh sandbox"
    stop_sandbox
    if start_sandbox; then
        export SANDBOX_DIR=$SB
    else
        fail_step "sandbox restart"
    fi
}

# ------------------------------------------------------------------ s3rver
# The bucket-level scripts of the s3rver pass (their names; they find the bucket on s3rver
# through lib.sh's RBD2S3_TEST_S3=s3rver).
S3RVER_SCRIPTS=(test_backup_chain test_list_pages test_prune test_prune_damaged test_s3_odd_keys
    test_verify)
S3RVER_DIR=""

stop_s3rver() {
    [ -n "$S3RVER_DIR" ] || return 0
    timeout -k 10 60 tests/sandbox/s3rver.sh stop "$S3RVER_DIR" >>"$LOGDIR/s3rver.log" 2>&1 \
        </dev/null || echo "run-tests: warning: s3rver stop failed (see $LOGDIR/s3rver.log)"
    S3RVER_DIR=""
}

# count_tap LOG NAME RC T0 WHAT: add LOG's TAP lines ("ok N" passes, "not ok N" fails) to
# the totals; a non-zero RC without a "not ok" is one failure (WHAT: "failed" or the like).
count_tap() {
    local log=$1 name=$2 rc=$3 t0=$4 what=$5 p f
    p=$(grep -cE '^ok [0-9]+' "$log")
    f=$(grep -cE '^not ok [0-9]+' "$log")
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    echo "run-tests: $name: $p passed, $f failed ($((SECONDS - t0))s)"
    if [ "$f" -gt 0 ]; then
        NOTES+=("$name: $f $what")
    elif [ "$rc" -ne 0 ]; then
        fail_step "$name exited $rc"
    fi
}

# run_script SCRIPT SUFFIX: one integration script, its TAP lines counted; the name in
# the results is "PREFIX test_NAME SUFFIX" (PREFIX: $RESULT_PREFIX, e.g. "[s3rver] ").
run_script() {
    local script=$1 suffix=$2 name log t0 rc
    name=${RESULT_PREFIX:-}$(basename "$script" .sh)$suffix
    say "$name"
    log=$LOGDIR/$(basename "$script" .sh)${suffix:+-asan}${RESULT_PREFIX:+-s3rver}.log
    t0=$SECONDS
    run_logged "$log" "${SCRIPT_TIMEOUT:-1200}" bash "$script"
    rc=$?
    count_tap "$log" "$name" "$rc" "$t0" failed
    renew_sandbox_if_full "$name"
}

# s3rver_pass SCRIPT...: start s3rver, run the scripts against it, stop it. If it cannot
# start, every script counts as one failure and one line says why.
s3rver_pass() {
    local script why
    S3RVER_DIR=$(mktemp -d /tmp/rbd2s3-s3rver.XXXX)
    if ! timeout -k 10 900 tests/sandbox/s3rver.sh start "$S3RVER_DIR" \
            >>"$LOGDIR/s3rver.log" 2>&1 </dev/null; then
        why=$(grep -m1 '^s3rver.sh: ' "$LOGDIR/s3rver.log" || tail -n 1 "$LOGDIR/s3rver.log")
        rm -rf "$S3RVER_DIR"
        S3RVER_DIR=""
        FAILED=$((FAILED + $#))
        NOTES+=("FAILED: s3rver pass: s3rver did not start, $# scripts not run ($why)")
        echo "run-tests: FAILED: s3rver pass: s3rver did not start ($why)"
        return
    fi
    cat "$LOGDIR/s3rver.log"
    for script in "$@"; do
        RBD2S3_TEST_S3=s3rver RBD2S3_S3RVER_DIR=$S3RVER_DIR RESULT_PREFIX="[s3rver] " \
            run_script "$script" ""
    done
    stop_s3rver
}

# A private sandbox in a new directory ($SB); its log goes to $LOGDIR/sandbox.log.
start_sandbox() {
    SB=$(mktemp -d /tmp/rbd2s3-sb.XXXX)
    OWN_SB=yes
    timeout -k 10 300 tests/sandbox/sandbox.sh start "$SB" >>"$LOGDIR/sandbox.log" 2>&1 </dev/null
}

finish() {
    trap - EXIT INT TERM
    stop_sandbox
    stop_s3rver
    echo
    local n
    for n in "${NOTES[@]}"; do echo "run-tests: $n"; done
    if [ "$FAILED" -eq 0 ] && [ "${KEEP_LOGS:-0}" != 1 ]; then
        rm -rf "$LOGDIR"
    else
        echo "run-tests: logs in $LOGDIR"
    fi
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit
}

on_signal() {
    trap - INT TERM
    local i
    if [ -n "$CHILD" ]; then
        # timeout runs each step in a process group of its own: end the whole group,
        # giving a test script up to 30 s to clean up after itself
        kill -TERM -- -"$CHILD" 2>/dev/null
        for ((i = 0; i < 60; i++)); do
            kill -0 "$CHILD" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- -"$CHILD" 2>/dev/null
    fi
    [ -n "$TAILPID" ] && kill "$TAILPID" 2>/dev/null
    fail_step "interrupted"
    finish
}
trap finish EXIT
trap on_signal INT TERM

# run_logged LOG TIMEOUT CMD...: run CMD (in a process group of its own, via timeout) with its
# output going to LOG and, as it comes, to the terminal; returns CMD's exit code.
# (tail --pid, not a pipe: a daemon that keeps a copy of stdout cannot make us wait;
# both in the background, so that a signal interrupts `wait` at once.)
run_logged() {
    local log=$1 secs=$2 rc
    shift 2
    : >"$log"
    timeout -k 15 "$secs" "$@" >"$log" 2>&1 </dev/null &
    CHILD=$!
    tail -n +1 -f --pid="$CHILD" "$log" 2>/dev/null &
    TAILPID=$!
    wait "$CHILD"
    rc=$?
    wait "$TAILPID" 2>/dev/null
    CHILD="" TAILPID=""
    [ $rc -eq 124 ] && echo "run-tests: timed out after ${secs}s: $*"
    return $rc
}

# run_quiet LOG TIMEOUT CMD...: like run_logged, but the output is shown only on failure.
run_quiet() {
    local log=$1 secs=$2 rc
    shift 2
    echo "run-tests: $* (log: $log)"
    timeout -k 15 "$secs" "$@" >"$log" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=""
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "run-tests: timed out after ${secs}s: $*"
        tail -n 40 "$log"
    fi
    return $rc
}

matches_filter() {
    [ ${#FILTERS[@]} -eq 0 ] && return 0
    local f
    for f in "${FILTERS[@]}"; do
        case $1 in *"$f"*) return 0 ;; esac
    done
    return 1
}

# count_automake LOG LABEL: add make check's summary to the totals.
count_automake() {
    local log=$1 label=$2 p f e x
    p=$(sed -n 's/^# PASS: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/^# FAIL: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    e=$(sed -n 's/^# ERROR: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    x=$(sed -n 's/^# XPASS: *\([0-9]*\)/\1/p' "$log" | tail -n 1)
    if [ -z "$p" ]; then
        return 1
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + ${f:-0} + ${e:-0} + ${x:-0}))
    echo "run-tests: $label: $p passed, $((${f:-0} + ${e:-0} + ${x:-0})) failed"
    return 0
}

# show_failed_unit DIR: the tails of the logs of failed automake tests under DIR.
show_failed_unit() {
    local trs
    grep -rlE '^:test-result: (FAIL|ERROR|XPASS)' --include='*.trs' "$1" 2>/dev/null \
        | while read -r trs; do
            echo "---- ${trs%.trs}.log (last 40 lines)"
            tail -n 40 "${trs%.trs}.log"
        done
}

# make_check DIR LABEL LOG: run make check in DIR and count it.
make_check() {
    local dir=$1 label=$2 log=$3 rc
    run_logged "$log" 1800 env -C "$dir" make -j"$JOBS" check
    rc=$?
    if ! count_automake "$log" "$label"; then
        fail_step "$label: make check printed no test summary (exit $rc)"
        tail -n 30 "$log"
        return
    fi
    if [ $rc -ne 0 ]; then
        show_failed_unit "$dir"
        if ! grep -qE '^# (FAIL|ERROR|XPASS): *[1-9]' "$log"; then
            fail_step "$label: make check exited $rc"
        fi
    fi
}

# ------------------------------------------------------------------ dependencies
say "dependencies"
if tests/install-deps.sh; then
    echo "run-tests: all packages present"
else
    fail_step "tests/install-deps.sh"
fi

# ------------------------------------------------------------------ build
say "build"
BUILD_OK=yes
if [ ! -x configure ]; then
    run_quiet "$LOGDIR/autogen.log" 600 ./autogen.sh || { fail_step "./autogen.sh"; BUILD_OK=no; }
fi
if [ $BUILD_OK = yes ] && [ ! -f Makefile ]; then
    run_quiet "$LOGDIR/configure.log" 600 ./configure || { fail_step "./configure"; BUILD_OK=no; }
fi
if [ $BUILD_OK = yes ]; then
    run_logged "$LOGDIR/make.log" 1800 make -j"$JOBS" || { fail_step "make"; BUILD_OK=no; }
fi
[ $BUILD_OK = yes ] && [ ! -x rbd2s3 ] && { fail_step "make produced no ./rbd2s3"; BUILD_OK=no; }

# ------------------------------------------------------------------ unit tests
if [ $BUILD_OK = yes ] && [ $UNIT = yes ]; then
    say "unit tests (make check)"
    make_check "$TOP" "unit tests" "$LOGDIR/check.log"
fi

# ------------------------------------------------------------------ fuzz corpus replay
# Each libFuzzer harness over its corpus, once (fuzz/run.sh prints TAP: one line per
# harness). Skipped, with a note, when clang or libFuzzer is missing (exit 77).
if [ $BUILD_OK = yes ] && [ $UNIT = yes ]; then
    say "fuzz corpus replay (fuzz/run.sh --replay)"
    run_logged "$LOGDIR/fuzz.log" 1800 fuzz/run.sh --replay
    rc=$?
    if [ $rc -eq 77 ]; then
        NOTES+=("SKIPPED: fuzz corpus replay ($(grep -m1 '^fuzz: skipped' "$LOGDIR/fuzz.log"))")
    else
        p=$(grep -cE '^ok [0-9]+' "$LOGDIR/fuzz.log")
        f=$(grep -cE '^not ok [0-9]+' "$LOGDIR/fuzz.log")
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        echo "run-tests: fuzz corpus replay: $p passed, $f failed"
        [ "$f" -gt 0 ] && NOTES+=("fuzz corpus replay: $f failed")
        [ "$f" -eq 0 ] && [ $rc -ne 0 ] && fail_step "fuzz/run.sh --replay exited $rc"
    fi
fi

# ------------------------------------------------------------------ sanitizer build
if [ $ASAN = yes ]; then
    say "sanitizer build (build-asan/src, --enable-sanitizers) and its unit tests"
    ASRC=$TOP/build-asan/src
    mkdir -p "$ASRC"
    if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
        # tracked and untracked-but-not-ignored files that exist
        git -C "$TOP" ls-files -z -c -o --exclude-standard \
            | (cd "$TOP" && xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh) \
            >"$LOGDIR/asan-files"
    else
        (cd "$TOP" && find . -path ./build-asan -prune -o -path ./.git -prune -o -type f -print0) \
            >"$LOGDIR/asan-files"
    fi
    if tar -C "$TOP" --null -T "$LOGDIR/asan-files" -cf - | tar -C "$ASRC" -xf -; then
        ASAN_OK=yes
        if [ ! -x "$ASRC/configure" ]; then
            run_quiet "$LOGDIR/asan-autogen.log" 600 env -C "$ASRC" ./autogen.sh \
                || { fail_step "sanitizer build: autogen.sh"; ASAN_OK=no; }
        fi
        if [ $ASAN_OK = yes ] && ! grep -q -- '--enable-sanitizers' "$ASRC/config.status" 2>/dev/null; then
            # never configured here, or configured without sanitizers (copied from a
            # tree without git): start clean
            [ -f "$ASRC/Makefile" ] && make -C "$ASRC" clean >/dev/null 2>&1
            run_quiet "$LOGDIR/asan-configure.log" 600 env -C "$ASRC" ./configure --enable-sanitizers \
                || { fail_step "sanitizer build: configure"; ASAN_OK=no; }
        fi
        if [ $ASAN_OK = yes ]; then
            run_logged "$LOGDIR/asan-make.log" 1800 make -C "$ASRC" -j"$JOBS" \
                || { fail_step "sanitizer build: make"; ASAN_OK=no; }
        fi
        if [ $ASAN_OK = yes ] && [ $UNIT = yes ]; then
            ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
            UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
                make_check "$ASRC" "sanitizer unit tests" "$LOGDIR/asan-check.log"
        fi
    else
        fail_step "sanitizer build: copying the sources to $ASRC"
    fi
fi

# ------------------------------------------------------------------ integration
if [ $INTEG = yes ] && [ $BUILD_OK = yes ]; then
    say "sandbox"
    if [ -n "$USE_SB" ]; then
        SB=$(cd "$USE_SB" && pwd)
        echo "run-tests: using the running sandbox in $SB"
    else
        if ! start_sandbox; then
            tail -n 40 "$LOGDIR/sandbox.log"
            fail_step "sandbox start"
            SB=""
        else
            cat "$LOGDIR/sandbox.log"
        fi
    fi
    if [ -n "$SB" ] && [ ! -f "$SB/env.sh" ]; then
        fail_step "sandbox: no $SB/env.sh"
        SB=""
    fi
fi

if [ -n "$SB" ]; then
    export SANDBOX_DIR=$SB RBD2S3=$TOP/rbd2s3

    # the C integration programs print "N passed, N failed" themselves
    for prog in tests/integration/s3/test_s3_rgw tests/integration/rbdio/test_rbdio; do
        name=${prog##*/}
        [ -x "$prog" ] || { echo "run-tests: $prog not built, skipped"; continue; }
        matches_filter "$name" || continue
        say "$name"
        bucket=rbd2s3-it-$name-$$
        bucket=${bucket//_/-}
        log=$LOGDIR/$name.log
        # shellcheck disable=SC2016
        run_logged "$log" 900 env TEST_BUCKET="$bucket" bash -c '
            . "$SANDBOX_DIR/env.sh" || exit 1
            if [ "$1" = test_s3_rgw ]; then
                s3api create-bucket --bucket "$TEST_BUCKET" >/dev/null || exit 1
            fi
            "$2"; rc=$?
            if [ "$1" = test_s3_rgw ]; then s3cli rb --force "s3://$TEST_BUCKET" >/dev/null 2>&1; fi
            exit $rc' sh "$name" "$TOP/$prog"
        rc=$?
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
        if [ -n "$line" ]; then
            p=${line%% passed*}
            f=${line#*passed, }
            f=${f%% failed*}
            PASSED=$((PASSED + p))
            FAILED=$((FAILED + f))
            if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
                fail_step "$name exited $rc"
            fi
            [ "$f" -gt 0 ] && NOTES+=("$name: $f failed")
        else
            fail_step "$name exited $rc without a summary line"
        fi
    done

    # the integration scripts print TAP; they sit in subject folders (backup/, restore/,
    # ...) or flat in tests/integration/, and run in the order of their names
    mapfile -t SCRIPTS < <(find tests/integration -name 'test_*.sh' -type f \
        -printf '%f\t%p\n' | sort | cut -f 2)
    BINARIES=("$TOP/rbd2s3")
    if [ "$ASAN_INTEG" = yes ]; then
        if [ -x "$TOP/build-asan/src/rbd2s3" ] && [ "${ASAN_OK:-no}" = yes ]; then
            BINARIES+=("$TOP/build-asan/src/rbd2s3")
        else
            fail_step "--asan-integration: no sanitizer build of rbd2s3"
        fi
    fi
    for bin in "${BINARIES[@]}"; do
        suffix=""
        [ "$bin" = "$TOP/rbd2s3" ] || suffix=" (sanitizer build)"
        for script in "${SCRIPTS[@]}"; do
            name=$(basename "$script" .sh)
            matches_filter "$name" || continue
            RBD2S3=$bin run_script "$script" "$suffix"
        done
    done

    # the second S3 server: the bucket-level scripts against s3rver
    S3RVER_RUN=()
    for script in "${SCRIPTS[@]}"; do
        name=$(basename "$script" .sh)
        [[ " ${S3RVER_SCRIPTS[*]} " == *" $name "* ]] || continue
        matches_filter "$name" || matches_filter s3rver || continue
        S3RVER_RUN+=("$script")
    done
    if [ "$S3RVER" = yes ] && [ ${#S3RVER_RUN[@]} -gt 0 ]; then
        say "s3rver pass (tests/sandbox/s3rver.sh)"
        s3rver_pass "${S3RVER_RUN[@]}"
    fi
fi

# ------------------------------------------------------------------ fault suite (quick)
# tests/faults/run.sh starts a sandbox of its own (it kills the RGW and freezes OSDs), so
# ours is stopped first; it prints one TAP line per scenario, counted like a script's.
if [ $INTEG = yes ] && [ $BUILD_OK = yes ] && matches_filter faults; then
    stop_sandbox
    say "fault suite (tests/faults/run.sh --quick)"
    log=$LOGDIR/faults.log
    t0=$SECONDS
    RBD2S3=$TOP/rbd2s3 run_logged "$log" "${FAULTS_TIMEOUT:-2400}" tests/faults/run.sh --quick
    count_tap "$log" "fault suite" $? "$t0" "scenarios failed"
fi
finish
