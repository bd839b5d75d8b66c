#!/usr/bin/env bash
# No manifest records snapshot id 0 or a 1970 time: when librbd gives the backup's
# snapshot no time, the backup fails before anything is uploaded, with one line that says
# so, removes its snapshot and leaves the bucket as it was. The fault comes from an
# LD_PRELOAD shim (snap_shim.c) whose rbd_snap_get_timestamp answers time 0.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img stime)

agent_snaps() { snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' '; }

need_snap_shim

require "create image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 4M
if do_backup "$SRC"; then ok "backup 1 ($BK_ID)"; else not_ok "backup 1"; done_testing; fi
FIRST=$BK_ID
require "random writes" rand_writes "$SRC" 8 64K

KEYS_BEFORE=$(bucket_keys)
SNAPS_BEFORE=$(agent_snaps)
SNAP_SHIM_ZERO_TIME=1 LD_PRELOAD=$TMPD/snap_shim.so \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    rb --format json backup "$SRC" >"$TMPD/zero.out" 2>"$TMPD/zero.err"
rc=$?
check "a backup whose snapshot has no time fails (exit $rc)" test "$rc" -ne 0
expect_eq "$(wc -l <"$TMPD/zero.err")" 1 "one line on stderr"
check "the line says the snapshot has no valid id and time" \
    grep -q "^rbd2s3: backup: .*no valid id and time" "$TMPD/zero.err"
diag "$(cat "$TMPD/zero.err")"
expect_eq "$(rb --format json list "$SRC" | jq -r '[.backups[].id] | join(" ")')" "$FIRST" \
    "no new backup in the list"
expect_eq "$(bucket_keys)" "$KEYS_BEFORE" "the bucket holds the same keys as before"
UPLOADS=$(s3api list-multipart-uploads --bucket "$BUCKET" --output json | jq '(.Uploads // []) | length')
expect_eq "${UPLOADS:-0}" 0 "no unfinished multipart upload"
expect_eq "$(agent_snaps)" "$SNAPS_BEFORE" "the failed backup's snapshot is removed"

if do_backup "$SRC"; then ok "the next backup ($BK_ID)"; else not_ok "the next backup"; fi
expect_eq "$BK_TYPE/$BK_PARENT" "incremental/$FIRST" "it is incremental on backup 1"
M=$(rb --format json show "$SRC@$BK_ID" | jq -r '"\(.snapshot.id) \(.snapshot.timestamp)"')
check "manifest snapshot '$M' is not id 0 or 1970" bash -c "! grep -qE '^0 |^null|1970-' <<<'$M'"

done_testing
