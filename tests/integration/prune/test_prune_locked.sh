#!/usr/bin/env bash
# prune in a bucket with Object Lock: a backup any object of which is still under
# retention is kept and reported "locked until DATE" (a plain DELETE would only hide the
# locked versions behind delete markers), the parent of a locked backup is kept with it
# (no chain is broken), what the lock allows goes, and the run exits 0. verify reports
# per backup until when it and its chain are protected.
#   A1  full, written without retention          -> kept: the parent of a locked backup
#   A2  incremental, GOVERNANCE 1 day             -> locked
#   X   full, without retention                   -> pruned
#   Y1  full + Y2 incremental, without retention  -> kept by --keep-last 1
. "$(dirname "$0")/../lib.sh"

locked_bucket
SRC=rbd/$(img locked)
create_image "$SRC" 8M
declare -A SUM
backup() { # NAME [backup args]: a backup, its id in ID[NAME], its image's sha in SUM[ID]
    local name=$1
    shift
    do_backup "$SRC" "$@"
    expect_eq "$?" 0 "backup $name"
    eval "ID_$name=$BK_ID"
    SUM[$BK_ID]=$(img_sum "$SRC@rbd2s3-$BK_ID")
}
write_random "$SRC" 0 1M
backup A1
require "a default retention of 1 day" lock_default 1
write_random "$SRC" 2M 1M
backup A2
require "no default retention" lock_default
write_random "$SRC" 4M 1M
backup X --full
write_random "$SRC" 5M 1M
backup Y1 --full
write_random "$SRC" 6M 1M
backup Y2
# shellcheck disable=SC2154
diag "A1 $ID_A1  A2 $ID_A2  X $ID_X  Y1 $ID_Y1  Y2 $ID_Y2"

rb --format json prune "$SRC" --keep-last 1 --grace 0 --dry-run >"$TMPD/dry.json" 2>&1
expect_eq "$?" 0 "prune --dry-run in the locked bucket"
expect_eq "$(jq -r --arg id "$ID_A2" '.images[0].backups[] | select(.id == $id) | .action' \
    "$TMPD/dry.json"):$(jq -r '.locked_backups' "$TMPD/dry.json")" "locked:1" \
    "... already says that A2 is locked"
expect_eq "$(rb --format json list "$SRC" | jq '.backups | length')" 5 "... and changes nothing"

rb --format json prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/prune.json" 2>"$TMPD/prune.err"
expect_eq "$?" 0 "prune --keep-last 1 exits 0 when only the lock keeps backups"
action() { jq -r --arg id "$1" '.images[0].backups[] | select(.id == $id) | .action' \
    "$TMPD/prune.json"; }
expect_eq "$(action "$ID_A2")" locked "A2 (under retention) is reported locked"
until=$(jq -r --arg id "$ID_A2" '.images[0].backups[] | select(.id == $id) | .locked_until' \
    "$TMPD/prune.json")
check "... until a date a day from now ($until)" test "$(date -u -d "$until" +%s)" -gt \
    "$(($(date +%s) + 86400 - 600))"
expect_eq "$(action "$ID_A1")" keep "A1 is kept: the parent of a locked backup"
expect_eq "$(jq -r --arg id "$ID_A1" '.images[0].backups[] | select(.id == $id) | .reasons' \
    "$TMPD/prune.json")" "parent of a locked backup" "... and says so"
expect_eq "$(action "$ID_X")" prune "X (no retention) is pruned"
expect_eq "$(jq -r '.pruned_backups, .locked_backups' "$TMPD/prune.json" | tr '\n' ' ')" \
    "1 1 " "one backup pruned, one kept under the lock"

rb --format json list "$SRC" >"$TMPD/list.json"
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/list.json")" \
    "$ID_A1 $ID_A2 $ID_Y1 $ID_Y2" "list: every backup but X"
for id in "$ID_A1" "$ID_A2" "$ID_Y1" "$ID_Y2"; do
    rb restore "$SRC@$id" --to-file "$TMPD/r.img" >/dev/null 2>"$TMPD/r.err"
    expect_eq "$?:$(file_sum "$TMPD/r.img")" "0:${SUM[$id]}" "backup $id still restores"
    rm -f "$TMPD/r.img"
done

rb prune "$SRC" --keep-last 1 --grace 0 >"$TMPD/prune2.out" 2>&1
expect_eq "$?" 0 "prune again (text)"
check "... prints the lock's date" grep -q "locked until 20" "$TMPD/prune2.out"

rb --format json verify "$SRC" >"$TMPD/verify.json" 2>"$TMPD/verify.err"
expect_eq "$?" 0 "verify in the locked bucket"
prot() { jq -r --arg id "$1" '.backups[] | select(.id == $id) | .protected_until' \
    "$TMPD/verify.json"; }
expect_eq "$(prot "$ID_A1")" null "A1 (no retention) is unprotected"
expect_eq "$(prot "$ID_A2")" null "A2 is unprotected too: its chain's full is not locked"
expect_eq "$(prot "$ID_Y2")" null "Y2 is unprotected"
rb verify "$SRC" >"$TMPD/verify.out" 2>&1
check "the text report says unprotected" grep -q "$ID_A2: ok; unprotected" "$TMPD/verify.out"

# A chain wholly under retention: protected until the earliest retain-until over it.
require "a default retention of 1 day" lock_default 1
write_random "$SRC" 7M 1M
backup Z1 --full
write_random "$SRC" 7M 512K
backup Z2
rb --format json verify "$SRC" >"$TMPD/verify2.json" 2>&1
# shellcheck disable=SC2154
z1=$(jq -r --arg id "$ID_Z1" '.backups[] | select(.id == $id) | .protected_until' \
    "$TMPD/verify2.json")
z2=$(jq -r --arg id "$ID_Z2" '.backups[] | select(.id == $id) | .protected_until' \
    "$TMPD/verify2.json")
check "Z1 is protected until a day from now ($z1)" test "$(date -u -d "$z1" +%s)" -gt \
    "$(($(date +%s) + 86400 - 600))"
expect_eq "$z2" "$z1" "Z2's protection is its chain's earliest: Z1's"
lock_default >/dev/null

done_testing
