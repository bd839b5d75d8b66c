#!/usr/bin/env bash
# chunk digests: one chain of a full written with `--chunk-digest sha256`, an incremental
# with the default (XXH3-128) and one with `chunk digest = sha256` from a config file.
# `show --chunks` names every data chunk's digest in the backup's kind; for chunks stored
# raw the digest equals what `xxhsum -H2` or `sha256sum` compute over the bytes fetched
# with the aws CLI; every point of the mixed chain restores (merged, and the end with
# --replay) equal to the source; a bad value is refused with one line and exit 2.
# (A damaged chunk with the default digest is caught by test_verify.sh.)
. "$(dirname "$0")/../lib.sh"

NAME=$(img digest)
SRC=rbd/$NAME
DST=rbd/$(img digest-dr)

require "create a 24 MiB source image" create_image "$SRC" 24M
require "write random and text data" write_ops "$SRC" w:0:3M t:4M:2M w:8M:1M

if do_backup "$SRC" --chunk-digest sha256; then ok "full, --chunk-digest sha256 ($BK_ID)"
else not_ok "full, --chunk-digest sha256"; done_testing; fi
ID1=$BK_ID
SUM1=$(img_sum "$SRC@rbd2s3-$ID1")

require "rewrite random and text data, discard 1M" write_ops "$SRC" w:1M:1M t:12M:1M z:8M:1M
if do_backup "$SRC"; then ok "incremental, default digest ($BK_ID)"
else not_ok "incremental, default digest"; done_testing; fi
ID2=$BK_ID
SUM2=$(img_sum "$SRC@rbd2s3-$ID2")

printf '[global]\nchunk digest = sha256\n' >"$TMPD/digest.conf"
require "write random data at 16M" write_ops "$SRC" w:16M:2M
SAVED_ARGS=("${RB_ARGS[@]}")
RB_ARGS=(-c "$TMPD/digest.conf" "${RB_ARGS[@]}")
if do_backup "$SRC"; then ok "incremental, config chunk digest = sha256"
else not_ok "incremental, config chunk digest = sha256"; done_testing; fi
RB_ARGS=("${SAVED_ARGS[@]}")
ID3=$BK_ID
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")
expect_eq "$(jq -r .parent "$BK_JSON")" "$ID2" "one chain: the third backup's parent is the second"

# kinds_of ID: the digest kinds of ID's data chunks, e.g. "sha256"
kinds_of() {
    jq -r '[.chunks[] | select(.kind != "zero") | .digest | split(":")[0]] | unique | join(",")' \
        "$TMPD/show.$1.json"
}

# independent ID: the first raw chunk of ID fetched by the aws CLI, digested by the
# digest's own command line tool; prints "<kind>:<hex>" or nothing
independent() {
    local j=$TMPD/show.$1.json c pack off len key kind
    c=$(jq -c '[.chunks[] | select(.kind == "raw")][0]' "$j")
    [ "$c" != null ] || return 1
    pack=$(jq -r .pack <<<"$c"); off=$(jq -r .pack_offset <<<"$c"); len=$(jq -r .stored <<<"$c")
    kind=$(jq -r '.digest | split(":")[0]' <<<"$c")
    key=$(jq -r ".data_objects[$pack].key" "$j")
    s3api get-object --bucket "$BUCKET" --key "$key" --range "bytes=$off-$((off + len - 1))" \
        "$TMPD/chunk.$1" >/dev/null || return 1
    [ "$(stat -c %s "$TMPD/chunk.$1")" = "$len" ] || return 1
    case $kind in
        xxh3-128) echo "$kind:$(xxhsum -H2 <"$TMPD/chunk.$1" | cut -d' ' -f1)" ;;
        sha256) echo "$kind:$(sha256sum <"$TMPD/chunk.$1" | cut -d' ' -f1)" ;;
    esac
}

for pair in "$ID1 sha256" "$ID2 xxh3-128" "$ID3 sha256"; do
    set -- $pair
    if ! rb --format json show "$SRC@$1" --chunks >"$TMPD/show.$1.json" 2>"$TMPD/show.err"; then
        not_ok "show $1 --chunks"
        continue
    fi
    expect_eq "$(kinds_of "$1")" "$2" "$1: every data chunk has a $2 digest"
    want=$(jq -r '[.chunks[] | select(.kind == "raw")][0].digest' "$TMPD/show.$1.json")
    expect_eq "$(independent "$1")" "$want" "$1: a raw chunk's digest matches its bytes ($2 CLI)"
done
check "zero chunks carry no digest" jq -e '[.chunks[] | select(.kind == "zero") | has("digest")]
    | length > 0 and all(. == false)' "$TMPD/show.$ID2.json"

i=0
for pair in "$ID1 $SUM1" "$ID2 $SUM2" "$ID3 $SUM3"; do
    set -- $pair
    i=$((i + 1))
    rbd_dst snap purge "$DST" >/dev/null 2>&1
    rbd_dst rm "$DST" >/dev/null 2>&1
    if check "restore point $i ($1) into the destination" \
            rb restore "$SRC@$1" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$2" "restored point $i equals the source"
    fi
done
rbd_dst snap purge "$DST" >/dev/null 2>&1
rbd_dst rm "$DST" >/dev/null 2>&1
if check "restore --replay of the mixed chain" \
        rb restore "$SRC@$ID3" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" --replay; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "--replay result equals the source"
fi
rb restore "$SRC@$ID3" --to-file "$TMPD/end.raw" >/dev/null 2>&1
expect_eq "$(file_sum "$TMPD/end.raw")" "$SUM3" "restore --to-file of the mixed chain"

rb backup "$SRC" --chunk-digest md5 >"$TMPD/bad.out" 2>"$TMPD/bad.err"
expect_eq "$?" 2 "--chunk-digest md5: exit code 2"
expect_eq "$(wc -l <"$TMPD/bad.err")" 1 "--chunk-digest md5: one stderr line"
check "--chunk-digest md5: the line names the choices" grep -q "xxh3 or sha256" "$TMPD/bad.err"

done_testing
