#!/usr/bin/env bash
# Ceph faults: a frozen OSD (SIGSTOP) must not hang the agent, SIGTERM must end it in
# bounded time (exit 10), and after a kill -9 the next backup must not wait for librbd's
# exclusive lock of the dead run. It freezes OSDs, so it ALWAYS starts its own sandbox
# (a SANDBOX_DIR given by the caller is ignored): other scripts never see the freeze.
# The frozen OSD is the destination cluster's, backed up to the source's RGW, so S3 stays
# up while Ceph does not answer. Every agent run has a generous `timeout` guard; the pass
# criteria are exit codes and messages, never durations (those are printed as diag).
unset SANDBOX_DIR
. "$(dirname "$0")/../lib.sh"

GUARD=${GUARD:-150}
DOSD=$(awk '$2 == "dst-osd.0" { print $1 }' "$SANDBOX_DIR/pids")
[ -n "$DOSD" ] || bail "no dst-osd.0 in $SANDBOX_DIR/pids"
DST_ARGS=(--ceph-conf "$DST_CEPH_CONF" --endpoint "$S3_ENDPOINT" --bucket "$BUCKET" --no-progress)

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

# Start an agent on the destination cluster in the background: PID (the agent itself, so
# that signals reach it), its stderr in $1. Reap it with guard_wait.
start_dst() { # ERRFILE ARGS...
    local err=$1
    shift
    "$RBD2S3" "${DST_ARGS[@]}" "$@" >"$err.out" 2>"$err" </dev/null &
    PID=$!
}

# Wait for PID; after GUARD seconds kill -9 it (a hang) and return 137. Sets ELAPSED.
guard_wait() {
    local t0 i
    t0=$(now)
    for ((i = 0; i < GUARD * 10; i++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$PID" 2>/dev/null; then
        diag "still running after the ${GUARD}s guard: kill -9"
        kill -9 "$PID" 2>/dev/null
    fi
    wait "$PID" 2>/dev/null
    local rc=$?
    ELAPSED=$(since "$t0")
    return $rc
}

wait_line() { # FILE PATTERN: up to 60 s
    for ((i = 0; i < 1200; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Thaw the OSD. After a long freeze, PGs can stay "laggy" (ops waiting for readable)
# until the OSD re-peers: mark it down (it comes back at once) and wait until it answers.
thaw() {
    kill -CONT "$DOSD" 2>/dev/null
    timeout 30 ceph -c "$DST_CEPH_CONF" osd down 0 >/dev/null 2>&1
    for ((i = 0; i < 60; i++)); do
        timeout 10 rbd -c "$DST_CEPH_CONF" ls rbd >/dev/null 2>&1 &&
            timeout 10 rbd -c "$DST_CEPH_CONF" info "$DIMG" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}
trap '_rc=$?; kill -CONT "$DOSD" 2>/dev/null; (exit $_rc); _lib_exit' EXIT

no_manifest() { # of the frozen cluster's image
    [ "$(bucket_keys | grep -F "/$DNAME/" | grep -c '/manifest\.json$')" = 0 ]
}

# ---- 1. kill -9 of a backup; the next one breaks the dead run's librbd lock at once
NAME=$(img lock)
SRC=rbd/$NAME
require "create a 64 MiB image" create_image "$SRC" 64M
require "fill it" write_random "$SRC" 0 64M
next_after_kill() { # BINARY: kill -9 a stalled backup, then time the next one (-v)
    RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$1" "${RB_ARGS[@]}" \
        --part-size 5M backup --full "$SRC" >/dev/null 2>"$TMPD/k.err" </dev/null &
    PID=$!
    wait_line "$TMPD/k.err" 'debug: stalled' || diag "the backup to kill did not stall"
    kill -9 "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    local t0
    t0=$(now)
    timeout -k 5 "$GUARD" "$1" "${RB_ARGS[@]}" -v backup "$SRC" >/dev/null 2>"$TMPD/n.err" </dev/null
    NEXT_RC=$?
    NEXT_SECS=$(since "$t0")
}
next_after_kill "$RBD2S3"
expect_eq "$NEXT_RC" 0 "the backup after a kill -9 succeeds"
check "it broke the dead run's librbd exclusive lock (-v line)" \
    grep -q "broke librbd's exclusive lock of " "$TMPD/n.err"
diag "next backup after kill -9: ${NEXT_SECS}s"
check "a lock of a live holder is not broken: a concurrent run is refused (exit 11)" bash -c '
    RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$1" "${@:3}" --part-size 5M backup --full "$2" \
        >/dev/null 2>"$0/live.err" </dev/null & p=$!
    for ((i = 0; i < 1200; i++)); do grep -q "debug: stalled" "$0/live.err" && break; sleep 0.05; done
    timeout 60 "$1" "${@:3}" backup "$2" >/dev/null 2>"$0/busy.err"; rc=$?
    kill -9 $p; wait $p 2>/dev/null; [ $rc = 11 ]' "$TMPD" "$RBD2S3" "$SRC" "${RB_ARGS[@]}"

# ---- 2. a frozen OSD: a Ceph call times out (--ceph-timeout), exit 9, one error line
DNAME=$(img frozen)
DIMG=rbd/$DNAME
require "create a 64 MiB image on the frozen-to-be cluster" \
    timeout 60 rbd -c "$DST_CEPH_CONF" create --size 64M "$DIMG"
require "fill it" write_random "$DIMG" 0 64M "$DST_CEPH_CONF"

start_dst "$TMPD/t.err" -v --ceph-timeout 5 --abort-timeout 20 backup "$DIMG"
wait_line "$TMPD/t.err" 'image open' || diag "no 'image open' line"
kill -STOP "$DOSD"
guard_wait
rc=$?
diag "backup with the OSD frozen, --ceph-timeout 5: exit $rc after ${ELAPSED}s"
check "thaw the OSD" thaw
expect_eq "$rc" 9 "the backup fails with exit 9 instead of hanging"
if [ "$rc" != 9 ]; then   # which Ceph call was stuck decides the path: show it
    while IFS= read -r line; do diag "stderr: $line"; done < <(tail -n 20 "$TMPD/t.err")
fi
# Which call gets stuck first depends on the moment: librados cancels an op after the
# timeout ("Connection timed out"); a snapshot creation, which librbd retries, is cut
# by the agent after twice the timeout, or fails with EROFS once the timeout cancelled
# its lock request, which rbdio reports as "timed out" (test_snap_timeout.sh).
check "its error line says the Ceph call timed out" \
    grep -Eq '^rbd2s3: backup: .*([Tt]imed out|no answer from the Ceph cluster within 10 s)' \
    "$TMPD/t.err"
check "no manifest in the bucket" no_manifest

# ---- 3. SIGTERM while the cleanup hangs on a frozen OSD: exit 10 after the default
# --abort-timeout (30 s), naming the snapshot left behind
stalled_frozen() { # ERRFILE ARGS...: a backup stalled after one part, then the OSD frozen
    RBD2S3_DEBUG_STALL_AFTER_PARTS=1 start_dst "$@" -q --part-size 5M backup --full "$DIMG"
    wait_line "$1" 'debug: stalled' || diag "the backup did not stall"
    kill -STOP "$DOSD"
}
stalled_frozen "$TMPD/s.err"
kill -TERM "$PID"
guard_wait
rc=$?
diag "SIGTERM with the OSD frozen (abort timeout 30 s): exit $rc after ${ELAPSED}s"
check "thaw the OSD" thaw
expect_eq "$rc" 10 "SIGTERM ends the stuck backup with exit 10"
check "one line says the cleanup did not end and the snapshot left" \
    grep -q '^rbd2s3: backup: interrupted; the cleanup did not end within 30 s (snapshot rbd/.* not removed)$' \
    "$TMPD/s.err"
expect_eq "$(grep -v '^rbd2s3: debug: stalled$' "$TMPD/s.err" | grep -c .)" 1 \
    "exactly one line on stderr (besides the test hook's)"
check "no manifest in the bucket" no_manifest

# ---- 4. a second SIGTERM ends it at once
stalled_frozen "$TMPD/s2.err"
kill -TERM "$PID"
sleep 2
kill -TERM "$PID"
guard_wait
rc=$?
diag "second SIGTERM with the OSD frozen: exit $rc after ${ELAPSED}s (2 s after the first)"
check "thaw the OSD" thaw
expect_eq "$rc" 10 "a second SIGTERM exits with 10"
check "its line says it left the cleanup unfinished" \
    grep -q '^rbd2s3: backup: interrupted again: exit before the cleanup ended' "$TMPD/s2.err"
check "no manifest in the bucket" no_manifest
rb --format json list "rbd/$DNAME" >"$TMPD/list.json" 2>"$TMPD/list.err"
expect_eq "$(jq '.backups | length' "$TMPD/list.json" 2>/dev/null)" 0 "list shows no backup"

done_testing
