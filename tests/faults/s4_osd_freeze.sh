#!/usr/bin/env bash
# s4_osd_freeze.sh - an OSD frozen (SIGSTOP, then SIGCONT 5-20 s later) during a backup
# (source OSD, which also holds the RGW's data) and during a restore (destination OSD):
# the run must end by itself, ok or with a clean error, within FAULTS_FREEZE_GUARD
# (default 180 s; past it, it is a hang). And SIGTERM sent while the OSD is still frozen
# must end the run with exit 10 within FAULTS_TERM_GRACE (default 45 s). After each
# freeze the OSD is marked down so that its PGs re-peer (a PG can stay laggy), and the
# backups must all still restore identical.
. "$(dirname "$0")/flib.sh"
need_private_sandbox

GUARD=${FAULTS_FREEZE_GUARD:-180}
GRACE=${FAULTS_TERM_GRACE:-45}
# The scenario shows that the configured Ceph op timeout fires: with the default (120 s,
# and twice that for a snapshot call) a run of several stuck calls may outlast the guard.
# A PG of this one-OSD sandbox can stay laggy after a freeze until the OSD is marked down,
# so every call after the thaw may wait for its full timeout.
CEPH_TIMEOUT=${FAULTS_CEPH_TIMEOUT:-20}
RBX+=(--ceph-timeout "${CEPH_TIMEOUT}s")
NAME=$(img s4)
SRC=rbd/$NAME
require "create a ${IMG_MB} MiB image of random data" new_image "$NAME"
must_backup "$SRC"

BACKING_RX='^rbd2s3: backing up '
GET_RX='^s3: GET .*/data\.[0-9]+ -> 206 '
# op | frozen cluster | seconds | SIGTERM after (s, empty: none)
TRIALS=("backup|src|10|" "backup|src|60|2")
if [ "$QUICK" != 1 ]; then
    TRIALS+=("backup|src|5|" "backup|src|20|" "restore|dst|12|" "restore|dst|20|"
             "restore|src|10|" "restore|dst|60|2")
fi

# a_backup N HOOK-ARGS...: a backup under a freeze; sets KID, counts it if committed
a_backup() {
    local n=$1
    shift
    change "$SRC" || return 1
    HEAD=$(img_sum "$SRC")
    trig --match "$BACKING_RX" --action hook "$@" --stderr "$TMPD/f$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v backup "$SRC"
    KID=$(sed -n 's/.*\] snapshot rbd2s3-\([0-9TZ-]*\) ready$/\1/p' "$TMPD/f$n.err" | head -n 1)
    COMMITTED=no
    if [ -n "$KID" ] && manifest_ids "$SRC" | grep -qx "$KID"; then
        SUMS[$KID]=$HEAD
        COMMITTED=yes
    fi
}

a_restore() { # N HOOK-ARGS...
    local n=$1
    shift
    DST=rbd/$(img s4-r$n)
    trig --match "$GET_RX" --action hook "$@" --stderr "$TMPD/f$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
}

n=0
for t in "${TRIALS[@]}"; do
    n=$((n + 1))
    IFS='|' read -r op c secs term <<<"$t"
    what="$op, $c OSD frozen ${secs}s${term:+, SIGTERM after ${term}s}"
    trial_begin "$what"
    args=(--hook "$(osd_freeze_hook "$c" "$secs")")
    if [ -n "$term" ]; then
        args+=(--then-term "$term" --term-grace "$GRACE" --guard "$((GUARD + secs))")
    else
        args+=(--guard "$GUARD" --term-grace "$GRACE")
    fi
    if [ "$op" = backup ]; then a_backup "$n" "${args[@]}"; else a_restore "$n" "${args[@]}"; fi
    osd_thaw_all   # the hook's own SIGCONT comes later and does nothing then
    if [ -n "$term" ]; then
        expect_eq "$T_RC/$T_HANG" "10/0" "$what: SIGTERM ends it with exit 10 within ${GRACE}s"
        diag "SIGTERM to exit: ${T_TTE}s"
    else
        expect_eq "$T_HANG" 0 "$what: ended by itself within ${GUARD}s (took ${T_ELAPSED}s)"
        if [ "$T_RC" != 0 ] && [ "$T_HANG" = 0 ]; then
            expect_eq "$(err_lines "$TMPD/f$n.err" "$op" | wc -l)" 1 \
                "$what: failed with one error line"
            err_lines "$TMPD/f$n.err" "$op" | sed 's/^/#   /'
        fi
    fi
    t1=$SECONDS
    check "$what: the OSD takes writes again (marked down to re-peer)" osd_unstick "$c"
    diag "re-peered in $((SECONDS - t1))s"
    if [ "$op" = backup ]; then
        [ "$T_RC" = 0 ] && expect_eq "$COMMITTED" yes "$what: exit 0 means committed"
        if [ "$COMMITTED" = yes ] && check_one "$SRC" "$KID" "$what"; then
            ok "$what: committed, restores identical"
        fi
        if [ "$T_RC" != 0 ] && grep -qE '^rbd2s3: \[ *[0-9.]+\] committed$' "$TMPD/f$n.err"; then
            # interrupted after its commit (in the cleanup that follows): a committed
            # backup is complete, and check_one above restored it identical
            expect_eq "$COMMITTED" yes "$what: interrupted after its commit, the backup stays"
        elif [ "$T_RC" != 0 ]; then
            expect_eq "$COMMITTED" no "$what: a failed run left no manifest"
        fi
        check_listing "$SRC" "$what"
    elif [ "$T_RC" = 0 ]; then
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "${SUMS[$(newest_committed)]}" \
            "$what: the restored image is identical"
    fi
    trial_end
done

trial_begin "the backups after the freezes"
if do_backup "$SRC"; then
    ok "a backup after the freezes ($BK_TYPE)"
    remember "$SRC" "$BK_ID"
else
    not_ok "a backup after the freezes"
fi
check_committed "$SRC" "end"
check "end: verify --deep exits 0" rb verify "$SRC" --deep
fault_done
