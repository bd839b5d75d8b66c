#!/usr/bin/env bash
# export-diff: a full and two incrementals (random writes, a discard, a grow) exported as
# `rbd export-diff` streams; `rbd import-diff` of each (alone, or a full then --from
# streams) on the destination cluster equals the source snapshot; rbd's own
# `export-diff --from-snap` applied instead gives the same image; --diff-format 2 holds
# the same records; bad input; the restore progress line on a terminal.
. "$(dirname "$0")/../lib.sh"

DS=$REPO/tests/integration/diff/ds_tool
NAME=$(img xd)
SRC=rbd/$NAME

require "create a 64 MiB source image" create_image "$SRC" 64M
require "write random data" write_random "$SRC" 0 8M
require "random writes" rand_writes "$SRC" 30 256K

if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")
# a user snapshot at the same point, for rbd's own export-diff --from-snap later
require "user snapshot u1 at the full" rbd_src snap create "$SRC@u1"

require "random writes" rand_writes "$SRC" 20 128K
require "discard 16M..24M" discard "$SRC" 16M 8M
require "grow to 96 MiB" grow "$SRC" 96M
require "write into the grown range" write_random "$SRC" 80M 1M
if do_backup "$SRC"; then ok "incremental 1 ($BK_ID)"; else not_ok "incremental 1"; done_testing; fi
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

require "random writes" rand_writes "$SRC" 20 64K
require "discard 40M..41M" discard "$SRC" 40M 1M
if do_backup "$SRC"; then ok "incremental 2 ($BK_ID)"; else not_ok "incremental 2"; done_testing; fi
ID3=$BK_ID
expect_eq "$BK_PARENT" "$ID2" "the second incremental's parent is the first"
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")

# import FILE into a new destination image DST (created 1 MiB: import-diff resizes)
import_new() { # FILE DST
    rbd_dst create --size 1M "$2" && rbd_dst import-diff --no-progress "$1" "$2"
}
import_to() { rbd_dst import-diff --no-progress "$1" "$2"; }

# --- (a) each backup alone, into a fresh image
i=0
for pair in "$ID1:$SUM1:64M" "$ID2:$SUM2:96M" "$ID3:$SUM3:96M"; do
    i=$((i + 1))
    id=${pair%%:*}
    rest=${pair#*:}
    sum=${rest%%:*}
    size=${rest#*:}
    F=$TMPD/full.$i
    DST=rbd/$(img "xd-a$i")
    check "export-diff $id (no --from)" rb export-diff "$SRC@$id" "$F" || continue
    check "import-diff of backup $i into a fresh image" import_new "$F" "$DST" || continue
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$sum" "backup $i: import-diff equals the source snapshot"
    expect_eq "$(img_field "$DST" size "$DST_CEPH_CONF")" "$(to_bytes "$size")" \
        "backup $i: the image has the snapshot's size ($size)"
    check "backup $i: import-diff created snapshot rbd2s3-$id" \
        grep -qx "rbd2s3-$id" <(snap_names "$DST" "$DST_CEPH_CONF")
    if rb restore "$SRC@$id" --to-file - >"$TMPD/restore.$i" 2>"$TMPD/restore.$i.err"; then
        expect_eq "$(file_sum "$TMPD/restore.$i")" "$sum" "backup $i: equals restore --to-file"
    else
        not_ok "backup $i: restore --to-file -"
    fi
    rm -f "$TMPD/restore.$i"
done
"$DS" parse <"$TMPD/full.1" >"$TMPD/full.1.txt" 2>&1
expect_eq "$(sed -n '2,3p' "$TMPD/full.1.txt" | tr '\n' ' ')" "to rbd2s3-$ID1 size $((64 << 20)) " \
    "the full's stream: 't' and 's', no 'f'"

# --- (b) the full, then --from streams, applied in order
F13=$TMPD/from1.3
F12=$TMPD/from1.2
F23=$TMPD/from2.3
check "export-diff $ID3 --from $ID1" rb export-diff "$SRC@$ID3" --from "$ID1" "$F13"
check "export-diff $ID2 --from rbd2s3-$ID1 (the snapshot name)" \
    rb export-diff "$SRC@$ID2" --from "rbd2s3-$ID1" "$F12"
check "export-diff $ID3 --from $ID2" rb export-diff "$SRC@$ID3" --from "$ID2" "$F23"
"$DS" parse <"$F13" >"$TMPD/from1.3.txt" 2>&1
expect_eq "$(sed -n '2,4p' "$TMPD/from1.3.txt" | tr '\n' ' ')" \
    "from rbd2s3-$ID1 to rbd2s3-$ID3 size $((96 << 20)) " "--from stream: 'f', 't' and 's'"
check "--from stream is smaller than the full stream" \
    test "$(stat -c %s "$F13")" -lt "$(stat -c %s "$TMPD/full.3")"

DST=rbd/$(img xd-b1)
if import_new "$TMPD/full.1" "$DST" && import_to "$F13" "$DST"; then
    ok "full stream, then --from $ID1 to $ID3, applied in order"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "full + (1..3) equals the newest snapshot"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID1" "$DST_CEPH_CONF")" "$SUM1" "its snapshot 1 equals source 1"
else
    not_ok "import-diff of full + (1..3)"
fi
DST=rbd/$(img xd-b2)
if import_new "$TMPD/full.1" "$DST" && import_to "$F12" "$DST" && import_to "$F23" "$DST"; then
    ok "full, (1..2) and (2..3) applied in order"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID2" "$DST_CEPH_CONF")" "$SUM2" "full + (1..2) equals snapshot 2"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "full + (1..2) + (2..3) equals snapshot 3"
else
    not_ok "full, (1..2) and (2..3) applied in order"
fi
DST=rbd/$(img xd-b3)
if import_new "$TMPD/full.2" "$DST" && import_to "$F23" "$DST"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "stream of 2, then --from the middle one"
else
    not_ok "stream of 2, then --from the middle one"
fi
check "import-diff refuses (1..3) on an image without snapshot rbd2s3-$ID1" \
    sh -c "! rbd -c '$DST_CEPH_CONF' import-diff --no-progress '$F13' 'rbd/$(img xd-a2)' 2>/dev/null"

# --- (c) rbd's own export-diff --from-snap u1 (u1 = the full's point) gives the same image
DST=rbd/$(img xd-c)
if import_new "$TMPD/full.1" "$DST" && rbd_dst snap create --no-progress "$DST@u1" \
        && rbd_src export-diff --no-progress --from-snap u1 "$SRC@rbd2s3-$ID3" "$TMPD/rbd.diff" \
        >/dev/null 2>&1 && import_to "$TMPD/rbd.diff" "$DST"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "rbd/$(img xd-b1)" "$DST_CEPH_CONF")" \
        "rbd export-diff --from-snap applies the same image as export-diff --from"
else
    not_ok "rbd export-diff --from-snap u1 applied after the full's stream"
fi

# --- a shrink and a grow between --from and the target: the cut-off range reads as zeros
SH=rbd/$(img xd-shrink)
require "create a 64 MiB image for the shrink" create_image "$SH" 64M
require "data at 0..8M and 40M..48M" write_random "$SH" 0 8M
require "more data" write_random "$SH" 40M 8M
do_backup "$SH" && SA=$BK_ID
require "shrink to 32 MiB" rbd_src resize --no-progress --allow-shrink --size 32 "$SH"
do_backup "$SH"
require "grow back to 64 MiB" grow "$SH" 64M
require "write at 50M" write_random "$SH" 50M 1M
do_backup "$SH" && SC=$BK_ID
SUMC=$(img_sum "$SH@rbd2s3-$SC")
DST=rbd/$(img xd-shrink-d)
if rb export-diff "$SH@$SA" "$TMPD/sa" >/dev/null 2>&1 \
        && rb export-diff "$SH@$SC" --from "$SA" "$TMPD/sac" >/dev/null 2>&1 \
        && import_new "$TMPD/sa" "$DST" && import_to "$TMPD/sac" "$DST"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUMC" \
        "shrunk and grown since --from: the full then --from stream equals the snapshot"
else
    not_ok "export-diff and import-diff across a shrink and a grow"
fi

# --- (d) --diff-format 2: the same records
for f in full:"$SRC@$ID3" from:"$SRC@$ID3 --from $ID1"; do
    what=${f%%:*}
    # shellcheck disable=SC2086
    if rb export-diff ${f#*:} --diff-format 2 "$TMPD/$what.v2" >/dev/null 2>"$TMPD/v2.err"; then
        v1=$TMPD/full.3
        [ "$what" = from ] && v1=$F13
        "$DS" parse <"$TMPD/$what.v2" >"$TMPD/$what.v2.txt" 2>&1
        expect_eq "$?:$(head -n 1 "$TMPD/$what.v2.txt")" "0:version 2" "--diff-format 2 ($what) parses"
        "$DS" parse <"$v1" | sed 1d >"$TMPD/$what.v1.txt"
        check "--diff-format 2 ($what): the records of the v1 stream" \
            cmp "$TMPD/$what.v1.txt" <(sed 1d "$TMPD/$what.v2.txt")
    else
        not_ok "export-diff --diff-format 2 ($what)"
        sed 's/^/#   /' "$TMPD/v2.err"
    fi
done

# --- stdout, piped into rbd import-diff -
DST=rbd/$(img xd-pipe)
rbd_dst create --size 1M "$DST"
if rb export-diff "$SRC@$ID3" - 2>"$TMPD/pipe.err" \
        | rbd -c "$DST_CEPH_CONF" import-diff --no-progress - "$DST"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "export-diff - | rbd import-diff - equals snapshot 3"
else
    not_ok "export-diff - | rbd import-diff -"
    sed 's/^/#   /' "$TMPD/pipe.err"
fi
expect_eq "$(rb export-diff "$SRC@$ID3" - 2>/dev/null | cmp - "$TMPD/full.3" && echo same)" same \
    "stdout and FILE get the same bytes"

# --- (e) bad input
rb export-diff "$SRC@$ID2" --from "$ID3" "$TMPD/bad1" >/dev/null 2>"$TMPD/bad1.err"
expect_eq "$?" 2 "--from a newer backup: exit 2"
expect_eq "$(wc -l <"$TMPD/bad1.err")" 1 "... one line on stderr"
check "... naming the chain" grep -q "not an older backup in the chain" "$TMPD/bad1.err"
check "... and no file left" test ! -e "$TMPD/bad1"
rb export-diff "$SRC@$ID2" --from "$ID2" "$TMPD/bad1" >/dev/null 2>&1
expect_eq "$?" 2 "--from the backup itself: exit 2"
if do_backup "$SRC" --full; then
    ID4=$BK_ID
    rb export-diff "$SRC@$ID4" --from "$ID1" "$TMPD/bad2" >/dev/null 2>"$TMPD/bad2.err"
    expect_eq "$?" 2 "--from a backup of another chain (before a new full): exit 2"
else
    not_ok "a second full backup"
fi
touch "$TMPD/exists"
rb export-diff "$SRC@$ID1" "$TMPD/exists" >/dev/null 2>"$TMPD/bad3.err"
expect_eq "$?" 7 "an existing FILE: exit 7"
expect_eq "$(stat -c %s "$TMPD/exists")" 0 "... and it is left alone"
rb export-diff "$SRC@29990101T000000Z" "$TMPD/bad4" >/dev/null 2>&1
expect_eq "$?" 3 "unknown backup: exit 3"
rb export-diff "$SRC@$ID3" --from 29990101T000000Z "$TMPD/bad4" >/dev/null 2>&1
expect_eq "$?" 3 "unknown --from backup: exit 3"
rb export-diff "$SRC@$ID3" --diff-format 3 "$TMPD/bad4" >/dev/null 2>&1
expect_eq "$?" 2 "--diff-format 3: exit 2"
rb export-diff "$SRC@$ID3" >/dev/null 2>&1
expect_eq "$?" 2 "no FILE: exit 2"
check "no file left by the failures" test ! -e "$TMPD/bad4"

# a damaged chunk: exit 8 naming the object and offset, the partial file removed
KEY=$(rb --format json show "$SRC@$ID1" | jq -r '.data_objects[0].key')
if s3api get-object --bucket "$BUCKET" --key "$KEY" "$TMPD/obj" >/dev/null; then
    python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100); b=f.read(1); f.seek(100);
f.write(bytes([b[0] ^ 0xff]))' "$TMPD/obj"
    s3api put-object --bucket "$BUCKET" --key "$KEY" --body "$TMPD/obj" >/dev/null
    rb export-diff "$SRC@$ID1" "$TMPD/bad5" >/dev/null 2>"$TMPD/bad5.err"
    expect_eq "$?" 8 "a damaged chunk: exit 8"
    check "... naming the object and offset" grep -q "data object $KEY offset" "$TMPD/bad5.err"
    check "... and the partial file is removed" test ! -e "$TMPD/bad5"
else
    not_ok "fetch data object $KEY"
fi

# --- the restore progress line, on a terminal only (restore of the undamaged new full)
args=()
for a in "${RB_ARGS[@]}"; do [ "$a" = --no-progress ] || args+=("$a"); done
DST=rbd/$(img xd-tty)
script -qec "$(printf '%q ' timeout 300 "$RBD2S3" "${args[@]}" restore "$SRC" "$DST" \
    --dest-ceph-conf "$DST_CEPH_CONF")" /dev/null >"$TMPD/tty.out" 2>&1
check "restore on a terminal: 'Restoring $SRC: 100% complete...done.'" \
    grep -q "Restoring $SRC: 100% complete...done." "$TMPD/tty.out"
script -qec "$(printf '%q ' timeout 300 "$RBD2S3" "${args[@]}" restore "$SRC" \
    --to-file "$TMPD/tty.raw")" /dev/null >"$TMPD/tty2.out" 2>&1
check "restore --to-file on a terminal: the progress line" \
    grep -q "Restoring $SRC: 100% complete...done." "$TMPD/tty2.out"
script -qec "$(printf '%q ' timeout 300 "$RBD2S3" "${args[@]}" restore "$SRC" --to-file -)" \
    /dev/null >"$TMPD/tty3.out" 2>&1
check "restore --to-file - on a terminal: no progress line" \
    bash -c "! grep -aq 'complete' '$TMPD/tty3.out'"
script -qec "$(printf '%q ' timeout 300 "$RBD2S3" "${args[@]}" export-diff "$SRC" \
    "$TMPD/tty.diff")" /dev/null >"$TMPD/tty4.out" 2>&1
check "export-diff FILE on a terminal: 'Exporting $SRC: 100% complete...done.'" \
    grep -q "Exporting $SRC: 100% complete...done." "$TMPD/tty4.out"
rm -f "$TMPD/tty.raw" "$TMPD/tty.diff"
rb restore "$SRC" "rbd/$(img xd-notty)" --dest-ceph-conf "$DST_CEPH_CONF" >/dev/null \
    2>"$TMPD/notty.err"
check "not a terminal: no progress line" bash -c "! grep -q 'complete' '$TMPD/notty.err'"

done_testing
