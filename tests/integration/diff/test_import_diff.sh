#!/usr/bin/env bash
# import-diff: streams of the real `rbd export-diff` (v1; v2 as `rbd export
# --export-format 2` embeds them), a full then a --from-snap one with a resize and a
# zeroed range between, stored as backups; restoring them gives the bytes `rbd
# import-diff` of the same streams gives. Broken streams store nothing.
. "$(dirname "$0")/../lib.sh"

DS=$REPO/tests/integration/diff/ds_tool
[ -x "$DS" ] || bail "$DS is not built (make)"
SRC=rbd/$(img imp-src)
D=$TMPD

require "create image 16M" create_image "$SRC" 16M
require "write 6M at 0" write_random "$SRC" 0 6M
require "write 1M at 10M" write_random "$SRC" 10M 1M
require "snapshot s1" rbd_src snap create "$SRC@s1"
require "random writes" rand_writes "$SRC" 8 64K
require "zero [2M, 4M)" discard "$SRC" 2M 2M
require "grow to 24M" grow "$SRC" 24M
require "write 1M at 20M" write_random "$SRC" 20M 1M
require "snapshot s2" rbd_src snap create "$SRC@s2"
SUM1=$(img_sum "$SRC@s1")
SUM2=$(img_sum "$SRC@s2")

xd() { rbd_src export-diff --no-progress "$@"; }
require "rbd export-diff s1 (full, v1)" xd "$SRC@s1" "$D/full.v1"
require "rbd export-diff --from-snap s1 s2 (v1)" xd --from-snap s1 "$SRC@s2" "$D/inc.v1"
require "rbd export-diff --whole-object s1" xd --whole-object "$SRC@s1" "$D/full.wo.v1"
require "rbd export --export-format 2" \
    rbd_src export --no-progress --export-format 2 "$SRC" "$D/image.exp2"
mkdir -p "$D/split"
require "split its v2 diffs" sh -c "'$DS' export2 split '$D/split' <'$D/image.exp2'"
check "the export holds the s1 and s2 diffs as v2" test -s "$D/split/diff.0" -a -s "$D/split/diff.1"

# the reference: rbd import-diff of the v1 streams into a fresh image on the DR cluster
REF=rbd/$(img imp-ref)
require "reference image" rbd_dst create --size 1 "$REF"
require "rbd import-diff full.v1" rbd_dst import-diff --no-progress "$D/full.v1" "$REF"
REF1=$(img_sum "$REF" "$DST_CEPH_CONF")
require "rbd import-diff inc.v1" rbd_dst import-diff --no-progress "$D/inc.v1" "$REF"
REF2=$(img_sum "$REF" "$DST_CEPH_CONF")
expect_eq "$REF1 $REF2" "$SUM1 $SUM2" "the reference images equal the source snapshots"

restore_sum() { # SPEC@AT -> sha256 of the restored raw image
    rb restore "$1" --to-file "$D/r.raw" >/dev/null 2>"$D/r.err" || { echo "restore failed: $(tail -1 "$D/r.err")"; return; }
    file_sum "$D/r.raw"
    rm -f "$D/r.raw"
}

# v1: full then incremental, file and stdin
IMP=rbd/$(img imp-v1)
rb --format json import-diff "$D/full.v1" "$IMP" >"$D/i1.json" 2>"$D/i1.err"
expect_eq "$?:$(jq -r '.type + " " + .snapshot' "$D/i1.json")" "0:full s1" \
    "import-diff of the full v1 stream: a full backup with snapshot s1"
rb --format json import-diff - "$IMP" <"$D/inc.v1" >"$D/i2.json" 2>"$D/i2.err"
expect_eq "$?:$(jq -r '.type + " " + .snapshot + " " + .parent' "$D/i2.json")" \
    "0:incremental s2 $(jq -r .id "$D/i1.json")" \
    "import-diff - of the --from-snap stream: an incremental on it"
expect_eq "$(restore_sum "$IMP@s1")" "$REF1" "restore of the full = rbd import-diff of it"
expect_eq "$(restore_sum "$IMP@s2")" "$REF2" "restore of the incremental = rbd import-diff of both"
DSTIMG=rbd/$(img imp-dst)
if rb restore "$IMP" "$DSTIMG" --dest-ceph-conf "$DST_CEPH_CONF" >/dev/null 2>"$D/r2.err"; then
    expect_eq "$(img_sum "$DSTIMG" "$DST_CEPH_CONF")" "$REF2" "restore into a DR image: same bytes"
    expect_eq "$(img_field "$DSTIMG" size "$DST_CEPH_CONF")" $((24 << 20)) "... and the grown size"
else
    not_ok "restore into the DR cluster: $(tail -1 "$D/r2.err")"
fi

# v2 (as rbd export --export-format 2 embeds them)
IMP2=rbd/$(img imp-v2)
rb import-diff "$D/split/diff.0" "$IMP2" >/dev/null 2>"$D/v2a.err"
expect_eq "$?" 0 "import-diff of rbd's v2 diff of s1"
rb import-diff "$D/split/diff.1" "$IMP2" >/dev/null 2>"$D/v2b.err"
expect_eq "$?" 0 "import-diff of rbd's v2 diff s1 -> s2"
expect_eq "$(restore_sum "$IMP2@s2")" "$REF2" "v2: restore = rbd import-diff of the v1 streams"

# --whole-object
IMPW=rbd/$(img imp-wo)
rb import-diff "$D/full.wo.v1" "$IMPW" >/dev/null 2>"$D/wo.err"
expect_eq "$?" 0 "import-diff of a --whole-object stream"
expect_eq "$(restore_sum "$IMPW")" "$REF1" "whole-object: same bytes"

# broken streams store nothing
BAD=rbd/$(img imp-bad)
size=$(stat -c %s "$D/full.v1")
head -c $((size / 2)) "$D/full.v1" >"$D/trunc.v1"
cp "$D/full.v1" "$D/corrupt.v1"
printf 'x' | dd of="$D/corrupt.v1" bs=1 seek=$((12 + 1 + 4 + 2 + 1 + 8)) conv=notrunc status=none
printf 'rbd diff v9\n' >"$D/banner.v1"
for f in trunc corrupt banner; do
    rb import-diff "$D/$f.v1" "$BAD" >/dev/null 2>"$D/$f.err"
    rc=$?
    check "$f stream rejected (exit $rc)" test "$rc" -ne 0
    expect_eq "$(wc -l <"$D/$f.err")" 1 "... with one error line: $(head -c 150 "$D/$f.err")"
done
expect_eq "$(rb --format json list "$BAD" | jq '.backups | length')" 0 "nothing appears in list"
expect_eq "$(bucket_keys "$PREFIX/$BAD/" | wc -l)" 0 "no object left in the bucket"
expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --prefix "$PREFIX/$BAD/" --output json |
    jq -s '(.[0].Uploads // []) | length')" 0 "no unfinished upload left"

# a --from-snap stream whose from-snapshot no backup has
rb import-diff "$D/inc.v1" "$BAD" >/dev/null 2>"$D/nofrom.err"
expect_eq "$?" 3 "an incremental stream with no backup of its from-snapshot exits 3"
check "... naming the snapshot" grep -q "'s1'" "$D/nofrom.err"
rb import-diff "$D/nope.v1" "$BAD" >/dev/null 2>&1
expect_eq "$?" 3 "a missing FILE exits 3"

done_testing
