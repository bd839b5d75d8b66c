#!/usr/bin/env bash
# Encrypted backups (encryption = aes-256-gcm): a chain (full + 2 incrementals, a resize
# between) restores byte-identical into the other cluster, --to-file, to stdout, through
# export-diff and the real `rbd import-diff`; verify --deep passes. No plaintext in the
# bucket: a 1 MiB text pattern is in no object, raw or lz4-decoded (a plain backup of the
# same image, the control, shows it). Without the key, or with another one: exit 12, one
# line, nothing written.
# Tampering matrix, each exit 8 with nothing written and reported by verify --deep: a
# flipped byte in a data object, in the index; two sealed chunks swapped in one object;
# a data object replaced by the same-named one of another backup; the index of another
# image; a manifest byte changed with its checksum recomputed, and without; the newest
# manifest replaced by an older one of the image, as it is and fitted to its folder.
. "$(dirname "$0")/../lib.sh"

EDIT="python3 $REPO/tests/integration/prune/manifest_edit.py"
FIND="python3 $TEST_DIR/find_plain.py"
KEYF=$TMPD/master.key
require "key create" rb key create "$KEYF"
expect_eq "$(stat -c '%a %s' "$KEYF")" "600 32" "the key file: mode 600, 32 bytes"
PLAIN_ARGS=("${RB_ARGS[@]}")
RB_ARGS+=(--encryption aes-256-gcm --key-file "$KEYF")
# nokey ARGS...: rbd2s3 without any key configured
nokey() { timeout --foreground -k 5 "$RB_TIMEOUT" "$RBD2S3" "${PLAIN_ARGS[@]}" "$@"; }

NAME=$(img enc)
SRC=rbd/$NAME
OUT=$TMPD/out
ERR=$TMPD/err

# ---------------------------------------------------------------- 1. the chain
require "create a 32 MiB source image" create_image "$SRC" 32M
require "1 MiB of text at 0, 6 MiB random at 2M" write_ops "$SRC" t:0:1M w:2M:6M
if do_backup "$SRC"; then ok "encrypted full backup ($BK_ID)"; else not_ok "full"; done_testing; fi
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")
require "random writes, a discard, grow to 48 MiB, write past 32M" \
    write_ops "$SRC" w:8M:2M z:3M:1M
require "grow to 48 MiB" grow "$SRC" 48M
require "write past the old end" write_random "$SRC" 40M 2M
if do_backup "$SRC"; then ok "incremental 1 ($BK_ID)"; else not_ok "incr 1"; done_testing; fi
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")
require "more writes" write_ops "$SRC" w:1M:512K t:20M:1M
if do_backup "$SRC"; then ok "incremental 2 ($BK_ID)"; else not_ok "incr 2"; done_testing; fi
ID3=$BK_ID
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")
expect_eq "$BK_PARENT" "$ID2" "the newest backup's parent is the middle one"

rb --format json show "$SRC@$ID1" >"$TMPD/show1.json"
rb --format json show "$SRC@$ID1" --chunks >"$TMPD/chunks1.json"
check "the manifest says aes-256-gcm" jq -e '.encryption.cipher == "aes-256-gcm"' \
    "$TMPD/show1.json"
check "show --chunks: every data record is sealed" jq -e \
    '[.chunks[] | select(.kind != "zero") | .sealed == true] | length > 0 and all' \
    "$TMPD/chunks1.json"

i=0
for pair in "$ID1:$SUM1" "$ID2:$SUM2" "$ID3:$SUM3"; do
    i=$((i + 1))
    id=${pair%%:*}
    sum=${pair#*:}
    DST=rbd/$(img "encr$i")
    if rb restore "$SRC@$id" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" 2>"$ERR"; then
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$sum" \
            "backup $i restored into the other cluster equals its snapshot"
    else
        not_ok "restore of backup $i into the other cluster: $(head -c 200 "$ERR")"
    fi
done
F=$TMPD/f3.raw
check "restore --to-file of the newest" rb restore "$SRC" --to-file "$F"
expect_eq "$(file_sum "$F")" "$SUM3" "--to-file equals the newest snapshot"
rm -f "$F"
expect_eq "$(rb restore "$SRC@$ID2" --to-file - 2>"$ERR" | sha256sum | cut -d' ' -f1)" "$SUM2" \
    "restore --to-file - (the ordered path) of the middle backup"

import_new() { rbd_dst create --size 1M "$2" && rbd_dst import-diff --no-progress "$1" "$2"; }
check "export-diff of the full" rb export-diff "$SRC@$ID1" "$TMPD/full1.diff"
check "export-diff of the newest --from the full" \
    rb export-diff "$SRC@$ID3" --from "$ID1" "$TMPD/from13.diff"
DST=rbd/$(img encx)
if import_new "$TMPD/full1.diff" "$DST" &&
   rbd_dst import-diff --no-progress "$TMPD/from13.diff" "$DST"; then
    ok "rbd import-diff of the full, then of (1..3)"
    expect_eq "$(img_sum "$DST@rbd2s3-$ID1" "$DST_CEPH_CONF")" "$SUM1" "its snapshot 1 equals"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "full + (1..3) equals the newest"
else
    not_ok "rbd import-diff of the export-diff streams"
fi
rb verify "$SRC" --deep >"$OUT" 2>"$ERR"
expect_eq "$?" 0 "verify --deep of the encrypted chain" || sed 's/^/#   /' "$OUT" "$ERR"

# ---------------------------------------------------------------- 2. no plaintext
NEEDLE=$(python3 -c 'import sys
t = b"2026-11-30T20:00:00Z osd.0 pg 1.2a deep-scrub ok, 0 errors\n" * 100
sys.stdout.write(t[1000:1064].hex())')
# fetch PREFIX DIR: every object under PREFIX into DIR (flat, by last key component)
fetch_all() {
    local k n=0
    mkdir -p "$2"
    for k in $(bucket_keys "$1"); do
        s3api get-object --bucket "$BUCKET" --key "$k" "$2/$n.${k##*/}" >/dev/null || return 1
        n=$((n + 1))
    done
    echo "$n"
}
NOBJ=$(fetch_all "$PREFIX/" "$TMPD/all")
require "fetched every object of the bucket with aws s3api ($NOBJ)" test "${NOBJ:-0}" -gt 3
hits=0
for f in "$TMPD"/all/*; do
    python3 -c 'import sys; sys.exit(bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read())' \
        "$NEEDLE" "$f" || { hits=$((hits + 1)); diag "plaintext in $f"; }
    if lz4 -dcq "$f" >"$TMPD/dec" 2>/dev/null; then
        python3 -c 'import sys; sys.exit(bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read())' \
            "$NEEDLE" "$TMPD/dec" || { hits=$((hits + 1)); diag "plaintext in lz4 -d of $f"; }
    fi
done
expect_eq "$hits" 0 "no object holds a 64-byte slice of the text, raw or after lz4 -d"
mkdir -p "$TMPD/d1"
for k in $(jq -r '.data_objects[].key' "$TMPD/show1.json"); do
    s3api get-object --bucket "$BUCKET" --key "$k" "$TMPD/d1/${k##*/}" >/dev/null
done
$FIND "$NEEDLE" "$TMPD/chunks1.json" "$TMPD/show1.json" "$TMPD/d1" >"$OUT" 2>"$ERR"
expect_eq "$(tail -n 1 "$OUT")" "hits 0" "no sealed record of the full decodes (lz4) to the text"
# the control: the same image backed up plain under another prefix shows the text
CTL=(--prefix "ctl$TAG")
if nokey "${CTL[@]}" --format json backup "$SRC" >"$TMPD/ctl.json" 2>"$ERR"; then
    CID=$(jq -r .id "$TMPD/ctl.json")
    nokey "${CTL[@]}" --format json show "$SRC@$CID" >"$TMPD/ctls.json"
    nokey "${CTL[@]}" --format json show "$SRC@$CID" --chunks >"$TMPD/ctlc.json"
    mkdir -p "$TMPD/dc"
    for k in $(jq -r '.data_objects[].key' "$TMPD/ctls.json"); do
        s3api get-object --bucket "$BUCKET" --key "$k" "$TMPD/dc/${k##*/}" >/dev/null
    done
    $FIND "$NEEDLE" "$TMPD/ctlc.json" "$TMPD/ctls.json" "$TMPD/dc" >"$OUT" 2>"$ERR"
    check "control: the plain backup's records decode to the text ($(tail -n 1 "$OUT"))" \
        test "$(tail -n 1 "$OUT")" != "hits 0" -a -n "$(tail -n 1 "$OUT")"
else
    not_ok "control: a plain backup under another prefix: $(head -c 200 "$ERR")"
fi

# ---------------------------------------------------------------- 3. no key
DST=rbd/$(img encnk)
nokey restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" >"$OUT" 2>"$ERR"
expect_eq "$?" 12 "restore without a key: exit 12"
expect_eq "$(wc -l <"$ERR")" 1 "one line: $(head -c 200 "$ERR")"
check "no image written" test -z "$(rbd_dst ls rbd | grep -F -- "$(img encnk)")"
nokey restore "$SRC" --to-file "$TMPD/nk.raw" >"$OUT" 2>"$ERR"
expect_eq "$?" 12 "restore --to-file without a key: exit 12"
check "no file written" test ! -e "$TMPD/nk.raw"
nokey export-diff "$SRC" "$TMPD/nk.diff" >"$OUT" 2>"$ERR"
expect_eq "$?" 12 "export-diff without a key: exit 12"
nokey verify "$SRC" --deep >"$OUT" 2>"$ERR"
expect_eq "$?" 12 "verify --deep without a key: exit 12"
require "another key file" rb key create "$TMPD/other.key"
DST=rbd/$(img encwk)
nokey --key-file "$TMPD/other.key" restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" \
    >"$OUT" 2>"$ERR"
expect_eq "$?" 12 "restore with another key: exit 12"
expect_eq "$(wc -l <"$ERR")" 1 "one line: $(head -c 200 "$ERR")"
check "no image written" test -z "$(rbd_dst ls rbd | grep -F -- "$(img encwk)")"
nokey --key-file "$TMPD/other.key" export-diff "$SRC" - >"$TMPD/wk.diff" 2>"$ERR"
expect_eq "$?" 12 "export-diff to stdout with another key: exit 12"
check "nothing written to stdout" test ! -s "$TMPD/wk.diff"

# ---------------------------------------------------------------- 4. tampering
N=0
# tampered AT WHAT...: restore AT into a new image and into a file (both exit 8 and
# nothing left), verify --deep of the image (exit 8, WHAT named)
tampered() {
    local at=$1 what=$2 dst rc
    N=$((N + 1))
    dst=$(img "enct$N")
    rb restore "$SRC@$at" "rbd/$dst" --dest-ceph-conf "$DST_CEPH_CONF" >"$OUT" 2>"$ERR"
    rc=$?
    expect_eq "$rc" 8 "$3: restore exits 8 ($(tail -n 1 "$ERR" | head -c 200))"
    check "$3: the restore names $what" grep -qF -- "$what" "$ERR"
    [ -z "${4:-}" ] || check "$3: the restore says '$4'" grep -qF -- "$4" "$ERR"
    check "$3: no image left" test -z "$(rbd_dst ls rbd | grep -F -- "$dst")"
    rb restore "$SRC@$at" --to-file "$TMPD/t$N.raw" >"$OUT" 2>"$ERR"
    expect_eq "$?" 8 "$3: restore --to-file exits 8"
    check "$3: no file left" test -z "$(find "$TMPD" -maxdepth 1 -name "t$N.raw*")"
    rb restore "$SRC@$at" --to-file - >"$TMPD/t$N.out" 2>"$ERR"
    expect_eq "$?" 8 "$3: restore to stdout exits 8"
    rb verify "$SRC" --deep >"$OUT" 2>"$ERR"
    expect_eq "$?" 8 "$3: verify --deep exits 8"
    check "$3: verify --deep reports $what" grep -qF -- "$what" "$OUT"
}
put_back() { s3api put-object --bucket "$BUCKET" --key "$1" --body "$2" >/dev/null; }
get() { s3api get-object --bucket "$BUCKET" --key "$1" "$2" >/dev/null; }

rb --format json show "$SRC@$ID3" >"$TMPD/show3.json"
rb --format json show "$SRC@$ID3" --chunks >"$TMPD/chunks3.json"
D3=$(jq -r '.data_objects[0].key' "$TMPD/show3.json")
POFF=$(jq '[.chunks[] | select(.kind != "zero" and .pack == 0)][0].pack_offset' \
    "$TMPD/chunks3.json")
require "the newest backup has a sealed record in $D3 (at $POFF)" test -n "$POFF" -a "$POFF" != null
require "download $D3" get "$D3" "$TMPD/d3.orig"
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[int(sys.argv[3])] ^= 1
open(sys.argv[2], "wb").write(d)' "$TMPD/d3.orig" "$TMPD/d3.bad" "$((POFF + 100))"
require "upload $D3 with a flipped byte" put_back "$D3" "$TMPD/d3.bad"
tampered "$ID3" "$D3" "flipped byte in a data object" "does not open"
require "put it back" put_back "$D3" "$TMPD/d3.orig"

I3=$(jq -r '.index.key' "$TMPD/show3.json")
require "download $I3" get "$I3" "$TMPD/i3.orig"
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 2] ^= 1
open(sys.argv[2], "wb").write(d)' "$TMPD/i3.orig" "$TMPD/i3.bad"
require "upload the index with a flipped byte" put_back "$I3" "$TMPD/i3.bad"
tampered "$ID3" "$I3" "flipped byte in the index"
require "put it back" put_back "$I3" "$TMPD/i3.orig"

# two sealed records of the full of equal stored length in its data object, swapped
D1=$(jq -r '.data_objects[0].key' "$TMPD/show1.json")
read -r A B L < <(jq -r '[.chunks[] | select(.kind != "zero" and .pack == 0)]
    | group_by(.stored) | map(select(length > 1))[0] | "\(.[0].pack_offset) \(.[1].pack_offset)
    \(.[0].stored)"' "$TMPD/chunks1.json" | tr '\n' ' ')
require "two records of $L stored bytes at $A and $B in $D1" test -n "$L" -a "$L" != null
require "download $D1" get "$D1" "$TMPD/d1.orig"
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); a, b, n = map(int, sys.argv[3:6])
d[a:a + n], d[b:b + n] = d[b:b + n], d[a:a + n]
open(sys.argv[2], "wb").write(d)' "$TMPD/d1.orig" "$TMPD/d1.swap" "$A" "$B" "$L"
check "the swap keeps the object's size" test "$(stat -c %s "$TMPD/d1.swap")" = \
    "$(stat -c %s "$TMPD/d1.orig")"
require "upload the object with two chunks swapped" put_back "$D1" "$TMPD/d1.swap"
tampered "$ID1" "$D1" "two sealed chunks swapped in one data object" "does not open"
require "put it back" put_back "$D1" "$TMPD/d1.orig"

rb --format json show "$SRC@$ID2" >"$TMPD/show2.json"
D2=$(jq -r '.data_objects[0].key' "$TMPD/show2.json")
require "download $D2 (the middle backup's data object)" get "$D2" "$TMPD/d2.orig"
require "replace $D3 by it" put_back "$D3" "$TMPD/d2.orig"
tampered "$ID3" "$D3" "a data object replaced by the same-named one of another backup"
require "put it back" put_back "$D3" "$TMPD/d3.orig"

# the index of another image: the same writes (so the same record count), another image
ONAME=$(img enco)
require "another image, written alike" create_image "rbd/$ONAME" 32M
require "the same ops" write_ops "rbd/$ONAME" t:0:1M w:2M:6M
if do_backup "rbd/$ONAME"; then ok "its full backup ($BK_ID)"; else not_ok "its full"; fi
rb --format json show "rbd/$ONAME@$BK_ID" >"$TMPD/showo.json"
expect_eq "$(jq .index.records "$TMPD/showo.json")" "$(jq .index.records "$TMPD/show1.json")" \
    "its index has as many records as the full's"
I1=$(jq -r '.index.key' "$TMPD/show1.json")
require "download $I1" get "$I1" "$TMPD/i1.orig"
require "download the other image's index" get "$(jq -r .index.key "$TMPD/showo.json")" \
    "$TMPD/io.orig"
require "replace $I1 by it" put_back "$I1" "$TMPD/io.orig"
tampered "$ID1" "$I1" "the index of another image"
require "put it back" put_back "$I1" "$TMPD/i1.orig"

M3=$(key_prefix "$SRC" "$ID3")manifest.json
require "download $M3" get "$M3" "$TMPD/m3.orig"
require "a manifest with one field changed and its checksum recomputed" \
    $EDIT "$TMPD/m3.orig" "$TMPD/m3.bad" --set "snapshot.name=\"rbd2s3-$ID2\"" --resign
require "upload it" put_back "$M3" "$TMPD/m3.bad"
tampered "$ID3" "$ID3" "a manifest byte changed, checksum recomputed"
require "put it back" put_back "$M3" "$TMPD/m3.orig"
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); i = d.index(b"\"mac\"") + 12
d[i] = ord("0") if d[i] != ord("0") else ord("1")
open(sys.argv[2], "wb").write(d)' "$TMPD/m3.orig" "$TMPD/m3.flip"
require "upload the manifest with one byte of its MAC changed" put_back "$M3" "$TMPD/m3.flip"
tampered "$ID3" "$ID3" "a flipped byte in the manifest"
require "put it back" put_back "$M3" "$TMPD/m3.orig"

# the newest manifest replaced by an older manifest of the same image: as it is (another
# backup's id in this folder), and made to fit the folder (id and keys rewritten, the
# checksum recomputed: only the MAC, over the id, and the sealed index still tell)
M2=$(key_prefix "$SRC" "$ID2")manifest.json
require "download $M2" get "$M2" "$TMPD/m2.orig"
require "replace $M3 by the older $M2" put_back "$M3" "$TMPD/m2.orig"
tampered "$ID3" "$ID3" "the newest manifest replaced by an older one"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); old, new = sys.argv[3], sys.argv[4]
d["id"] = new
for o in d["data_objects"] + [d["index"]]:
    o["key"] = o["key"].replace("/" + old + "/", "/" + new + "/")
json.dump(d, open(sys.argv[2], "w"))' "$TMPD/m2.orig" "$TMPD/m2.fit" "$ID2" "$ID3"
require "the older manifest made to fit the newest folder, re-checksummed" \
    $EDIT "$TMPD/m2.fit" "$TMPD/m2.fit2" --resign
require "upload it" put_back "$M3" "$TMPD/m2.fit2"
tampered "$ID3" "$ID3" "the newest manifest replaced by an older one fitted to its folder"
require "put it back" put_back "$M3" "$TMPD/m3.orig"

rb verify "$SRC" --deep >"$OUT" 2>"$ERR"
expect_eq "$?" 0 "everything put back: verify --deep passes again"

done_testing
