#!/usr/bin/env bash
# The agent's snapshots of an image: by default (snap cleanup = deferred) the newest
# backup's snapshot and, until the next backup starts, the one before it; the next backup
# removes the older one while it creates its own (one monitor commit). With
# snap cleanup = immediate exactly one, the newest backup's. A failed backup never removes
# the snapshot the next incremental needs, and the agent never touches other snapshots.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img snaps)
KEY=rbd2s3.last-backup

agent_snaps() { snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' '; }
last_key() { rbd_src image-meta get "$SRC" "$KEY" 2>/dev/null; }

require "create image" create_image "$SRC" 32M
require "write data" write_random "$SRC" 0 4M
require "create user snapshot 'mine'" rbd_src snap create "$SRC@mine"
MINE_ID=$(rbd_src snap ls --format json "$SRC" | jq -r '.[] | select(.name == "mine") | .id')
MINE_SUM=$(img_sum "$SRC@mine")

# ---- deferred (the default)
IDS=()
for n in 1 2 3; do
    require "random writes before backup $n" rand_writes "$SRC" 8 64K
    if do_backup "$SRC"; then ok "backup $n ($BK_ID, $BK_TYPE)"; else not_ok "backup $n"; done_testing; fi
    IDS+=("$BK_ID")
    [ "$n" -gt 1 ] && expect_eq "$BK_PARENT" "${IDS[n - 2]}" "backup $n is incremental on backup $((n - 1))"
    want="rbd2s3-$BK_ID "
    [ "$n" -gt 1 ] && want="rbd2s3-${IDS[n - 2]} $want"
    expect_eq "$(agent_snaps)" "$want" \
        "after backup $n: the newest backup's snapshot and the one before it"
    expect_eq "$(last_key)" "rbd2s3-$BK_ID" "after backup $n: image metadata $KEY names it"
done

# A backup that fails (the bucket does not exist) after the cleanup: the superseded
# snapshot is gone, the failed run's own snapshot too, the next parent's is kept.
rb --bucket "no-such-bucket-$TAG" backup "$SRC" >"$TMPD/fail.out" 2>"$TMPD/fail.err"
rc=$?
check "a backup into a missing bucket fails (exit $rc)" test "$rc" -ne 0
expect_eq "$(agent_snaps)" "rbd2s3-${IDS[2]} " \
    "after the failed backup: only the snapshot the next incremental needs"
if do_backup "$SRC"; then ok "backup after the failure ($BK_ID)"; else not_ok "backup after the failure"; fi
expect_eq "$BK_TYPE/$BK_PARENT" "incremental/${IDS[2]}" "it is incremental on the last committed backup"
IDS+=("$BK_ID")

# The metadata names a snapshot that does not exist: nothing is removed.
require "point $KEY at a missing snapshot" rbd_src image-meta set "$SRC" "$KEY" rbd2s3-gone
if do_backup "$SRC"; then ok "backup with a stale $KEY ($BK_ID)"; else not_ok "backup with a stale $KEY"; fi
expect_eq "$(agent_snaps)" "rbd2s3-${IDS[2]} rbd2s3-${IDS[3]} rbd2s3-$BK_ID " \
    "a stale $KEY removes nothing"
IDS+=("$BK_ID")

# ---- immediate: on the command line and in the config file
if do_backup "$SRC" --snap-cleanup immediate; then ok "backup --snap-cleanup immediate"; else not_ok "backup --snap-cleanup immediate"; fi
expect_eq "$BK_PARENT" "${IDS[4]}" "it is incremental on the previous backup"
expect_eq "$(agent_snaps)" "rbd2s3-$BK_ID " "immediate: exactly one rbd2s3- snapshot, the newest"
IDS+=("$BK_ID")
printf '[global]\nsnap cleanup = immediate\n' >"$TMPD/imm.conf"
require "random writes" rand_writes "$SRC" 4 64K
SAVED_ARGS=("${RB_ARGS[@]}")
RB_ARGS=(--config "$TMPD/imm.conf" "${RB_ARGS[@]}")
if do_backup "$SRC"; then ok "backup with snap cleanup = immediate in the config file"; else not_ok "backup with the config file"; fi
RB_ARGS=("${SAVED_ARGS[@]}")
expect_eq "$(agent_snaps)" "rbd2s3-$BK_ID " "config file immediate: exactly one rbd2s3- snapshot"
LAST_ID=$BK_ID

# Back to deferred: the older snapshot stays until the backup after.
if do_backup "$SRC"; then ok "deferred again ($BK_ID)"; else not_ok "deferred again"; fi
expect_eq "$(agent_snaps)" "rbd2s3-$LAST_ID rbd2s3-$BK_ID " "deferred again: the previous one is kept"

# A bad value: usage error, one line, nothing changed.
BEFORE=$(snap_names "$SRC" | tr '\n' ' ')
rb backup "$SRC" --snap-cleanup later >"$TMPD/bad.out" 2>"$TMPD/bad.err"
expect_eq "$?" 2 "--snap-cleanup later: exit code 2"
expect_eq "$(wc -l <"$TMPD/bad.err")" 1 "--snap-cleanup later: one stderr line"
check "--snap-cleanup later: the line names the choices" grep -q "deferred or immediate" "$TMPD/bad.err"
expect_eq "$(snap_names "$SRC" | tr '\n' ' ')" "$BEFORE" "--snap-cleanup later: snapshots unchanged"

expect_eq "$(rbd_src snap ls --format json "$SRC" | jq -r '.[] | select(.name == "mine") | .id')" \
    "$MINE_ID" "user snapshot 'mine' still there with the same id"
expect_eq "$(img_sum "$SRC@mine")" "$MINE_SUM" "user snapshot 'mine' content unchanged"
expect_eq "$(snap_names "$SRC" | grep -v '^rbd2s3-' | tr '\n' ' ')" "mine " \
    "no other snapshots appeared"

done_testing
