#!/usr/bin/env bash
# A backup whose chunk index is streamed (agent/repo/idxstream.c): an export-diff stream
# of IDX_RECORDS (default 300000) writes of 16 random bytes, one index record each,
# imported with 5 MiB parts makes an index of several MiB that must be a multipart object
# (ETag "-N", one part per 5 MiB: a whole index uploaded at once has a plain ETag, so the
# binary of before fails here); an incremental on it, and the chain restores byte for byte
# to the images the streams describe (computed independently here); verify passes.
. "$(dirname "$0")/../lib.sh"

N=${IDX_RECORDS:-300000}
D=$TMPD
IMP=rbd/$(img idxs)
MiB=1048576

# full.v1: N adjacent 16-byte writes from 0 in a 2*16*N-byte image; inc.v1 from s1:
# every 1000th write again and a zeroed range; prints the SHA-256 of both images.
python3 - "$N" "$D/full.v1" "$D/inc.v1" >"$D/sums" <<'PY' || bail "cannot make the streams"
import hashlib, os, struct, sys
n = int(sys.argv[1]); size = 32 * n
img = bytearray(size)
def stream(path, frm, to, recs):
    with open(path, "wb") as f:
        f.write(b"rbd diff v1\n")
        if frm:
            f.write(b"f" + struct.pack("<I", len(frm)) + frm.encode())
        f.write(b"t" + struct.pack("<I", len(to)) + to.encode())
        f.write(b"s" + struct.pack("<Q", size))
        for kind, off, data in recs:
            if kind == "w":
                f.write(b"w" + struct.pack("<QQ", off, len(data)) + data)
                img[off:off + len(data)] = data
            else:
                f.write(b"z" + struct.pack("<QQ", off, data))
                img[off:off + data] = bytes(data)
        f.write(b"e")
    print(hashlib.sha256(img).hexdigest())
stream(sys.argv[2], None, "s1", [("w", 16 * i, os.urandom(16)) for i in range(n)])
inc = [("w", 16 * i, os.urandom(16)) for i in range(0, n // 2, 1000)]
inc.append(("z", 16 * (n // 2), 16 * 1000))
inc += [("w", 16 * i, os.urandom(16)) for i in range(n // 2 + 1000, n, 1000)]
stream(sys.argv[3], "s1", "s2", inc)
PY
SUM1=$(sed -n 1p "$D/sums") SUM2=$(sed -n 2p "$D/sums")

rb --format json --part-size 5M import-diff "$D/full.v1" "$IMP" >"$D/i1.json" 2>"$D/i1.err"
expect_eq "$?:$(jq -r .type "$D/i1.json" 2>/dev/null)" "0:full" \
    "import-diff of $N writes: a full backup"
ID1=$(jq -r .id "$D/i1.json" 2>/dev/null)
MAN=$(key_prefix "$IMP" "$ID1")manifest.json
s3api get-object --bucket "$BUCKET" --key "$MAN" "$D/man.json" >/dev/null 2>&1 ||
    bail "cannot read $MAN"
IDX=$(jq -r .index.key "$D/man.json") ISIZE=$(jq -r .index.size "$D/man.json")
expect_eq "$(jq -r .index.records "$D/man.json")" "$N" "the manifest declares $N records"
check "the index is larger than one 5 MiB part ($ISIZE bytes)" test "$ISIZE" -gt $((5 * MiB))
s3api head-object --bucket "$BUCKET" --key "$IDX" >"$D/head.json" 2>"$D/head.err" ||
    bail "head-object $IDX: $(tail -1 "$D/head.err")"
ETAG=$(jq -r .ETag "$D/head.json" | tr -d '"')
PARTS=$(((ISIZE + 5 * MiB - 1) / (5 * MiB)))
expect_eq "${ETAG##*-}" "$PARTS" \
    "the index went up as a multipart upload of $PARTS parts (ETag $ETAG)"
expect_eq "$(jq -r .ContentLength "$D/head.json")" "$ISIZE" \
    "... as long as the manifest says"
s3api get-object --bucket "$BUCKET" --key "$IDX" "$D/index" >/dev/null 2>&1
expect_eq "$(file_sum "$D/index")" "$(jq -r .index.sha256 "$D/man.json")" \
    "... with the manifest's SHA-256"
expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --query 'length(Uploads || `[]`)')" \
    0 "no multipart upload left behind"

rb --format json --part-size 5M import-diff "$D/inc.v1" "$IMP" >"$D/i2.json" 2>"$D/i2.err"
expect_eq "$?:$(jq -r '.type + " " + .parent' "$D/i2.json" 2>/dev/null)" "0:incremental $ID1" \
    "import-diff of the incremental: on the full"

restore_sum() { # SPEC@AT -> sha256 of the restored raw image
    rb restore "$1" --to-file "$D/r.raw" >/dev/null 2>"$D/r.err" ||
        { echo "restore failed: $(tail -1 "$D/r.err")"; return; }
    file_sum "$D/r.raw"
    rm -f "$D/r.raw"
}
expect_eq "$(restore_sum "$IMP@s1")" "$SUM1" "restore of the full: the image of full.v1"
expect_eq "$(restore_sum "$IMP@s2")" "$SUM2" "chain restore of the incremental: byte-identical"
rb verify "$IMP" >"$D/v.out" 2>"$D/v.err"
expect_eq "$?" 0 "verify of the chain passes"

done_testing
