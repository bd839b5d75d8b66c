#!/usr/bin/env bash
# A restore killed (kill -9) after its first write never looks finished: the image or file
# stays under DEST.rbd2s3-partial, marked with the backup and the run; a rerun of the same
# restore removes it and restores identical bytes; a complete DEST still gives exit 7, and a
# partial target of another backup, of a live run or not made by rbd2s3 is never removed.
# RBD2S3_DEBUG_STALL_RESTORE makes the agent stop after its first write ("stalled" on stderr).
. "$(dirname "$0")/../lib.sh"

NAME=$(img part)
SRC=rbd/$NAME
STALL_WAIT=${STALL_WAIT:-120}
SUF=.rbd2s3-partial
META=rbd2s3.partial-restore

require "create a 64 MiB image" create_image "$SRC" 64M
require "fill it with random data" write_random "$SRC" 0 64M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
require "write changes" rand_writes "$SRC" 20 256K
if do_backup "$SRC"; then ok "incremental backup ($BK_ID)"; else not_ok "incremental"; done_testing; fi
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

# start_stalled NAME ARGS...: a restore stopped after its first write; sets SPID (0 if
# it did not stall: it failed or finished first).
start_stalled() {
    local n=$1
    shift
    RBD2S3_DEBUG_STALL_RESTORE=1 "$RBD2S3" "${RB_ARGS[@]}" -v restore "$@" \
        >"$TMPD/$n.out" 2>"$TMPD/$n.err" </dev/null &
    SPID=$!
    wait_line "$SPID" "$TMPD/$n.err" '^rbd2s3: debug: stalled' "$STALL_WAIT" stall && return 0
    SPID=0
    return 1
}

kill9() { [ "$SPID" -gt 0 ] && { kill -9 "$SPID"; wait "$SPID" 2>/dev/null; }; SPID=0; }

# ---------------------------------------------------------------- an image
DST=rbd/$(img part-r)
if start_stalled img1 "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    ok "image restore stalled after its first write"
else
    not_ok "image restore stalled after its first write"
fi
kill9
check "killed: no image under the destination name" bash -c "! rbd -c '$DST_CEPH_CONF' info '$DST' >/dev/null 2>&1"
check "killed: rbd ls shows the image as $DST$SUF" \
    bash -c "rbd -c '$DST_CEPH_CONF' ls rbd | grep -qxF '${DST#rbd/}$SUF'"
MARK=$(timeout 120 rbd -c "$DST_CEPH_CONF" image-meta get "$DST$SUF" "$META" 2>/dev/null)
check "its image-meta $META names the backup and the run ($MARK)" \
    bash -c "case '$MARK' in '$SRC@$ID2 host '*' pid '[0-9]*) exit 0;; esac; exit 1"

expect_rc 0 "rerun of the same restore" img2 restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
check "the rerun said it removes the partial image" \
    grep -q "$SUF: partial restore of $SRC@$ID2 .*removing it" "$TMPD/img2.err"
check "and why removing it may wait (the killed client's watch)" \
    grep -q "$SUF: removing it (a killed client's watch" "$TMPD/img2.err"
diag "the rerun's messages:" && sed 's/^/#   /' "$TMPD/img2.err"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM2" "rerun: restored image equals the source snapshot"
check "rerun: the snapshot rbd2s3-$ID2 is there" bash -c "rbd -c '$DST_CEPH_CONF' snap ls '$DST' | grep -q 'rbd2s3-$ID2'"
check "rerun: no partial image left" bash -c "! rbd -c '$DST_CEPH_CONF' info '$DST$SUF' >/dev/null 2>&1"
check "rerun: the complete image carries no $META" \
    bash -c "! rbd -c '$DST_CEPH_CONF' image-meta get '$DST' '$META' >/dev/null 2>&1"
expect_rc 7 "restore onto the complete image" img3 restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
check "it says: destination image already exists" grep -q "already exists" "$TMPD/img3.err"

# a partial image not made by rbd2s3, and one of another backup: never removed
FOREIGN=rbd/$(img part-f)
require "create a foreign $FOREIGN$SUF" rbd_dst create --size 4 "$FOREIGN$SUF"
expect_rc 7 "restore onto a foreign partial name" f1 restore "$SRC" "$FOREIGN" --dest-ceph-conf "$DST_CEPH_CONF"
check "it says it is not rbd2s3's" grep -q "not a partial restore made by rbd2s3" "$TMPD/f1.err"
check "the foreign image is kept" rbd_dst info "$FOREIGN$SUF"
require "mark it as a partial restore of $ID1" \
    rbd_dst image-meta set "$FOREIGN$SUF" "$META" "$SRC@$ID1 host elsewhere pid 12345"
expect_rc 7 "restore of $ID2 onto a partial of $ID1" f2 restore "$SRC" "$FOREIGN" --dest-ceph-conf "$DST_CEPH_CONF"
check "it names the other backup" grep -q "partial restore of another backup ($SRC@$ID1" "$TMPD/f2.err"
check "the partial of $ID1 is kept" rbd_dst info "$FOREIGN$SUF"

# the partial of a restore that is still running: exit 11, kept
LIVE=rbd/$(img part-l)
if start_stalled live "$SRC" "$LIVE" --dest-ceph-conf "$DST_CEPH_CONF"; then
    ok "a second image restore stalled"
    expect_rc 11 "restore onto the partial of a running restore" l1 restore "$SRC" "$LIVE" --dest-ceph-conf "$DST_CEPH_CONF"
    check "the running restore's partial is kept" rbd_dst info "$LIVE$SUF"
else
    not_ok "a second image restore stalled"
fi
kill9

# ---------------------------------------------------------------- a file
F=$TMPD/img.raw
if start_stalled file1 "$SRC" --to-file "$F"; then
    ok "file restore stalled after its first write"
else
    not_ok "file restore stalled after its first write"
fi
kill9
check "killed: nothing at $F" test ! -e "$F"
check "killed: the partial file $F$SUF is there" test -f "$F$SUF"
FMARK=$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.'"$META"'").decode())' "$F$SUF" 2>/dev/null)
check "its extended attribute names the backup and the run ($FMARK)" \
    bash -c "case '$FMARK' in '$SRC@$ID2 host '*' pid '[0-9]*) exit 0;; esac; exit 1"
expect_rc 0 "rerun of the file restore" file2 restore "$SRC" --to-file "$F"
expect_eq "$(file_sum "$F")" "$SUM2" "rerun: the file equals the source snapshot"
check "rerun: no partial file left" test ! -e "$F$SUF"
expect_rc 7 "restore onto the complete file" file3 restore "$SRC" --to-file "$F"
expect_eq "$(file_sum "$F")" "$SUM2" "the complete file is unchanged"

G=$TMPD/foreign.raw
echo "not rbd2s3's" >"$G$SUF"
expect_rc 7 "restore onto a foreign partial file" file4 restore "$SRC" --to-file "$G"
expect_eq "$(cat "$G$SUF")" "not rbd2s3's" "the foreign partial file is unchanged"
check "and nothing at $G" test ! -e "$G"

# symbolic links at the path and at the partial name are never followed
echo "victim" >"$TMPD/victim"
ln -s "$TMPD/victim" "$TMPD/link.raw"
expect_rc 7 "restore onto a symbolic link to a file" s1 restore "$SRC" --to-file "$TMPD/link.raw"
ln -s "$TMPD/victim" "$TMPD/plink.raw$SUF"
expect_rc 7 "restore whose partial name is a symbolic link" s2 restore "$SRC" --to-file "$TMPD/plink.raw"
check "it says the link is not followed" grep -q "symbolic link.*not followed" "$TMPD/s2.err"
check "the link's target is unchanged" cmp -s "$TMPD/victim" - <<<"victim"
check "the planted link is kept" test -L "$TMPD/plink.raw$SUF"

# a link to a block device is followed only if root or the caller owns it
if [ "$(id -u)" = 0 ] && mknod "$TMPD/blkdev" b 7 250 2>/dev/null; then
    ln -s "$TMPD/blkdev" "$TMPD/blklink.raw"
    chown -h nobody "$TMPD/blklink.raw"
    expect_rc 7 "restore onto another user's link to a block device" s3 restore "$SRC" \
        --to-file "$TMPD/blklink.raw"
    check "it says whose link it is" grep -q "owned by uid.*not followed" "$TMPD/s3.err"
else
    ok "# SKIP not root or no mknod: another user's link to a block device"
fi

done_testing
