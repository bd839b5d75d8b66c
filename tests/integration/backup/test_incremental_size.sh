#!/usr/bin/env bash
# An incremental after 1% of the image changed stores less than 5% of the full's bytes
# (measured in the bucket with the aws CLI, independently of rbd2s3).
. "$(dirname "$0")/../lib.sh"

NAME=$(img incr)
SRC=rbd/$NAME

require "create a 128 MiB image" create_image "$SRC" 128M
require "fill it with random data" write_random "$SRC" 0 128M

if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
expect_eq "$BK_TYPE" full "first backup is full"

require "change 1% (20 random 64 KiB writes)" rand_writes "$SRC" 20 64K

if do_backup "$SRC"; then ok "incremental backup ($BK_ID)"; else not_ok "incremental backup"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE" incremental "second backup is incremental"
expect_eq "$BK_PARENT" "$ID1" "parent is the full"

FULL=$(bucket_bytes "$(key_prefix rbd "$NAME")$ID1/")
INCR=$(bucket_bytes "$(key_prefix rbd "$NAME")$ID2/")
diag "full backup: $FULL bytes in the bucket; incremental: $INCR bytes"
check "full backup stores at least 120 MiB of random data" test "$FULL" -ge $((120 * 1048576))
check "incremental stores something" test "$INCR" -gt 0
check "incremental < 5% of the full ($INCR < $FULL * 5 / 100)" test $((INCR * 100)) -lt $((FULL * 5))

SUM=$(img_sum "$SRC@rbd2s3-$ID2")
DST=rbd/$(img incr-r)
if check "restore the incremental into the destination" \
        rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM" "restored image equals the source snapshot"
fi

# The diff is walked in 128 MiB windows: an incremental whose changes all lie past windows
# without any change (the first ones empty, one in the middle empty) must still find them.
# With a fast-diff object map only the objects it marks are listed; without one (an image
# created with layering only) every object is: both walks must find the same bytes.
sparse_windows() { # LABEL MAP_LINE [create options...]
    local label=$1 want_map=$2 spec
    shift 2
    spec=rbd/$(img "incr-windows-$label")
    require "$label: create a sparse 640 MiB image" create_image "$spec" 640M "$@"
    require "$label: write 1 MiB at 10 MiB" write_random "$spec" 10M 1M
    if do_backup "$spec"; then ok "$label: full backup of the sparse image"; else not_ok "$label: full backup"; fi
    require "$label: write 1 MiB at 300 MiB (window 2)" write_random "$spec" 300M 1M
    require "$label: write 64 KiB at 600 MiB (window 4)" write_random "$spec" 600M 64K
    if do_backup "$spec" -v; then
        expect_eq "$BK_TYPE $(jq -r .data_bytes "$BK_JSON")" "incremental $((1088 * 1024))" \
            "$label: the incremental holds exactly the 1 MiB + 64 KiB written after empty windows"
        expect_eq "$(grep -o 'object map: .*changed\|no valid fast-diff object map' \
                     "$TMPD/backup.$_BK_N.err")" "$want_map" "$label: how the diff was walked"
    else
        not_ok "$label: incremental of the sparse image"
    fi
    SUM_W=$(img_sum "$spec@rbd2s3-$BK_ID")
    if rb restore "$spec" --to-file "$TMPD/windows.raw" >/dev/null 2>"$TMPD/windows.err"; then
        expect_eq "$(file_sum "$TMPD/windows.raw")" "$SUM_W" "$label: its restore equals the source snapshot"
        rm -f "$TMPD/windows.raw"
    else
        not_ok "$label: restore of the sparse image: $(tail -1 "$TMPD/windows.err")"
    fi
}
sparse_windows fast-diff "object map: 2 of 160 objects (4096 KiB) changed"
sparse_windows no-object-map "no valid fast-diff object map" --image-feature layering

LATE=rbd/$(img incr-late)
require "create a sparse 512 MiB image" create_image "$LATE" 512M
require "write 1 MiB at 400 MiB only" write_random "$LATE" 400M 1M
if do_backup "$LATE"; then
    expect_eq "$BK_TYPE $(jq -r .data_bytes "$BK_JSON")" "full $((1024 * 1024))" \
        "a full backup finds data that lies only after empty windows"
else
    not_ok "full backup of an image written only at 400 MiB"
fi

done_testing
