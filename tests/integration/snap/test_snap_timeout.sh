#!/usr/bin/env bash
# A snapshot creation that librbd fails only after the Ceph timeout is a timeout: exit 9
# and a line that says "timed out", whatever errno librbd gave. On a frozen OSD librbd
# answered -EROFS once the op timeout had cancelled its exclusive lock request (seen in
# CI). The same errno at once is a real refusal (a non-primary mirrored image): exit 1.
# The faults come from an LD_PRELOAD shim (snap_shim.c) around rbd_snap_create2.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img stimeout)

agent_snaps() { snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' '; }

need_snap_shim

require "create image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 4M

shim_backup() { # SECS NAME: a backup whose snapshot creation fails with EROFS after SECS
    SNAP_SHIM_CREATE_EROFS=$1 LD_PRELOAD=$TMPD/snap_shim.so \
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
        rb --ceph-timeout 2 backup "$SRC" >"$TMPD/$2.out" 2>"$TMPD/$2.err"
}

shim_backup 3 late
expect_eq "$?" 9 "EROFS after the 2 s timeout: exit 9 (Ceph timed out)"
diag "$(cat "$TMPD/late.err")"
check "the line says the creation timed out and keeps librbd's errno" \
    grep -q "^rbd2s3: backup: creating the snapshot: cannot create snapshot .*: timed out (librbd gave up with: Read-only file system)" \
    "$TMPD/late.err"
expect_eq "$(wc -l <"$TMPD/late.err")" 1 "one line on stderr"

shim_backup 0 early
expect_eq "$?" 1 "EROFS at once: exit 1 (a refusal, not a timeout)"
diag "$(cat "$TMPD/early.err")"
check "the line gives librbd's errno" \
    grep -q "^rbd2s3: backup: creating the snapshot: cannot create snapshot .*: Read-only file system$" \
    "$TMPD/early.err"

expect_eq "$(rb --format json list "$SRC" | jq '.backups | length')" 0 "no backup listed"
expect_eq "$(agent_snaps)" "" "no rbd2s3 snapshot left"
if do_backup "$SRC"; then ok "a backup without the shim ($BK_ID)"; else not_ok "a backup without the shim"; fi

done_testing
