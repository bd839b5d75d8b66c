#!/usr/bin/env bash
# The agent keeps exactly one rbd2s3- snapshot per image (the newest backup's) and never
# touches other snapshots.
. "$(dirname "$0")/lib.sh"

SRC=rbd/$(img snaps)

require "create image" create_image "$SRC" 32M
require "write data" write_random "$SRC" 0 4M
require "create user snapshot 'mine'" rbd_src snap create "$SRC@mine"
MINE_ID=$(rbd_src snap ls --format json "$SRC" | jq -r '.[] | select(.name == "mine") | .id')
MINE_SUM=$(img_sum "$SRC@mine")

IDS=()
for n in 1 2 3; do
    require "random writes before backup $n" rand_writes "$SRC" 8 64K
    if do_backup "$SRC"; then ok "backup $n ($BK_ID, $BK_TYPE)"; else not_ok "backup $n"; done_testing; fi
    IDS+=("$BK_ID")
    expect_eq "$(snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' ')" "rbd2s3-$BK_ID " \
        "after backup $n exactly one rbd2s3- snapshot, the newest"
done

expect_eq "$(snap_names "$SRC" | grep -c '^rbd2s3-')" 1 "one rbd2s3- snapshot at the end"
check "it is the newest backup's" grep -qx "rbd2s3-${IDS[2]}" <(snap_names "$SRC")
expect_eq "$(rbd_src snap ls --format json "$SRC" | jq -r '.[] | select(.name == "mine") | .id')" \
    "$MINE_ID" "user snapshot 'mine' still there with the same id"
expect_eq "$(img_sum "$SRC@mine")" "$MINE_SUM" "user snapshot 'mine' content unchanged"
expect_eq "$(snap_names "$SRC" | grep -v '^rbd2s3-' | tr '\n' ' ')" "mine " \
    "no other snapshots appeared"

done_testing
