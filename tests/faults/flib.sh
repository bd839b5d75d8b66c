# shellcheck shell=bash
# flib.sh - sourced by every tests/faults/s*.sh scenario: trials, faults and checks.
#
# On top of tests/integration/lib.sh (bucket, TAG, rb, do_backup, img_sum, TAP, ...):
#   QUICK                   1 under `run.sh --quick` (FAULTS_QUICK=1): fewer trials
#   IMG_MB                  size of the scenario's images (FAULTS_IMG_MB, default 48)
#   trial_begin DESC / trial_end    one run of the scenario; a run with any "not ok" is a
#                           failure, one with data_lost a loss (the table's columns)
#   data_lost DESC          not ok, and the run counts as data lost
#   fault_done              writes the scenario's table row, then done_testing
#   trig ARGS... -- CMD...  tests/faults/trigger.py; sets T_RC T_FIRED T_FIRED_AT
#                           T_ELAPSED T_HANG T_TTE T_LINE (see trigger.py)
#   RBX                     the agent's argv for trig: ("$RBD2S3" "${RB_ARGS[@]}")
#   SUMS[ID]                sha256 of `rbd export IMG@rbd2s3-ID` taken while it existed
#   remember SPEC ID        store SUMS[ID] from the snapshot (or $2's sum in $3)
#   restore_sum SPEC        RS_SUM: sha256 of `restore SPEC --to-file -`; RS_RC its exit
#   check_one SPEC ID WHAT  that remembered backup is listed and restores identical
#   check_committed SPEC WHAT   check_one for every remembered backup (else data_lost)
#   check_listing SPEC WHAT `list` shows exactly the backups that have a manifest
#   manifest_ids SPEC / list_ids SPEC      ids by the bucket's keys / by `rbd2s3 list`
#   rgw_kill, rgw_start, rgw_ensure         the sandbox's RGW (restarts are recorded in
#                           DIR/pids, so that sandbox.sh stop kills them too)
#   osd_pid src|dst, osd_thaw_all, osd_unstick src|dst
#   err_lines FILE CMD      the lines of FILE that are rbd2s3 errors of CMD
# Bounds: every agent run is under trig's guard or rb's timeout; every wait has a limit.

# shellcheck disable=SC2034  # the variables are for the scenarios
FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RB_TIMEOUT=${RB_TIMEOUT:-300}
# shellcheck source=../integration/lib.sh
. "$FAULTS_DIR/../integration/lib.sh"

QUICK=${FAULTS_QUICK:-0}
IMG_MB=${FAULTS_IMG_MB:-48}
FAULTS_OUT=${FAULTS_OUT:-$TMPD}
TRIGGER=$FAULTS_DIR/trigger.py
OBJTOOL=$FAULTS_DIR/objtool.py
declare -A SUMS=()

_TR_RUNS=0 _TR_OK=0 _TR_FAILS=0 _TR_LOST=0 _TR_NOTES=""
_TR_NAME="" _TR_FAIL0=0 _TR_LOSTFLAG=0 _TR_FIRST=""

# A scenario that stops daemons needs a sandbox of its own: run.sh marks its sandbox,
# and lib.sh starts a private one when SANDBOX_DIR is not set.
need_private_sandbox() {
    [ -f "$SANDBOX_DIR/.faults-private" ] || [ -n "$_LIB_OWN_SB" ] ||
        [ "${FAULTS_ALLOW_SHARED:-0}" = 1 ] ||
        bail "$SANDBOX_DIR is not a private fault sandbox (run tests/faults/run.sh)"
}

trial_begin() {
    _TR_NAME=$1 _TR_FAIL0=$_T_FAIL _TR_LOSTFLAG=0 _TR_FIRST=""
    _TR_RUNS=$((_TR_RUNS + 1))
    diag "---- run $_TR_RUNS: $1"
}

trial_end() {
    [ -n "$_TR_NAME" ] || return 0
    if [ "$_T_FAIL" -eq "$_TR_FAIL0" ]; then
        _TR_OK=$((_TR_OK + 1))
    else
        _TR_FAILS=$((_TR_FAILS + 1))
        _TR_NOTES+="${_TR_NOTES:+; }$_TR_FIRST"
    fi
    [ "$_TR_LOSTFLAG" = 1 ] && _TR_LOST=$((_TR_LOST + 1))
    _TR_NAME=""
}

# lib.sh's not_ok, remembering the run's first failure for the table
eval "_lib_$(declare -f not_ok)"
not_ok() {
    [ -n "$_TR_NAME" ] && [ -z "$_TR_FIRST" ] && _TR_FIRST=$*
    _lib_not_ok "$@"
}

data_lost() { _TR_LOSTFLAG=1; not_ok "DATA LOST: $*"; }

fault_done() {
    trial_end
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$TEST_NAME" "$_TR_RUNS" "$_TR_OK" "$_TR_FAILS" \
        "$_TR_LOST" "${_TR_NOTES:--}" >"$FAULTS_OUT/$TEST_NAME.row"
    done_testing
}

# Whatever happens, no OSD stays frozen and the RGW runs when the scenario ends.
_faults_exit() {
    local rc=$?
    osd_thaw_all
    rgw_ensure >/dev/null 2>&1
    (exit $rc)
    _lib_exit
}
trap _faults_exit EXIT

# ---------------------------------------------------------------- the agent under a fault
RBX=("$RBD2S3" "${RB_ARGS[@]}")

trig() { # trigger.py options -- CMD...
    local out
    out=$(python3 "$TRIGGER" "$@" | tail -n 1)
    T_RC=$(sed -n 's/^rc=\(-\{0,1\}[0-9]*\) .*/\1/p' <<<"$out")
    T_FIRED=$(sed -n 's/.* fired=\([01]\) .*/\1/p' <<<"$out")
    T_FIRED_AT=$(sed -n 's/.* fired_at=\([-0-9.]*\) .*/\1/p' <<<"$out")
    T_ELAPSED=$(sed -n 's/.* elapsed=\([0-9.]*\) .*/\1/p' <<<"$out")
    T_HANG=$(sed -n 's/.* hang=\([01]\) .*/\1/p' <<<"$out")
    T_TTE=$(sed -n 's/.* term_to_exit=\([-0-9.]*\) .*/\1/p' <<<"$out")
    T_LINE=$(sed -n 's/.* line="\(.*\)"$/\1/p' <<<"$out")
    [ -n "$T_RC" ] || { T_RC=999 T_HANG=0; diag "trigger.py printed no outcome: $out"; }
    diag "agent rc=$T_RC fired=$T_FIRED at ${T_FIRED_AT}s elapsed ${T_ELAPSED}s hang=$T_HANG" \
         "trigger line: $T_LINE"
}

# err_lines FILE CMD: rbd2s3's error lines ("rbd2s3: CMD: ...") in FILE
err_lines() { grep -E "^rbd2s3: $2: " "$1"; }

# ---------------------------------------------------------------- backups and their bytes
remember() { # SPEC ID: the snapshot's sum while it exists
    SUMS[$2]=$(img_sum "$1@rbd2s3-$2")
}

restore_sum() { # SPEC[@ID] [restore args]: RS_SUM the sha256 of the restored bytes, RS_RC
    local spec=$1
    shift
    rb restore "$spec" --to-file - "$@" 2>"$TMPD/restore_sum.err" | sha256sum >"$TMPD/rs.sum"
    RS_RC=${PIPESTATUS[0]}
    RS_SUM=$(cut -d' ' -f1 "$TMPD/rs.sum")
}

manifest_ids() { # SPEC (pool/image, simple names)
    bucket_keys "$PREFIX/$1/" | sed -n "s|^$PREFIX/$1/\([^/]*\)/manifest\.json$|\1|p"
}

list_ids() { # SPEC
    rb --format json list "$1" 2>"$TMPD/list.err" | jq -r '.backups[].id' 2>/dev/null | sort
}

# check_one SPEC ID WHAT: the remembered backup ID is listed and restores identical
# (else data_lost); returns 1 on a loss.
check_one() {
    local spec=$1 id=$2 what=$3 got
    if ! grep -qx "$id" <<<"$(list_ids "$spec")"; then
        data_lost "$what: committed backup $id is no longer listed"
        return 1
    fi
    restore_sum "$spec@$id"
    got=$RS_SUM
    if [ "$RS_RC" -ne 0 ]; then
        data_lost "$what: committed backup $id does not restore (exit $RS_RC)"
        sed 's/^/#   /' "$TMPD/restore_sum.err" | tail -n 3
        return 1
    fi
    if [ "$got" != "${SUMS[$id]}" ]; then
        data_lost "$what: committed backup $id restores WRONG bytes (exit 0)"
        return 1
    fi
    return 0
}

# check_listing SPEC WHAT: `list` shows exactly the backups that have a manifest.json
check_listing() {
    expect_eq "$(list_ids "$1" | tr '\n' ' ')" "$(manifest_ids "$1" | sort | tr '\n' ' ')" \
        "$2: list shows exactly the backups with a manifest"
}

# check_committed SPEC WHAT: every remembered backup of SPEC restores identical.
check_committed() {
    local spec=$1 what=$2 id bad=0
    for id in $(printf '%s\n' "${!SUMS[@]}" | sort); do
        check_one "$spec" "$id" "$what" || bad=1
    done
    [ $bad = 0 ] && ok "$what: all ${#SUMS[@]} committed backups restore identical"
    return $bad
}

# newest_committed: the newest remembered backup id
newest_committed() { printf '%s\n' "${!SUMS[@]}" | sort | tail -n 1; }

# ---------------------------------------------------------------- daemons
pid_of() { awk -v n="$1" '$2 == n { p = $1 } END { if (p) print p }' "$SANDBOX_DIR/pids"; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

s3_up() { curl -sf --max-time 3 "$S3_ENDPOINT/" 2>/dev/null | grep -q ListAllMyBucketsResult; }

rgw_kill() {
    local pid i
    pid=$(pid_of src-rgw)
    alive "$pid" || return 0
    kill -KILL "$pid"
    for ((i = 0; i < 300; i++)); do alive "$pid" || return 0; sleep 0.1; done
    echo "rgw_kill: pid $pid does not die" >&2
    return 1
}

rgw_start() { # starts the RGW again and waits (up to 60 s) until S3 answers
    local i
    (
        cd / || exit 1
        setsid radosgw -f -c "$SANDBOX_DIR/src/ceph.conf" -n client.rgw.sb </dev/null \
            >>"$SANDBOX_DIR/log/src-rgw.out" 2>&1 9>&- &
        echo "$! src-rgw" >>"$SANDBOX_DIR/pids"
    )
    for ((i = 0; i < 600; i++)); do s3_up && return 0; sleep 0.1; done
    echo "rgw_start: S3 does not answer after 60 s" >&2
    return 1
}

rgw_ensure() { alive "$(pid_of src-rgw)" && s3_up && return 0; rgw_kill; rgw_start; }

# rgw_bounce_hook SECONDS: a trigger.py hook that kills the RGW now and starts it again
# SECONDS later in the background; $TMPD/rgw.down and $TMPD/rgw.up get the times (s).
rgw_bounce_hook() {
    echo "rgw_kill; date +%s.%N >'$TMPD/rgw.down';" \
         "(sleep $1; rgw_start; date +%s.%N >'$TMPD/rgw.up') >>'$TMPD/rgw.log' 2>&1 &"
}

# rgw_wait_bounce: wait (up to 120 s) for the restart of rgw_bounce_hook; prints the
# outage in seconds
rgw_wait_bounce() {
    local i
    for ((i = 0; i < 1200; i++)); do [ -s "$TMPD/rgw.up" ] && break; sleep 0.1; done
    rgw_ensure >/dev/null 2>&1
    if [ -s "$TMPD/rgw.up" ] && [ -s "$TMPD/rgw.down" ]; then
        python3 -c "print('%.1f' % ($(cat "$TMPD/rgw.up") - $(cat "$TMPD/rgw.down")))"
    else
        echo "?"
    fi
    rm -f "$TMPD/rgw.up" "$TMPD/rgw.down"
}

osd_pid() { pid_of "$1-osd.0"; }

# osd_freeze_hook C SECONDS: a trigger.py hook that stops C's OSD now and continues it
# SECONDS later in the background (osd_thaw_all cancels that pending SIGCONT, so that
# it cannot end a later freeze early)
osd_freeze_hook() {
    local p
    p=$(osd_pid "$1")
    echo "kill -STOP $p; (sleep $2; kill -CONT $p) >/dev/null 2>&1 & echo \$! >>'$TMPD/thaw.pids'"
}

osd_thaw_all() {
    local c p
    if [ -f "$TMPD/thaw.pids" ]; then
        # shellcheck disable=SC2046
        kill $(cat "$TMPD/thaw.pids") 2>/dev/null
        rm -f "$TMPD/thaw.pids"
    fi
    for c in src dst; do
        p=$(osd_pid $c)
        [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
    done
    return 0
}

# osd_unstick C: mark the thawed OSD down so that its PGs re-peer (a PG can stay
# "laggy" after a freeze), then wait (up to 120 s) until a write to pool rbd succeeds.
osd_unstick() {
    local c=$1 conf i
    conf=$SANDBOX_DIR/$c/ceph.conf
    kill -CONT "$(osd_pid "$c")" 2>/dev/null
    timeout 30 ceph -c "$conf" --connect-timeout 10 osd down 0 >/dev/null 2>&1
    for ((i = 0; i < 60; i++)); do
        if timeout 30 ceph -c "$conf" --connect-timeout 10 osd stat -f json 2>/dev/null |
                grep -q '"num_up_osds":1' &&
           timeout 10 rados -c "$conf" -p rbd put "faults-probe-$TAG" /etc/hostname \
                >/dev/null 2>&1; then
            timeout 10 rados -c "$conf" -p rbd rm "faults-probe-$TAG" >/dev/null 2>&1
            return 0
        fi
        sleep 2
    done
    echo "osd_unstick: $c does not take writes after 120 s" >&2
    return 1
}

export -f pid_of alive s3_up rgw_kill rgw_start

# ---------------------------------------------------------------- images
# new_image NAME: a fresh image of IMG_MB MiB of random data on the source cluster
new_image() {
    create_image "rbd/$1" "${IMG_MB}M" && write_random "rbd/$1" 0 "${IMG_MB}M"
}

# must_backup SPEC [ARGS]: a backup that the scenario cannot go on without (remembered)
must_backup() {
    if do_backup "$@"; then
        ok "backup $1 $BK_TYPE ($BK_ID)"
        remember "$1" "$BK_ID"
    else
        not_ok "backup $*"
        diag "cannot go on after this failure"
        fault_done
    fi
}

# change SPEC: overwrite a few random ranges (what the next incremental stores)
change() { rand_writes "$1" 6 256K; }
