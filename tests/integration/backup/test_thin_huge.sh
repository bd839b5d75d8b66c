#!/usr/bin/env bash
# A backup of a large thin image costs what its data does (issue 22, item 6): with a
# fast-diff object map, a full backup lists only the objects that exist and walks only the
# windows that hold them, and an incremental with nothing changed walks no window. Checked
# by the counts of `backup -v` (objects, windows), never by time; the full restores equal.
# THIN_SIZE: the image's size (default 4G, 32 windows of 128 MiB; any size shows it).
. "$(dirname "$0")/../lib.sh"

SIZE=${THIN_SIZE:-4G}
SIZE_B=$(to_bytes "$SIZE")
OBJS=$((SIZE_B >> 22))
WINS=$(((SIZE_B + (128 << 20) - 1) >> 27))
SRC=rbd/$(img thin)

require "create a thin $SIZE image (fast-diff)" create_image "$SRC" "$SIZE"
# 3 objects of data: the first 4 MiB, 4 MiB at the middle, the last 4 MiB (3 windows)
require "write 4 MiB at the start, the middle and the end" \
    write_ops "$SRC" "w:0:4M" "w:$((SIZE_B / 2)):4M" "w:$((SIZE_B - (4 << 20))):4M"

walk_line() { grep -o 'object map: .*windows)' "$TMPD/backup.$_BK_N.err"; }

if do_backup "$SRC" -v --full; then
    expect_eq "$BK_TYPE $(jq -r .data_bytes "$BK_JSON")" "full $((12 << 20))" \
        "the full backup holds the 12 MiB written"
    expect_eq "$(walk_line)" "object map: 3 of $OBJS objects (4096 KiB) allocated, only those are listed (3 of $WINS windows)" \
        "the full lists the 3 objects that exist, in 3 windows"
else
    not_ok "full backup of the thin image"
fi
FULL=$BK_ID

if do_backup "$SRC" -v; then
    expect_eq "$BK_TYPE $(jq -r .data_bytes "$BK_JSON") $(jq -r .chunks "$BK_JSON")" \
        "incremental 0 0" "the incremental with nothing changed holds nothing"
    expect_eq "$(walk_line)" "object map: 0 of $OBJS objects (4096 KiB) changed, only those are listed (0 of $WINS windows)" \
        "the incremental with nothing changed walks no window"
else
    not_ok "incremental of the thin image"
fi

SUM=$(img_sum "$SRC@rbd2s3-$FULL")
DST=rbd/$(img thin-r)
if check "restore the full into the destination" \
        rb restore "$SRC@$FULL" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM" "the restored image equals the source snapshot"
fi

done_testing
