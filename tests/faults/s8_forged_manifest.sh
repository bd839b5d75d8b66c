#!/usr/bin/env bash
# s8_forged_manifest.sh - a hostile bucket writer against prune (security review F1,
# F11; reliability F8). A forged manifest, with a correct checksum, under an image of its
# own lists another image's data object and index and a key outside the prefix; a
# foreign object sits in a timestamp-named folder that belongs to no image, and a
# leftover sits under namespace POOL/IMG (not image POOL/IMG). prune of the forged image,
# then of the whole prefix, must delete none of them, and the victim must restore
# identical. The backups are made with import-diff (no Ceph needed).
. "$(dirname "$0")/flib.sh"

python3 "$OBJTOOL" rawgen 8 "$TMPD/raw" "$TMPD/diff" || bail "rawgen"
WANT=$(file_sum "$TMPD/raw")
VICTIM=rbd/$(img victim)
EVIL=rbd/$(img evil)
NSIMG=$EVIL/nsimg        # image nsimg in namespace $(img evil) of pool rbd

trial_begin "a forged manifest and foreign objects under prune"
for s in "$VICTIM" "$EVIL" "$NSIMG"; do
    rb import-diff "$TMPD/diff" "$s" >/dev/null 2>"$TMPD/imp.err" ||
        { not_ok "import-diff into $s: $(cat "$TMPD/imp.err")"; fault_done; }
done
ok "backups of $VICTIM, $EVIL and $NSIMG"
VID=$(list_ids "$VICTIM" | tail -n 1)
EID=$(list_ids "$EVIL" | tail -n 1)
VDATA=$PREFIX/$VICTIM/$VID/data.0
VINDEX=$PREFIX/$VICTIM/$VID/index
OUTSIDE=other-app-$TAG/important.db
FOREIGN=$PREFIX/otherapp-$TAG/20240101T000000Z/app.log
NSLEFT=$PREFIX/$NSIMG/20200101T000000Z/data.0
FORGED_ID=20200101T000000Z

echo precious >"$TMPD/precious"
for k in "$OUTSIDE" "$FOREIGN" "$NSLEFT"; do
    s3api put-object --bucket "$BUCKET" --key "$k" --body "$TMPD/precious" >/dev/null
done
s3api get-object --bucket "$BUCKET" --key "$PREFIX/$EVIL/$EID/manifest.json" "$TMPD/m.json" \
    >/dev/null
python3 "$OBJTOOL" forge "$TMPD/m.json" "$TMPD/forged.json" "id=$FORGED_ID" \
    "snapshot.name=old" "objects=$VDATA,$OUTSIDE" "index=$VINDEX" || bail "forge"
s3api put-object --bucket "$BUCKET" --key "$PREFIX/$EVIL/$FORGED_ID/manifest.json" \
    --body "$TMPD/forged.json" >/dev/null
diag "forged $PREFIX/$EVIL/$FORGED_ID/manifest.json lists $VDATA, $OUTSIDE and $VINDEX"

# still_there WHAT: none of the victim's and foreign objects is gone
still_there() {
    local k gone=""
    for k in "$VDATA" "$VINDEX" "$OUTSIDE" "$FOREIGN"; do
        s3api head-object --bucket "$BUCKET" --key "$k" >/dev/null 2>&1 || gone+=" $k"
    done
    if [ -z "$gone" ]; then
        ok "$1: the victim's and the foreign objects are all there"
    else
        data_lost "$1: deleted:$gone"
    fi
}

rb prune "$EVIL" --keep-last 1 --grace 0s >"$TMPD/p1.out" 2>&1
diag "prune $EVIL: exit $?" "$(tail -n 4 "$TMPD/p1.out")"
still_there "prune of the forged image"
check "prune of $EVIL leaves namespace $EVIL's objects alone" \
    s3api head-object --bucket "$BUCKET" --key "$NSLEFT"
expect_eq "$(list_ids "$NSIMG" | wc -l)" 1 "the namespace image's backup is still listed"

rb prune --keep-last 1 --grace 0s >"$TMPD/p2.out" 2>&1
diag "prune of every image: exit $?" "$(tail -n 4 "$TMPD/p2.out")"
still_there "prune of the whole prefix"
restore_sum "$VICTIM"
if [ "$RS_RC $RS_SUM" = "0 $WANT" ]; then
    ok "the victim still restores identical"
else
    data_lost "the victim no longer restores identical (exit $RS_RC)"
fi
trial_end
fault_done
