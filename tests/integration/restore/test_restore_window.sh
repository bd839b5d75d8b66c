#!/usr/bin/env bash
# The chain merge in tiny windows (RBD2S3_MERGE_WINDOW=3 records per backup): a chain
# with a discard, a shrink and a grow restores byte-identical into an image, a file,
# stdout and by replay; export-diff streams imported with rbd import-diff equal the
# snapshots; verify --deep and --source pass.
. "$(dirname "$0")/../lib.sh"

NAME=$(img window)
SRC=rbd/$NAME
W=(--chunk-size 64K)

require "create a 64 MiB source image" create_image "$SRC" 64M
require "write 0..8M" write_random "$SRC" 0 8M
require "write 40M..44M" write_random "$SRC" 40M 4M
do_backup "$SRC" "${W[@]}" || bail "full backup"
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")

require "random writes" rand_writes "$SRC" 20 64K
require "discard 2M..3M" discard "$SRC" 2M 1M
require "shrink to 32 MiB" rbd_src resize --no-progress --allow-shrink --size 32 "$SRC"
do_backup "$SRC" "${W[@]}" || bail "incremental 1"
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

require "grow to 48 MiB" grow "$SRC" 48M
require "write 40M..41M" write_random "$SRC" 40M 1M
require "random writes" rand_writes "$SRC" 20 32K
do_backup "$SRC" "${W[@]}" || bail "incremental 2"
ID3=$BK_ID
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")

export RBD2S3_MERGE_WINDOW=3

# --- every point into an image; the merge went through many windows
i=0
for pair in "$ID1:$SUM1" "$ID2:$SUM2" "$ID3:$SUM3"; do
    i=$((i + 1))
    id=${pair%%:*}
    DST=rbd/$(img "window-r$i")
    if rb -v restore "$SRC@$id" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" 2>"$TMPD/r$i.err"
    then
        ok "restore $id in windows of 3 records"
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "${pair#*:}" \
            "point $i restored in windows equals its source snapshot"
    else
        not_ok "restore $id in windows of 3 records"
        tail -n 5 "$TMPD/r$i.err" | sed 's/^/#   /'
    fi
    n=$(sed -n 's/.*in \([0-9]*\) windows\{0,1\} of at most 3 records.*/\1/p' "$TMPD/r$i.err")
    check "point $i merged in more than 10 windows (${n:-none})" test "${n:-0}" -gt 10
done

# --- a file, stdout, replay
if check "restore --to-file in windows" rb restore "$SRC" --to-file "$TMPD/newest.raw"; then
    expect_eq "$(file_sum "$TMPD/newest.raw")" "$SUM3" "file equals the newest snapshot"
fi
rm -f "$TMPD/newest.raw"
if rb restore "$SRC" --to-file - >"$TMPD/stdout.raw" 2>"$TMPD/stdout.err"; then
    expect_eq "$(file_sum "$TMPD/stdout.raw")" "$SUM3" "stdout in windows equals the newest snapshot"
else
    not_ok "restore --to-file - in windows"
fi
rm -f "$TMPD/stdout.raw"
DST=rbd/$(img window-replay)
if check "restore --replay in windows" \
        rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" --replay; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "replay in windows equals the snapshot"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID2" "$DST_CEPH_CONF")" "$SUM2" \
        "replayed point 2 (shrunk) equals its snapshot"
fi

# --- export-diff: whole and --from, in windows of 3 (data records are cut at window
# ends, so the stream's records differ from one window's), imported with the real rbd
import_new() { rbd_dst create --size 1M "$2" && rbd_dst import-diff --no-progress "$1" "$2"; }
DST=rbd/$(img window-xd)
if rb export-diff "$SRC@$ID1" "$TMPD/full1" >/dev/null 2>&1 &&
        rb export-diff "$SRC@$ID3" --from "$ID1" "$TMPD/from13" >/dev/null 2>&1 &&
        import_new "$TMPD/full1" "$DST" >/dev/null 2>&1; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM1" \
        "export-diff of the full in windows, imported, equals its snapshot"
    if check "import-diff of --from in windows" \
            rbd_dst import-diff --no-progress "$TMPD/from13" "$DST"; then
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" \
            "full then --from (across the shrink and the grow) equals the newest snapshot"
    fi
else
    not_ok "export-diff in windows and import-diff"
fi
DST=rbd/$(img window-xd3)
if rb export-diff "$SRC@$ID3" "$TMPD/full3" >/dev/null 2>&1 &&
        import_new "$TMPD/full3" "$DST" >/dev/null 2>&1; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" \
        "export-diff of the chain in windows, imported, equals the newest snapshot"
else
    not_ok "export-diff of the chain in windows and import-diff"
fi

# --- verify reads the chain in windows too
check "verify --deep in windows" rb verify "$SRC" --deep
check "verify --source in windows" rb verify "$SRC" --source

done_testing
