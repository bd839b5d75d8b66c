#!/usr/bin/env bash
# mount: an ext4 filesystem made on a local file (never mounted by the kernel: mke2fs -d,
# then debugfs -w) is imported into an image and backed up twice (a full, then an
# incremental that adds a file); `rbd2s3 mount` of each point shows DIR/image.raw, from
# which debugfs (and fuse2fs when it works here) reads the files back identical, and
# whose bytes equal the source file's (whole, and ranges across chunks); writes are
# refused; SIGTERM and `fusermount3 -u` unmount it with exit 0 and leave DIR empty, as
# does a kill -9 (auto_unmount); a damaged chunk reads as EIO, never wrong bytes;
# refusals, one line each: a missing mount point or a file (exit 2), an unknown backup
# (3), an unusable /dev/fuse (1).
# Every mount is undone in the EXIT trap (fusermount3 -u -z).
if ! (exec 3<>/dev/fuse) 2>/dev/null; then
    echo "1..0 # SKIP /dev/fuse cannot be opened here (no FUSE for rbd2s3 mount)"
    exit 0
fi
for t in fusermount3 mke2fs debugfs; do
    if ! command -v "$t" >/dev/null && ! [ -x "/usr/sbin/$t" ] && ! [ -x "/sbin/$t" ]; then
        echo "1..0 # SKIP $t missing (tests/install-deps.sh: fuse3, e2fsprogs)"
        exit 0
    fi
done
PATH=$PATH:/usr/sbin:/sbin
. "$(dirname "$0")/../lib.sh"

NAME=$(img mount)
SRC=rbd/$NAME
FS=$TMPD/fs.img                 # the filesystem as it is at the incremental backup
FS1=$TMPD/fs1.img               # ... and at the full
MNT=$TMPD/mnt
MNT2=$TMPD/mnt2
MOUNTS=("$MNT2" "$MNT")
mkdir -p "$TMPD/root" "$MNT" "$MNT2"

# Undo the mounts before lib.sh's cleanup (which removes TMPD and kills our jobs).
_mount_exit() {
    local rc=$? d
    for d in "${MOUNTS[@]}"; do
        fusermount3 -u -z "$d" >/dev/null 2>&1
    done
    (exit $rc)
    _lib_exit
}
trap _mount_exit EXIT

# ------------------------------------------------------------------ the source
head -c 3000 /dev/urandom | base64 >"$TMPD/root/hello.txt"
head -c 3M /dev/urandom >"$TMPD/root/big.bin"
head -c 5000 /dev/urandom | base64 >"$TMPD/second.txt"
require "mke2fs -d: a 64 MiB ext4 filesystem with hello.txt and big.bin (3 MiB)" \
    mke2fs -q -F -t ext4 -b 4096 -d "$TMPD/root" "$FS" 64M
cp "$FS" "$FS1"
require "rbd import of the filesystem into $SRC" \
    rbd_src import --no-progress "$FS" "$SRC"
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID

# The incremental: second.txt written with debugfs, the changed 4 KiB blocks applied to
# the image as an rbd export-diff stream.
require "debugfs -w: write /second.txt" \
    debugfs -w -R "write $TMPD/second.txt /second.txt" "$FS"
_BLOCKDIFF='
import struct, sys
a, b = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
out = sys.stdout.buffer
out.write(b"rbd diff v1\n")
off = 0
while True:
    x, y = a.read(4096), b.read(4096)
    if not y:
        break
    if x != y:
        out.write(b"w" + struct.pack("<QQ", off, len(y)) + y)
    off += len(y)
out.write(b"e")
'
apply_change() {
    python3 -c "$_BLOCKDIFF" "$FS1" "$FS" | rbd_src import-diff --no-progress - "$SRC"
}
require "the changed blocks written to $SRC" apply_change
if do_backup "$SRC"; then ok "incremental backup ($BK_ID)"; else
    not_ok "incremental backup"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE" "incremental" "the second backup is an incremental"
expect_eq "$(img_sum "$SRC")" "$(file_sum "$FS")" "the image holds the filesystem file"

# ------------------------------------------------------------------ helpers
MPID=""
MERR=""
# start_mount SPEC DIR DESC: rbd2s3 mount in the background (MPID; run in this shell, not
# under check, whose command substitution would wait for the mount's end); ok once
# DIR/image.raw is there (within 60 s), else not ok and the script ends.
start_mount() {
    MERR=$TMPD/mount.$RANDOM.err
    "$RBD2S3" "${RB_ARGS[@]}" mount "$1" "$2" >/dev/null 2>"$MERR" </dev/null &
    MPID=$!
    for _ in $(seq 600); do
        [ -e "$2/image.raw" ] && { ok "$3"; return 0; }
        kill -0 "$MPID" 2>/dev/null || break
        sleep 0.1
    done
    not_ok "$3"
    diag "no $2/image.raw; mount's stderr:"
    sed 's/^/#   /' "$MERR"
    done_testing
}

# wait_mount DESC: the mount process ends by itself within 30 s, exit 0.
wait_mount() {
    local rc
    for _ in $(seq 300); do
        kill -0 "$MPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$MPID" 2>/dev/null; then
        not_ok "$1: the mount process ends"
        kill -9 "$MPID" 2>/dev/null
        wait "$MPID" 2>/dev/null
        return 1
    fi
    wait "$MPID"
    rc=$?
    if [ $rc -eq 0 ]; then ok "$1: exit 0"; else
        not_ok "$1: exit 0 (got $rc)"
        sed 's/^/#   /' "$MERR"
    fi
}

# fs_cat IMAGE PATH: the file PATH of the ext4 filesystem in IMAGE, by debugfs.
fs_cat() { debugfs -R "cat $2" "$1" 2>/dev/null; }

# same_range OFF LEN: those bytes of MNT/image.raw and FS are equal.
same_range() { cmp -i "$1:$1" -n "$2" "$MNT/image.raw" "$FS"; }

is_empty() { [ -z "$(ls -A "$1")" ] && ! mountpoint -q "$1"; }

# fails_with TEXT DESC CMD...: CMD fails and says TEXT.
fails_with() {
    local text=$1 desc=$2 out rc
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q -- "$text"; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "exit $rc: $out"
    fi
}

# ------------------------------------------------------------------ the newest point
start_mount "$SRC@$ID2" "$MNT" "rbd2s3 mount $SRC@$ID2 DIR: DIR/image.raw appears"
expect_eq "$(stat -c '%s %a' "$MNT/image.raw")" "$(stat -c %s "$FS") 444" \
    "image.raw: the image's size, mode 0444"
expect_eq "$(ls -A "$MNT")" "image.raw" "DIR holds image.raw only"
expect_eq "$(fs_cat "$MNT/image.raw" /hello.txt | sha256sum)" \
    "$(sha256sum <"$TMPD/root/hello.txt")" "debugfs cat /hello.txt from the mount: identical"
expect_eq "$(fs_cat "$MNT/image.raw" /second.txt | sha256sum)" \
    "$(sha256sum <"$TMPD/second.txt")" "debugfs cat /second.txt (the incremental's file)"
expect_eq "$(fs_cat "$MNT/image.raw" /big.bin | sha256sum)" \
    "$(sha256sum <"$TMPD/root/big.bin")" "debugfs cat /big.bin (3 MiB): identical"
size=$(stat -c %s "$FS")
for r in 0:4096 1:1 4194303:2 4190000:300000 12345678:1048577 33554431:4097 \
         $((size - 5000)):5000; do
    check "bytes ${r%%:*}+${r#*:} equal the source" same_range "${r%%:*}" "${r#*:}"
done
check "the whole image.raw equals the source file" cmp "$MNT/image.raw" "$FS"

if fuse2fs -o ro,fakeroot "$MNT/image.raw" "$MNT2" >"$TMPD/fuse2fs.log" 2>&1; then
    expect_eq "$(sha256sum <"$MNT2/hello.txt")" "$(sha256sum <"$TMPD/root/hello.txt")" \
        "fuse2fs -o ro of image.raw: cat hello.txt identical"
    expect_eq "$(sha256sum <"$MNT2/second.txt")" "$(sha256sum <"$TMPD/second.txt")" \
        "fuse2fs: cat second.txt identical"
    fusermount3 -u "$MNT2"
else
    ok "# SKIP fuse2fs cannot mount here"
    sed 's/^/# fuse2fs: /' "$TMPD/fuse2fs.log"
fi

fails_with "Read-only file system" "dd of=image.raw is refused (read-only file system)" \
    dd if=/dev/zero of="$MNT/image.raw" bs=4096 count=1 conv=notrunc
check "no new file in DIR" bash -c "! touch '$MNT/new' 2>/dev/null"
check "the image is unchanged after the refused writes" cmp "$MNT/image.raw" "$FS"

kill -TERM "$MPID"
wait_mount "SIGTERM"
check "DIR is empty and no mount point after SIGTERM" is_empty "$MNT"
check "one line on stderr names the mount" grep -q "mounted: $MNT/image.raw" "$MERR"

# ------------------------------------------------------------------ the older point
start_mount "$SRC@$ID1" "$MNT" "rbd2s3 mount $SRC@$ID1 DIR (the full)"
expect_eq "$(fs_cat "$MNT/image.raw" /hello.txt | sha256sum)" \
    "$(sha256sum <"$TMPD/root/hello.txt")" "the full: hello.txt identical"
check "the full: no second.txt" bash -c "debugfs -R 'stat /second.txt' '$MNT/image.raw' \
    2>&1 | grep -q 'File not found'"
check "the full: image.raw equals the filesystem at the full" cmp "$MNT/image.raw" "$FS1"
check "fusermount3 -u DIR" fusermount3 -u "$MNT"
wait_mount "fusermount3 -u"
check "DIR is empty after fusermount3 -u" is_empty "$MNT"

# kill -9: no cleanup by the process; fusermount3's auto_unmount undoes the mount.
start_mount "$SRC@$ID1" "$MNT" "mount again, to be killed"
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
for _ in $(seq 100); do is_empty "$MNT" 2>/dev/null && break; sleep 0.1; done
check "DIR is empty after kill -9 (auto_unmount)" is_empty "$MNT"

# ------------------------------------------------------------------ a damaged chunk
# 16 bytes flipped in the middle of the incremental's first data chunk (same size): a read
# of its range fails with EIO, never wrong bytes; the rest still reads; exit 0 at the end.
rb --format json show "$SRC@$ID2" --chunks >"$TMPD/show2.json" 2>"$TMPD/show2.err"
CH='[.chunks[] | select(.kind != "zero")][0]'
COFF=$(jq -r "$CH.offset" "$TMPD/show2.json")
CLEN=$(jq -r "$CH.length" "$TMPD/show2.json")
POFF=$(jq -r "$CH.pack_offset" "$TMPD/show2.json")
PLEN=$(jq -r "$CH.stored" "$TMPD/show2.json")
KEY2=$(jq -r ".data_objects[$CH.pack].key" "$TMPD/show2.json")
require "the incremental has a data chunk (image $COFF+$CLEN; $KEY2 offset $POFF)" \
    test -n "$KEY2" -a "$KEY2" != null -a "$PLEN" -gt 64
require "download $KEY2" s3api get-object --bucket "$BUCKET" --key "$KEY2" "$TMPD/obj.orig"
python3 - "$TMPD/obj.orig" "$TMPD/obj.bad" "$((POFF + PLEN / 2))" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
for i in range(int(sys.argv[3]), int(sys.argv[3]) + 16):
    data[i] ^= 0xA5
open(sys.argv[2], "wb").write(data)
PY
require "upload the damaged object" s3api put-object --bucket "$BUCKET" --key "$KEY2" \
    --body "$TMPD/obj.bad"
start_mount "$SRC@$ID2" "$MNT" "mount of the damaged point"
fails_with "Input/output error" "a read of the damaged chunk fails with EIO" \
    dd if="$MNT/image.raw" of="$TMPD/bad.out" bs=4096 skip=$((COFF / 4096)) \
    count=$(((CLEN + 4095) / 4096)) iflag=direct
check "no byte of the damaged chunk is given out" test ! -s "$TMPD/bad.out"
GOOD=0     # 1 MiB well away from the damaged chunk
[ $((COFF + CLEN + (8 << 20))) -le "$size" ] && GOOD=$((COFF + CLEN + (4 << 20)))
check "bytes at $GOOD, away from it, still read right" same_range "$GOOD" 1048576
kill -TERM "$MPID"
wait_mount "SIGTERM after a failed read"
check "the mount's stderr names the failed read" grep -q "failed: .*$KEY2" "$MERR"
check "DIR is empty again" is_empty "$MNT"

# ------------------------------------------------------------------ refusals
# refused WANT DESC ARGS...: rbd2s3 ARGS exits WANT with one line on stderr.
refused() {
    local want=$1 desc=$2 rc
    shift 2
    rb "$@" >"$TMPD/ref.out" 2>"$TMPD/ref.err" </dev/null
    rc=$?
    if [ $rc -eq "$want" ] && [ "$(wc -l <"$TMPD/ref.err")" -eq 1 ]; then
        ok "$desc: exit $want, one line ($(cat "$TMPD/ref.err"))"
    else
        not_ok "$desc: exit $want, one line (got $rc)"
        sed 's/^/#   /' "$TMPD/ref.err"
    fi
}
refused 2 "a missing mount point" mount "$SRC" "$TMPD/nowhere"
refused 2 "a mount point that is a file" mount "$SRC" "$FS"
refused 3 "an unknown backup" mount "$SRC@20200101T000000Z" "$MNT"
refused 3 "an unknown image" mount "rbd/none-$TAG" "$MNT"
refused 2 "no DIR" mount "$SRC"
# /dev/fuse unusable: in a mount namespace of its own, a read-only file bound over it.
touch "$TMPD/nofuse"
NOFUSE="mount --bind '$TMPD/nofuse' /dev/fuse && mount -o remount,bind,ro /dev/fuse"
if unshare -m sh -c "$NOFUSE" 2>/dev/null; then
    unshare -m sh -c "$NOFUSE"' && exec "$@"' sh "$RBD2S3" "${RB_ARGS[@]}" mount "$SRC" \
        "$MNT" >/dev/null 2>"$TMPD/nofuse.err" </dev/null
    rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$TMPD/nofuse.err")" -eq 1 ] &&
        grep -q "/dev/fuse" "$TMPD/nofuse.err"; then
        ok "/dev/fuse unusable: exit 1, one line naming it ($(cat "$TMPD/nofuse.err"))"
    else
        not_ok "/dev/fuse unusable: exit 1, one line naming it (got $rc)"
        sed 's/^/#   /' "$TMPD/nofuse.err"
    fi
else
    ok "# SKIP no unshare -m here to hide /dev/fuse"
fi
check "nothing mounted after the refusals" is_empty "$MNT"

done_testing
