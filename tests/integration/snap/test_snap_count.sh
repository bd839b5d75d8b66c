#!/usr/bin/env bash
# How many rbd2s3- snapshots an image keeps, whatever happens. With the default
# (snap cleanup = deferred), after every backup the agent's snapshots of the image,
# those in librbd's trash namespace included, are exactly those of the newest two
# committed backups (one after the first), full and incremental mixed, and also after a
# backup that follows SIGKILLs of earlier runs: after the snapshot exists but before the
# commit (RBD2S3_DEBUG_STALL_AFTER_PARTS), after the commit but before the image metadata
# names it, inside a snapshot removal (an LD_PRELOAD shim, snap_shim.c; those cases are
# skipped without a C compiler), and two kills in a row. With snap cleanup = immediate
# exactly one, the newest backup's. User snapshots (a protected one, and names that look
# like the agent's but are not rbd2s3-) made before, between and after are untouched.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img scount)
KEY=rbd2s3.last-backup

# The agent's snapshots, sorted, a trash entry as trash:<its name before>.
agent_snaps() { # [SPEC]
    rbd_src snap ls --all --format json "${1:-$SRC}" | jq -r '.[]
        | if .namespace.type == "trash" then "trash:" + .namespace.original_name
          else .name end' | grep -E '^(trash:)?rbd2s3-' | LC_ALL=C sort | tr '\n' ' '
}
# The snapshots of the newest N committed backups, sorted as agent_snaps.
newest_committed() { # N [SPEC]
    rb --format json list "${2:-$SRC}" | jq -r --argjson n "$1" \
        '[.backups[].id] | sort | .[-$n:] | .[] | "rbd2s3-" + .' | LC_ALL=C sort | tr '\n' ' '
}
# The other snapshots: "name id protected" lines.
user_snaps() {
    rbd_src snap ls --all --format json "$SRC" | jq -r '.[]
        | select((.name | startswith("rbd2s3-") | not) and .namespace.type != "trash")
        | "\(.name) \(.id) \(.protected)"' | tr '\n' ' '
}
# After a backup: the agent's snapshots are those of the newest N (default 2) committed.
expect_newest() { # DESC [N [SPEC]]
    local got want
    got=$(agent_snaps "${3:-$SRC}")
    want=$(newest_committed "${2:-2}" "${3:-$SRC}")
    expect_eq "$got" "$want" "$1: the rbd2s3- snapshots are the newest ${2:-2} committed backups'"
}
backup_ok() { # DESC [SPEC [ARGS]]: a normal backup, then expect_newest
    local desc=$1 spec=${2:-$SRC}
    shift
    [ $# -gt 0 ] && shift
    require "random writes before $desc" rand_writes "$spec" 8 64K
    if do_backup "$spec" "$@"; then
        ok "$desc ($BK_ID, $BK_TYPE${BK_PARENT:+ on $BK_PARENT})"
    else
        not_ok "$desc"
        done_testing
    fi
    expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 0 "$desc: cleanup_errors 0"
}

# ---- user snapshots before the first backup: a plain one and a protected one
require "create image" create_image "$SRC" 64M
require "write data" write_random "$SRC" 0 16M
require "user snapshot 'before'" rbd_src snap create "$SRC@before"
require "user snapshot 'before-prot'" rbd_src snap create "$SRC@before-prot"
require "protect 'before-prot'" rbd_src snap protect "$SRC@before-prot"

# ---- seven backups, full and incremental mixed, with user snapshots in between
backup_ok "backup 1"
expect_newest "after backup 1 (the first)" 1
backup_ok "backup 2"
expect_newest "after backup 2"
for s in rbd2s3 rbd2s3_user my-rbd2s3-snap RBD2S3-upper; do
    require "user snapshot '$s' (looks like the agent's, is not rbd2s3-)" \
        rbd_src snap create "$SRC@$s"
done
require "protect 'rbd2s3_user'" rbd_src snap protect "$SRC@rbd2s3_user"
backup_ok "backup 3 --full" "$SRC" --full
expect_eq "$BK_TYPE" full "backup 3 is a full"
expect_newest "after backup 3 (full)"
for n in 4 5; do
    backup_ok "backup $n"
    expect_eq "$BK_TYPE" incremental "backup $n is incremental"
    expect_newest "after backup $n"
done
backup_ok "backup 6 --full" "$SRC" --full
expect_newest "after backup 6 (full)"
require "user snapshot 'after'" rbd_src snap create "$SRC@after"
backup_ok "backup 7"
expect_newest "after backup 7"
USER_SNAPS=$(user_snaps)
diag "user snapshots: $USER_SNAPS"

# ---- kills: each followed by a normal backup
SHIM=""
if command -v cc >/dev/null &&
    cc -shared -fPIC -o "$TMPD/snap_shim.so" "$TEST_DIR/snap_shim.c" -ldl 2>"$TMPD/cc.err"; then
    SHIM=$TMPD/snap_shim.so
else
    sed 's/^/# /' "$TMPD/cc.err" 2>/dev/null
fi

# A backup SIGKILLed after its snapshot exists, before its commit: stalled after one
# uploaded part (24 MiB changed, 5 MiB parts: the stall comes while parts remain).
kill_uncommitted() { # DESC [SPEC [ARGS]]
    local desc=$1 spec=${2:-$SRC} pid i
    shift
    [ $# -gt 0 ] && shift
    require "write 24 MiB before $desc" write_random "$spec" 16M 24M
    : >"$TMPD/stall.err"
    RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$RBD2S3" "${RB_ARGS[@]}" --part-size 5M \
        backup "$spec" "$@" >/dev/null 2>"$TMPD/stall.err" </dev/null &
    pid=$!
    for ((i = 0; i < 1200; i++)); do
        grep -q 'debug: stalled' "$TMPD/stall.err" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    check "$desc: stalled after its first part" grep -q 'debug: stalled' "$TMPD/stall.err"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    diag "after $desc: $(agent_snaps "$spec")"
}

# A backup SIGKILLed by the shim: VAR=VALUE words name the point (see snap_shim.c).
kill_shim() { # DESC "VAR=VALUE..." [SPEC [ARGS]]
    local desc=$1 fault=$2 spec=${3:-$SRC} rc
    shift 2
    [ $# -gt 0 ] && shift
    require "random writes before $desc" rand_writes "$spec" 8 64K
    # shellcheck disable=SC2086 # one word per VAR=VALUE
    env $fault LD_PRELOAD="$SHIM" \
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
        "$RBD2S3" "${RB_ARGS[@]}" backup "$spec" "$@" >/dev/null 2>"$TMPD/shim.err" </dev/null
    rc=$?
    expect_eq "$rc" 137 "$desc: killed (SIGKILL)"
    diag "after $desc: $(agent_snaps "$spec")"
}

kill_uncommitted "kill A (after the snapshot, before the commit)"
backup_ok "backup after kill A"
expect_newest "after kill A and a backup"

kill_uncommitted "kill B1 (before the commit)"
kill_uncommitted "kill B2 (before the commit, again)"
backup_ok "backup after kills B1 B2"
expect_newest "after two kills before the commit and a backup"

if [ -z "$SHIM" ]; then
    ok "# SKIP no C compiler to build the fault shim (kills at exact points)"
else
    kill_shim "kill C (after the commit, before $KEY is set)" "SNAP_SHIM_KILL_AT_META=$KEY"
    backup_ok "backup after kill C"
    expect_newest "after kill C and a backup"

    kill_shim "kill D (after the commit, before $KEY is set)" "SNAP_SHIM_KILL_AT_META=$KEY"
    backup_ok "backup --full after kill D" "$SRC" --full
    expect_newest "after kill D and a full backup"

    kill_shim "kill E1 (after the commit, before $KEY is set)" "SNAP_SHIM_KILL_AT_META=$KEY"
    E1=$(newest_committed 1)
    kill_shim "kill E2 (after the commit, before $KEY is set, again)" \
        "SNAP_SHIM_KILL_AT_META=$KEY SNAP_SHIM_META_PASS=${E1% }"
    expect_eq "$(newest_committed 1)" "$(agent_snaps | awk '{print $NF}') " "kill E2: committed"
    backup_ok "backup after kills E1 E2"
    expect_newest "after two kills after the commit and a backup"

    kill_shim "kill F (inside the removal of the superseded snapshot)" \
        SNAP_SHIM_KILL_AT_SNAP_RELEASE=1
    backup_ok "backup after kill F"
    expect_newest "after kill F and a backup"

    kill_uncommitted "kill G1 (before the commit)"
    kill_shim "kill G2 (inside the removal of G1's snapshot)" SNAP_SHIM_KILL_AT_SNAP_RELEASE=1
    backup_ok "backup after kills G1 G2"
    expect_newest "after a kill before the commit, one in its cleanup, and a backup"

    kill_shim "kill H1 (after the commit, before $KEY is set)" "SNAP_SHIM_KILL_AT_META=$KEY"
    kill_uncommitted "kill H2 (before the commit)"
    backup_ok "backup after kills H1 H2"
    expect_newest "after a kill after the commit, one before, and a backup"
fi
backup_ok "a last deferred backup"
expect_newest "after the last deferred backup"

# ---- snap cleanup = immediate: exactly one
backup_ok "backup --snap-cleanup immediate" "$SRC" --snap-cleanup immediate
expect_newest "immediate" 1
kill_uncommitted "kill I (immediate, before the commit)" "$SRC" --snap-cleanup immediate
backup_ok "immediate backup after kill I" "$SRC" --snap-cleanup immediate
expect_newest "immediate, after kill I and a backup" 1
if [ -n "$SHIM" ]; then
    kill_shim "kill J (immediate, inside the removal after the commit)" \
        SNAP_SHIM_KILL_AT_SNAP_RELEASE=1 "$SRC" --snap-cleanup immediate
    backup_ok "immediate backup after kill J" "$SRC" --snap-cleanup immediate
    expect_newest "immediate, after kill J and a backup" 1
fi

expect_eq "$(user_snaps)" "$USER_SNAPS" "user snapshots: the same names, ids and protection"

# ---- a new image whose first backups are killed before their commit ($KEY unset)
NEW=rbd/$(img scount-new)
require "create image $NEW" create_image "$NEW" 64M
require "write data" write_random "$NEW" 0 4M
kill_uncommitted "kill K1 (the first backup, before the commit)" "$NEW"
kill_uncommitted "kill K2 (the first backup again, before the commit)" "$NEW"
backup_ok "the first backup of $NEW after kills K1 K2" "$NEW"
expect_newest "after two killed first backups and a backup" 2 "$NEW"
backup_ok "the second backup of $NEW" "$NEW"
expect_newest "after the second backup" 2 "$NEW"

done_testing
