#!/usr/bin/env bash
# verify: a full and two incrementals pass every level (default, --deep, --source); a
# chunk overwritten in the middle backup (same size) passes the default level but fails
# --deep for the middle and the newest backup (and a restore of the newest, which leaves
# nothing behind); a deleted data object of the full damages all three; a forged index of
# the full (same length, decodes) fails `show --chunks` and --deep; a manifest that
# does not verify and a deleted manifest break the newest backup's chain; bad input.
. "$(dirname "$0")/../lib.sh"

NAME=$(img verify)
SRC=rbd/$NAME

require "create a 32 MiB source image" create_image "$SRC" 32M
require "write 8 MiB" write_random "$SRC" 0 8M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
require "write 4 MiB at 8M" write_random "$SRC" 8M 4M
if do_backup "$SRC"; then ok "incremental 1 ($BK_ID)"; else not_ok "incremental 1"; done_testing; fi
ID2=$BK_ID
require "write 2 MiB at 16M" write_random "$SRC" 16M 2M
if do_backup "$SRC"; then ok "incremental 2 ($BK_ID)"; else not_ok "incremental 2"; done_testing; fi
ID3=$BK_ID
expect_eq "$BK_PARENT" "$ID2" "the newest backup's parent is the middle one"

OUT=$TMPD/verify.out
ERR=$TMPD/verify.err

# vrun ARGS...: rb ARGS > OUT 2> ERR; sets VRC
vrun() {
    rb "$@" >"$OUT" 2>"$ERR" </dev/null
    VRC=$?
}

# line ID: the output line of backup ID
line() { grep -F -- "$SRC@$1: " "$OUT"; }

show_out() { sed 's/^/#   out: /' "$OUT"; sed 's/^/#   err: /' "$ERR"; }

expect_code() { # WANT DESC
    if [ "$VRC" = "$1" ]; then
        ok "$2: exit code $1"
    else
        not_ok "$2: exit code $1 (got $VRC)"
        show_out
    fi
}

expect_line() { # ID REGEX DESC
    local l
    l=$(line "$1")
    if printf '%s\n' "$l" | grep -qE -- "$2"; then
        ok "$3"
    else
        not_ok "$3"
        diag "line of $1: '$l'" "expected to match: $2"
        show_out
    fi
}

all_ok() { # DESC: the three backups say ok
    local id
    for id in "$ID1" "$ID2" "$ID3"; do
        expect_line "$id" ": ok(;|$)" "$1: $id ok"
    done
}

# ---------------------------------------------------------------- 1. intact chain
vrun verify
expect_code 0 "verify (whole bucket)"
all_ok "verify"
vrun verify "$SRC"
expect_code 0 "verify $SRC"
all_ok "verify $SRC"
expect_eq "$(wc -l <"$OUT")" 3 "verify $SRC prints one line per backup"
vrun verify "$SRC@$ID2"
expect_code 0 "verify $SRC@$ID2"
expect_eq "$(cut -d: -f1 "$OUT" | tr '\n' ' ')" "$SRC@$ID1 $SRC@$ID2 " \
    "verify POOL/IMAGE@BACKUP covers that backup and its chain"
vrun verify "$SRC" --deep
expect_code 0 "verify --deep"
all_ok "verify --deep"
vrun verify "$SRC" --source
expect_code 0 "verify --source"
all_ok "verify --source"
expect_line "$ID3" "ok; source: identical" "verify --source compared the newest backup"
expect_line "$ID1" "ok; source: skipped \(snapshot gone\)" \
    "verify --source skips a backup whose snapshot is gone"
vrun --format json verify "$SRC" --deep --source
expect_code 0 "verify --format json --deep --source"
check "JSON: 3 backups, none damaged, the newest identical" jq -e \
    '.checked == 3 and .damaged == 0 and ([.backups[].status] == ["ok","ok","ok"])
     and .backups[2].source == "identical"' "$OUT"

# ---------------------------------------------------------------- 2. a chunk overwritten
rb --format json show "$SRC@$ID2" --chunks >"$TMPD/show2.json" 2>"$ERR"
PACK=$(jq -r '[.chunks[] | select(.kind != "zero")][-1].pack' "$TMPD/show2.json")
POFF=$(jq -r '[.chunks[] | select(.kind != "zero")][-1].pack_offset' "$TMPD/show2.json")
PLEN=$(jq -r '[.chunks[] | select(.kind != "zero")][-1].stored' "$TMPD/show2.json")
KEY2=$(jq -r ".data_objects[$PACK].key" "$TMPD/show2.json")
require "middle backup has a data chunk ($KEY2 offset $POFF, $PLEN bytes)" \
    test -n "$KEY2" -a "$KEY2" != null -a "$PLEN" -gt 64 -a "$POFF" -gt 0
require "download $KEY2" s3api get-object --bucket "$BUCKET" --key "$KEY2" "$TMPD/obj2.orig"
python3 - "$TMPD/obj2.orig" "$TMPD/obj2.bad" "$((POFF + PLEN / 2))" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = int(sys.argv[3])
for i in range(at, at + 16):
    data[i] ^= 0xA5
open(sys.argv[2], "wb").write(data)
EOF
check "flipped 16 bytes, same size" test "$(stat -c %s "$TMPD/obj2.orig")" = \
    "$(stat -c %s "$TMPD/obj2.bad")"
require "upload the damaged object" s3api put-object --bucket "$BUCKET" --key "$KEY2" \
    --body "$TMPD/obj2.bad"

vrun verify "$SRC"
expect_code 0 "damaged chunk, same size: plain verify"
all_ok "damaged chunk: plain verify"
vrun verify "$SRC" --deep
expect_code 8 "damaged chunk: verify --deep"
expect_line "$ID1" ": ok$" "verify --deep: the full is ok"
expect_line "$ID2" "DAMAGED: .*$KEY2 offset $POFF: checksum mismatch" \
    "verify --deep: the middle backup is damaged, naming the object and offset"
expect_line "$ID3" "DAMAGED: chain uses damaged backup $ID2" \
    "verify --deep: the newest backup's chain uses the middle one"
check "verify --deep: one error line on stderr" test "$(wc -l <"$ERR")" = 1
vrun verify "$SRC@$ID3" --deep
expect_code 8 "damaged chunk: verify POOL/IMAGE@newest --deep"
vrun --format json verify "$SRC" --deep
expect_code 8 "damaged chunk: verify --format json --deep"
check "JSON: middle and newest damaged, the full ok" jq -e \
    '.damaged == 2 and ([.backups[].status] == ["ok","damaged","damaged"])' "$OUT"

DST=rbd/$(img verify-dr)
rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" >"$OUT" 2>"$ERR" </dev/null
VRC=$?
expect_code 8 "restore of the newest point with a damaged chunk"
check "restore names the object: $(tail -n 1 "$ERR" | head -c 200)" grep -qF -- "$KEY2" "$ERR"
check "restore leaves no image on the destination" \
    test -z "$(rbd_dst ls rbd | grep -F -- "$(img verify-dr)")"

# ---------------------------------------------------------------- 5. --source
vrun verify "$SRC" --source
expect_code 8 "damaged chunk: verify --source"
expect_line "$ID3" "DAMAGED: .*$KEY2" "verify --source: the newest backup fails, naming the object"
expect_line "$ID1" "ok; source: skipped" "verify --source: the full is skipped (snapshot gone)"
require "put the original object back" s3api put-object --bucket "$BUCKET" --key "$KEY2" \
    --body "$TMPD/obj2.orig"
vrun verify "$SRC" --deep --source
expect_code 0 "object repaired: verify --deep --source"

# ---------------------------------------------------------------- 3. a data object deleted
KEY1=$(rb --format json show "$SRC@$ID1" | jq -r '.data_objects[0].key')
require "download $KEY1" s3api get-object --bucket "$BUCKET" --key "$KEY1" "$TMPD/obj1.orig"
require "delete $KEY1" s3api delete-object --bucket "$BUCKET" --key "$KEY1"
vrun verify
expect_code 8 "data object of the full deleted: verify"
expect_line "$ID1" "DAMAGED: .*$KEY1 is missing" "verify: the full is damaged, naming the object"
expect_line "$ID2" "DAMAGED: chain uses damaged backup $ID1" "verify: the middle backup is damaged"
expect_line "$ID3" "DAMAGED: chain uses damaged backup $ID1" "verify: the newest backup is damaged"
require "put the object back" s3api put-object --bucket "$BUCKET" --key "$KEY1" \
    --body "$TMPD/obj1.orig"

# ---------------------------------------------------------------- 3b. an index forged
# The full's index with one digest byte of a data record changed, encoded as the agent
# encodes it and at the same length (forge_index.py): it decodes, but it is not the
# index whose SHA-256 the manifest holds.
IKEY1=$(rb --format json show "$SRC@$ID1" | jq -r '.index.key')
require "download $IKEY1" s3api get-object --bucket "$BUCKET" --key "$IKEY1" "$TMPD/idx1.orig"
rb --format json show "$SRC@$ID1" --chunks >"$TMPD/show1.json" 2>"$ERR"
jq '[.chunks | to_entries[] | select(.value.kind != "zero") | .key] | reverse | .[]' \
    "$TMPD/show1.json" >"$TMPD/data-records"
require "the full has data records ($(wc -l <"$TMPD/data-records"))" test -s "$TMPD/data-records"
lz4 -dcq "$TMPD/idx1.orig" >"$TMPD/idx1.raw"
python3 "$(dirname "$0")/forge_index.py" "$TMPD/idx1.orig" "$TMPD/idx1.raw" \
    "$TMPD/data-records" "$TMPD/idx1.forged.raw" "$TMPD/idx1.forged" 2>"$ERR"
OSIZE=$(stat -c %s "$TMPD/idx1.orig")
require "a forged index that decodes, $OSIZE bytes like the original$(head -c 200 "$ERR")" \
    test "$(stat -c %s "$TMPD/idx1.forged")" = "$OSIZE" -a \
    "$(lz4 -dcq "$TMPD/idx1.forged" | sha256sum)" = "$(sha256sum <"$TMPD/idx1.forged.raw")"
require "upload the forged index" s3api put-object --bucket "$BUCKET" --key "$IKEY1" \
    --body "$TMPD/idx1.forged"
vrun --format json show "$SRC@$ID1" --chunks
expect_code 8 "forged index: show --chunks"
check "show --chunks prints no records" test ! -s "$OUT"
check "show --chunks names the index: $(head -c 200 "$ERR")" \
    grep -qF -- "$IKEY1: checksum mismatch" "$ERR"
vrun show "$SRC@$ID1" --chunks
expect_code 8 "forged index: show --chunks (text)"
check "show --chunks (text) prints no records" test ! -s "$OUT"
vrun verify "$SRC" --deep
expect_code 8 "forged index: verify --deep"
expect_line "$ID1" "DAMAGED: .*$IKEY1: checksum mismatch" "verify --deep names the forged index"
require "put the index back" s3api put-object --bucket "$BUCKET" --key "$IKEY1" \
    --body "$TMPD/idx1.orig"

# ---------------------------------------------------------------- 4. manifests
MKEY2=$(key_prefix "$SRC" "$ID2")manifest.json
require "download $MKEY2" s3api get-object --bucket "$BUCKET" --key "$MKEY2" "$TMPD/m2.json"
sed 's/"incremental"/"incrementaL"/' "$TMPD/m2.json" >"$TMPD/m2.bad"
require "upload a manifest that fails its checksum" s3api put-object --bucket "$BUCKET" \
    --key "$MKEY2" --body "$TMPD/m2.bad"
vrun verify "$SRC"
expect_code 8 "manifest fails its checksum: verify"
expect_line "$ID2" "DAMAGED: manifest $MKEY2" "verify names the manifest that does not verify"
expect_line "$ID3" "DAMAGED: chain incomplete: parent backup $ID2" \
    "verify: the newest backup's chain is incomplete"
expect_line "$ID1" ": ok$" "verify: the full is ok"

require "delete the middle manifest" s3api delete-object --bucket "$BUCKET" --key "$MKEY2"
vrun verify "$SRC"
expect_code 8 "middle manifest deleted: verify"
expect_line "$ID3" "DAMAGED: chain incomplete: parent backup $ID2 of $ID3 is missing" \
    "verify: the newest backup's chain is incomplete"
expect_line "$ID1" ": ok$" "verify: the full is ok"
vrun verify "$SRC@$ID3"
expect_code 8 "middle manifest deleted: verify POOL/IMAGE@newest"

# ---------------------------------------------------------------- bad input
vrun verify "nosuchpool/$(img nothing)"
expect_code 3 "verify of an image without backups"
expect_eq "$(wc -l <"$ERR")" 1 "verify of an image without backups: one stderr line"
vrun verify "$SRC" --bogus
expect_code 2 "verify with an unknown option"
vrun verify "$SRC" "$SRC"
expect_code 2 "verify with two images"
vrun verify "$SRC@nosuchbackup"
expect_code 3 "verify of a backup that does not exist"

done_testing
