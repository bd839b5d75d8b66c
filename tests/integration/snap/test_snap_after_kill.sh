#!/usr/bin/env bash
# A backup killed after its manifest PUT but before it sets rbd2s3.last-backup is
# committed; the next backup must chain on it, and must not remove its snapshot (the
# metadata still names the backup before it). The kill is exact: an LD_PRELOAD shim
# (snap_shim.c) kills the agent inside rbd_metadata_set of that key.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img skill)
KEY=rbd2s3.last-backup

agent_snaps() { snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' '; }
list_ids() { rb --format json list "$SRC" | jq -r '[.backups[].id] | join(" ")'; }

need_snap_shim

require "create image" create_image "$SRC" 32M
require "write data" write_random "$SRC" 0 8M
IDS=()
for n in 1 2; do
    require "random writes before backup $n" rand_writes "$SRC" 8 64K
    if do_backup "$SRC"; then ok "backup $n ($BK_ID)"; else not_ok "backup $n"; done_testing; fi
    IDS+=("$BK_ID")
done
A=${IDS[0]} B=${IDS[1]}

# -- backup C, killed between its manifest PUT and the metadata update
require "random writes before backup C" rand_writes "$SRC" 8 64K
SNAP_SHIM_KILL_AT_META=$KEY LD_PRELOAD=$TMPD/snap_shim.so \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    rb --format json backup "$SRC" >"$TMPD/c.out" 2>"$TMPD/c.err"
rc=$?
expect_eq "$rc" 137 "backup C killed (SIGKILL) inside the metadata update"
LIST=$(list_ids)
C=${LIST##* }
check "backup C is committed (list: $LIST)" test "$C" != "$B"
expect_eq "$(rbd_src image-meta get "$SRC" "$KEY")" "rbd2s3-$B" "$KEY still names backup B"
expect_eq "$(agent_snaps)" "rbd2s3-$B rbd2s3-$C " "the snapshots of B and C (C's cleanup removed A's)"
C_SUM=$(img_sum "$SRC@rbd2s3-$C")

# -- the next backup: incremental on C, and C's snapshot stays; a snapshot of the agent's
# name that no committed backup uses (what a run killed before its commit leaves) goes
require "an uncommitted rbd2s3- snapshot" rbd_src snap create "$SRC@rbd2s3-orphan"
require "random writes before backup D" rand_writes "$SRC" 8 64K
if do_backup "$SRC"; then ok "backup D ($BK_ID)"; else not_ok "backup D"; done_testing; fi
D=$BK_ID
expect_eq "$BK_TYPE/$BK_PARENT" "incremental/$C" "backup D is incremental on the killed-but-committed C"
expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 0 "backup D: cleanup_errors 0"
expect_eq "$(agent_snaps)" "rbd2s3-$C rbd2s3-$D " \
    "after D: C's snapshot is kept; B's (which $KEY named, older than the parent C's) and the uncommitted one are removed"
expect_eq "$(rbd_src image-meta get "$SRC" "$KEY")" "rbd2s3-$D" "$KEY names backup D"

# -- the one after removes C
require "random writes before backup E" rand_writes "$SRC" 8 64K
if do_backup "$SRC"; then ok "backup E ($BK_ID)"; else not_ok "backup E"; fi
E=$BK_ID
expect_eq "$BK_PARENT" "$D" "backup E is incremental on D"
expect_eq "$(agent_snaps)" "rbd2s3-$D rbd2s3-$E " "after E: the snapshots of D and E"

# -- C and D restore identical to their snapshots
rb restore "$SRC@$C" --to-file "$TMPD/c.raw" >"$TMPD/rc.out" 2>"$TMPD/rc.err"
expect_eq "$?" 0 "restore of C"
expect_eq "$(file_sum "$TMPD/c.raw")" "$C_SUM" "C restores identical to its snapshot"
rm -f "$TMPD/c.raw"
rb restore "$SRC@$E" --to-file "$TMPD/e.raw" >"$TMPD/re.out" 2>"$TMPD/re.err"
expect_eq "$?" 0 "restore of E (chain A B C D E)"
expect_eq "$(file_sum "$TMPD/e.raw")" "$(img_sum "$SRC@rbd2s3-$E")" "E restores identical"
check "verify" rb verify "$SRC"

done_testing
