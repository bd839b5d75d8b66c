#!/usr/bin/env bash
# A `protect` that lands while prune runs (after it read the protect objects, before its
# deletes) keeps the backup, with the parents its chain needs: prune looks again right
# before deleting. RBD2S3_DEBUG_STALL_PRUNE=FILE makes prune stop there ("stalled" on
# stderr) until FILE exists.
#   F full, I1 I2 incrementals on it, G a new full; prune --keep-last 1 plans to drop
#   F I1 I2; I1 is protected meanwhile -> F and I1 kept, I2 pruned. Then with --format
#   json: H a new full, G protected meanwhile -> the plan says G kept, protected.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img protrace)
create_image "$SRC" 4M
write_random "$SRC" 0 1M
backup_as F
write_random "$SRC" 1M 1M
backup_as I1
write_random "$SRC" 2M 1M
backup_as I2
write_random "$SRC" 3M 1M
backup_as G --full
# shellcheck disable=SC2154
diag "F $ID_F  I1 $ID_I1  I2 $ID_I2  G $ID_G"

GO=$TMPD/go
RBD2S3_DEBUG_STALL_PRUNE=$GO "$RBD2S3" "${RB_ARGS[@]}" prune "$SRC" --keep-last 1 \
    --grace 0 >"$TMPD/prune.out" 2>"$TMPD/prune.err" </dev/null &
PID=$!
if wait_line "$PID" "$TMPD/prune.err" '^rbd2s3: debug: stalled' 120 stall; then
    ok "prune stalled before its deletes"
    expect_rc 0 "protect I1 meanwhile" p1 protect "$SRC@$ID_I1" --reason late
    touch "$GO"
    wait "$PID"
    expect_eq "$?" 0 "prune finished"
else
    not_ok "prune stalled before its deletes"
fi
check "... planned to prune I1" grep -Eq "prune +$ID_I1 " "$TMPD/prune.out"
check "... then says I1 is kept after all, protected" grep -Eq \
    ": keep $ID_I1 after all: protected \(since [0-9T:-]+Z, late\)$" "$TMPD/prune.out"
check "... and F as its parent" grep -Eq \
    ": keep $ID_F after all: parent of protected $ID_I1$" "$TMPD/prune.out"
check "... pruned 1 backup" grep -q "^pruned 1 backups" "$TMPD/prune.out"
expect_eq "$(rb --format json list "$SRC" | jq -r '[.backups[] | "\(.id)=\(.protected)"] |
    join(" ")')" "$ID_F=false $ID_I1=true $ID_G=false" "F, I1 (protected) and G are left"
check "I1 verifies (its chain is whole)" rb verify "$SRC@$ID_I1"

# --format json: H, a new full; G is doomed by the plan, protected meanwhile
write_random "$SRC" 0 1M
backup_as H --full
GO=$TMPD/go2
RBD2S3_DEBUG_STALL_PRUNE=$GO "$RBD2S3" "${RB_ARGS[@]}" --format json prune "$SRC" \
    --keep-last 1 --grace 0 >"$TMPD/prune2.json" 2>"$TMPD/prune2.err" </dev/null &
PID=$!
if wait_line "$PID" "$TMPD/prune2.err" '^rbd2s3: debug: stalled' 120 stall; then
    expect_rc 0 "protect G meanwhile" p2 protect "$SRC@$ID_G"
    touch "$GO"
    wait "$PID"
    expect_eq "$?" 0 "prune --format json finished"
else
    not_ok "prune --format json stalled before its deletes"
fi
expect_eq "$(jq -r --arg id "$ID_G" '.images[0].backups[] | select(.id == $id) |
    "\(.action) \(.protected)"' "$TMPD/prune2.json")" "keep true" \
    "... the plan shows G kept, protected"
expect_eq "$(jq -r '.pruned_backups' "$TMPD/prune2.json")" 0 "... nothing pruned"

done_testing
