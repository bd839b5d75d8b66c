#!/usr/bin/env bash
# Zero runs inside chunks (--sparse-size, default 64K): aligned runs of zeros become zero
# records, so a backup hashes and stores only the granules that hold data, and a restore
# leaves the zeros unallocated. The expected bytes are computed independently from
# `rbd diff` (the extents rbd2s3 reads) and `rbd export` (their content), and the index
# (show --chunks) must hold zero records where zeros were read; restores, --replay,
# export-diff into the real `rbd import-diff` and import-diff are checked byte for byte.
. "$(dirname "$0")/../lib.sh"

NAME=$(img sparse)
SRC=rbd/$NAME
KiB=1024 MiB=1048576

# expected_data SNAP [FROM_SNAP] [SPARSE]: the bytes of the 64 KiB-aligned granules (clipped
# to the diff's extents) that hold any non-zero byte: what a backup must store as data.
expected_data() {
    local snap=$1 from=${2:-} sparse=${3:-65536}
    rbd_src diff --format json ${from:+--from-snap "$from"} "$SRC@$snap" >"$TMPD/diff.json" || return 1
    rbd_src export --no-progress "$SRC@$snap" "$TMPD/exp.raw" >/dev/null 2>&1 || return 1
    python3 - "$TMPD/diff.json" "$TMPD/exp.raw" "$sparse" <<'EOF'
import json, sys
ext, raw, g = json.load(open(sys.argv[1])), open(sys.argv[2], "rb").read(), int(sys.argv[3])
total = 0
for e in ext:
    if e["exists"] not in (True, "true"):
        continue
    pos, end = e["offset"], e["offset"] + e["length"]
    while pos < end:
        stop = min((pos // g + 1) * g, end)
        if raw[pos:stop].count(0) != stop - pos:
            total += stop - pos
        pos = stop
print(total)
EOF
    rm -f "$TMPD/exp.raw"
}

# write_zero_bytes SPEC OFF LEN: zero bytes written as data through librbd (rbd import-diff
# would skip or discard them)
write_zero_bytes() {
    /usr/bin/python3 - "$SRC_CEPH_CONF" "$1" "$2" "$3" <<'EOF'
import rados, rbd, sys
conf, spec, off, ln = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pool, name = spec.split("/")
with rados.Rados(conffile=conf) as c, c.open_ioctx(pool) as io, rbd.Image(io, name) as im:
    im.write(bytes(ln), off)
EOF
}

# obj_size SPEC OBJNO CONF: the size of a data object of the image, or "none"
obj_size() {
    local prefix out
    prefix=$(img_field "$1" block_name_prefix "$3") || return 1
    if out=$(timeout 60 rados -c "$3" -p rbd stat "$(printf '%s.%016x' "$prefix" "$2")" 2>/dev/null); then
        echo "${out##*size }"
    else
        echo none
    fi
}

require "create a 64 MiB image" create_image "$SRC" 64M
# object 0: 64 KiB random at 192K; object 2: 4 KiB at 8M+64K and at 8M+124K (one granule);
# object 4: 1 MiB of text; object 8: 1 MiB of zero bytes written as data; object 10: a
# 3000-byte write at 40M+1000 (inside the first granule of its object)
require "write random bytes and text" write_ops "$SRC" w:192K:64K w:8256K:4K w:8316K:4K \
    t:16M:1M w:41944040:3000
require "write 1 MiB of zero bytes at 32M" write_zero_bytes "$SRC" $((32 * MiB)) $MiB
require "rbd diff lists them as data" test "$(rbd_src diff --format json "$SRC" |
    jq '[.[] | select(.offset == 33554432 and .length == 1048576 and .exists == "true")] | length')" = 1

if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
WANT=$(expected_data "rbd2s3-$ID1")
diag "full: rbd diff + rbd export say $WANT bytes of data in 64 KiB granules"
require "the expected data is known and below 2 MiB" test -n "$WANT" -a "${WANT:-0}" -gt 0 -a "${WANT:-0}" -lt $((2 * MiB))
expect_eq "$(jq -r .data_bytes "$BK_JSON")" "$WANT" "the full backup holds only the granules with data"

rb --format json show "$SRC@$ID1" --chunks >"$TMPD/show1.json" 2>"$TMPD/show1.err"
check "show --chunks: a 64 KiB data record at 192K" \
    jq -e '[.chunks[] | select(.kind != "zero" and .offset == 196608 and .length == 65536)] | length == 1' "$TMPD/show1.json"
check "show --chunks: the zero bytes written at 32M are inside a zero record" \
    jq -e '[.chunks[] | select(.kind == "zero" and .offset <= 33554432 and .offset + .length >= 34603008)] | length == 1' "$TMPD/show1.json"
check "show --chunks: no data record starts before 192K" \
    jq -e '[.chunks[] | select(.kind != "zero" and .offset < 196608)] | length == 0' "$TMPD/show1.json"
STORED=$(bucket_bytes "$(key_prefix rbd "$NAME")$ID1/")
diag "full backup: $STORED bytes in the bucket"

SUM1=$(img_sum "$SRC@rbd2s3-$ID1")
DST=rbd/$(img sparse-r1)
if check "restore the full into the destination" rb restore "$SRC@$ID1" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM1" "restored image equals the source snapshot"
    # (memstore objects end at their last write, so a skipped zero granule shows only
    # where nothing follows it: object 8 holds zero bytes only)
    expect_eq "$(obj_size "$DST" 8 "$DST_CEPH_CONF")" none "object 8 (zero bytes written as data) was not written"
    expect_eq "$(obj_size "$DST" 0 "$DST_CEPH_CONF")" $((256 * KiB)) "object 0 ends with its data at 256 KiB"
    expect_eq "$(obj_size "$DST" 4 "$DST_CEPH_CONF")" "$MiB" "object 4 (1 MiB of text) was written"
fi

# An incremental: the random 64 KiB at 192K overwritten with zero bytes, 64 KiB at 512K.
# A user snapshot at the full's point stands in for the full's own snapshot, which the
# incremental removes, when the expected bytes are computed.
require "a user snapshot at the full's point" rbd_src snap create "$SRC@base"
require "write 64 KiB at 512K" write_ops "$SRC" w:512K:64K
require "overwrite the 64 KiB at 192K with zero bytes" write_zero_bytes "$SRC" $((192 * KiB)) $((64 * KiB))
if do_backup "$SRC"; then ok "incremental ($BK_ID)"; else not_ok "incremental"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE $BK_PARENT" "incremental $ID1" "second backup is an incremental on the full"
WANT2=$(expected_data "rbd2s3-$ID2" base)
expect_eq "$(jq -r .data_bytes "$BK_JSON")" "$WANT2" "the incremental holds only the granules with data ($WANT2 bytes)"
rb --format json show "$SRC@$ID2" --chunks >"$TMPD/show2.json" 2>"$TMPD/show2.err"
check "show --chunks: the zeroed 64 KiB at 192K is a zero record of the incremental" \
    jq -e '[.chunks[] | select(.kind == "zero" and .offset <= 196608 and .offset + .length >= 262144)] | length == 1' "$TMPD/show2.json"

SUM2=$(img_sum "$SRC@rbd2s3-$ID2")
DST2=rbd/$(img sparse-r2)
if check "restore the incremental (chain merged)" rb restore "$SRC@$ID2" "$DST2" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST2" "$DST_CEPH_CONF")" "$SUM2" "merged restore equals the source snapshot"
fi
DST3=rbd/$(img sparse-r3)
if check "restore --replay (the zero record overwrites the full's data)" \
        rb restore "$SRC@$ID2" "$DST3" --dest-ceph-conf "$DST_CEPH_CONF" --replay; then
    expect_eq "$(img_sum "$DST3" "$DST_CEPH_CONF")" "$SUM2" "replayed restore equals the source snapshot"
fi
if check "restore --to-file" rb restore "$SRC@$ID2" --to-file "$TMPD/r2.raw"; then
    expect_eq "$(file_sum "$TMPD/r2.raw")" "$SUM2" "restored file equals the source snapshot"
fi
rm -f "$TMPD/r2.raw"

# export-diff of the incremental alone, applied by the real rbd import-diff on the full.
DST4=rbd/$(img sparse-r4)
if check "restore the full again" rb restore "$SRC@$ID1" "$DST4" --dest-ceph-conf "$DST_CEPH_CONF" &&
   check "export-diff --from the full" rb export-diff "$SRC@$ID2" --from "$ID1" "$TMPD/inc.diff" &&
   check "rbd import-diff of it" rbd_dst import-diff --no-progress "$TMPD/inc.diff" "$DST4"; then
    expect_eq "$(img_sum "$DST4" "$DST_CEPH_CONF")" "$SUM2" "full + exported incremental equals the source snapshot"
fi

# import-diff: a real `rbd export-diff` stream stored sparsely, and restored exactly.
require "rbd export-diff of the newest snapshot" rbd_src export-diff --no-progress "$SRC@rbd2s3-$ID2" "$TMPD/full.diff"
INAME=$(img sparse-imp)
if rb --format json import-diff "$TMPD/full.diff" "rbd/$INAME" >"$TMPD/imp.json" 2>"$TMPD/imp.err"; then
    ok "import-diff of it"
    WBYTES=$(python3 -c '
import struct, sys
f = open(sys.argv[1], "rb"); f.read(12); n = 0
while True:
    t = f.read(1)
    if t in (b"", b"e"): break
    if t in (b"f", b"t"): f.read(struct.unpack("<I", f.read(4))[0]); continue
    if t == b"s": f.read(8); continue
    off, ln = struct.unpack("<QQ", f.read(16))
    if t == b"w": n += ln; f.seek(ln, 1)
print(n)' "$TMPD/full.diff")
    IDATA=$(jq -r .data_bytes "$TMPD/imp.json")
    diag "the stream's w records hold $WBYTES bytes; import-diff stored $IDATA as data"
    check "import-diff stores fewer data bytes than the stream's w records" test "$IDATA" -lt "$WBYTES"
    if check "restore the imported backup" rb restore "rbd/$INAME" --to-file "$TMPD/imp.raw"; then
        expect_eq "$(file_sum "$TMPD/imp.raw")" "$SUM2" "it equals the source snapshot"
    fi
else
    not_ok "import-diff of it: $(head -c 300 "$TMPD/imp.err")"
fi

# --sparse-size: a bad one is a usage error that creates nothing; the chunk size checks
# whole chunks, as before there was a granule (more data bytes).
SN_BEFORE=$(snap_names "$SRC" | sort | tr '\n' ' ')
rb --sparse-size 1000 backup "$SRC" >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "--sparse-size 1000: exit code 2 (usage)"
expect_eq "$(wc -l <"$TMPD/bad.err")" 1 "one line of error: $(head -c 200 "$TMPD/bad.err")"
expect_eq "$(snap_names "$SRC" | sort | tr '\n' ' ')" "$SN_BEFORE" "the bad option left the snapshots as they were"
if do_backup "$SRC" --full --sparse-size 1M; then
    WHOLE=$(expected_data "rbd2s3-$BK_ID" "" $MiB)
    expect_eq "$(jq -r .data_bytes "$BK_JSON")" "$WHOLE" "--sparse-size 1M: whole 1 MiB chunks ($WHOLE bytes)"
    check "more data bytes than at 64K granules" test "$WHOLE" -gt "$(expected_data "rbd2s3-$BK_ID")"
else
    not_ok "full backup with --sparse-size 1M"
fi

done_testing
