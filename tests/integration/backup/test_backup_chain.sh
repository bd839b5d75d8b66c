#!/usr/bin/env bash
# A full and two incrementals (with a discard and a resize in between); every restore
# point restored into the destination cluster equals the matching source snapshot;
# restore --to-file PATH and --to-file - (stdout); restore --replay recreates the chain.
. "$(dirname "$0")/../lib.sh"

NAME=$(img chain)
SRC=rbd/$NAME

require "create a 64 MiB source image" create_image "$SRC" 64M
require "write random data" write_random "$SRC" 0 8M
require "random writes" rand_writes "$SRC" 30 256K

# --- full
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
expect_eq "$BK_TYPE" full "first backup is full"
expect_eq "$BK_PARENT" null "full backup has no parent"
expect_eq "$(jq -r .snapshot "$BK_JSON")" "rbd2s3-$ID1" "backup JSON names the snapshot"
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")
check "source snapshot rbd2s3-$ID1 exported" test "${#SUM1}" -eq 64

# --- changes: random writes, a discarded range (whole 4 MiB objects), grow to 96 MiB
require "random writes" rand_writes "$SRC" 20 128K
require "discard 16M..24M" discard "$SRC" 16M 8M
require "grow to 96 MiB" grow "$SRC" 96M
require "write into the grown range" write_random "$SRC" 80M 1M

if do_backup "$SRC"; then ok "incremental backup 1 ($BK_ID)"; else not_ok "incremental backup 1"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE" incremental "second backup is incremental"
expect_eq "$BK_PARENT" "$ID1" "second backup's parent is the full"
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

# --- more changes
require "random writes" rand_writes "$SRC" 20 64K
if do_backup "$SRC"; then ok "incremental backup 2 ($BK_ID)"; else not_ok "incremental backup 2"; done_testing; fi
ID3=$BK_ID
expect_eq "$BK_TYPE" incremental "third backup is incremental"
expect_eq "$BK_PARENT" "$ID2" "third backup's parent is the second"
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")
check "three distinct backup ids" test "$ID1" != "$ID2" -a "$ID2" != "$ID3" -a "$ID1" != "$ID3"

# --- restore every point into the destination cluster
i=0
for pair in "$ID1:$SUM1:64M" "$ID2:$SUM2:96M" "$ID3:$SUM3:96M"; do
    i=$((i + 1))
    id=${pair%%:*}
    rest=${pair#*:}
    sum=${rest%%:*}
    size=${rest#*:}
    DST=rbd/$(img "chain-r$i")
    if check "restore $id into destination $DST" \
            rb restore "$SRC@$id" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$sum" "restored point $i equals source snapshot"
        expect_eq "$(img_field "$DST" size "$DST_CEPH_CONF")" "$(to_bytes "$size")" \
            "restored point $i has the snapshot's size ($size)"
        check "restored point $i has snapshot rbd2s3-$id" \
            grep -qx "rbd2s3-$id" <(snap_names "$DST" "$DST_CEPH_CONF")
    fi
done

# --- restore to a file and to stdout (newest point by default)
if check "restore --to-file PATH" rb restore "$SRC" --to-file "$TMPD/newest.raw"; then
    expect_eq "$(file_sum "$TMPD/newest.raw")" "$SUM3" "file equals the newest source snapshot"
fi
rm -f "$TMPD/newest.raw"
if rb restore "$SRC" --to-file - >"$TMPD/stdout.raw" 2>"$TMPD/stdout.err"; then
    ok "restore --to-file -"
    expect_eq "$(file_sum "$TMPD/stdout.raw")" "$SUM3" "stdout equals the newest source snapshot"
else
    not_ok "restore --to-file - (exit $?)"
    sed 's/^/#   /' "$TMPD/stdout.err"
fi
rm -f "$TMPD/stdout.raw"

# --- replay the chain into the destination
DST=rbd/$(img chain-replay)
if check "restore --replay into $DST" \
        rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" --replay; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "replayed image equals the newest snapshot"
    expect_eq "$(snap_names "$DST" "$DST_CEPH_CONF" | grep '^rbd2s3-' | tr '\n' ' ')" \
        "rbd2s3-$ID1 rbd2s3-$ID2 rbd2s3-$ID3 " "replayed image has all three snapshots"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID1" "$DST_CEPH_CONF")" "$SUM1" "replayed snapshot 1 equals source 1"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID2" "$DST_CEPH_CONF")" "$SUM2" "replayed snapshot 2 equals source 2"
fi

done_testing
