#!/usr/bin/env bash
# The bucket as other S3 clients see it: key layout, manifest.json contents against the
# listing, `list --format json`, and s3cmd seeing the same keys as the aws CLI.
. "$(dirname "$0")/../lib.sh"

NAME=$(img interop)
SRC=rbd/$NAME

require "create image" create_image "$SRC" 48M
require "write data" write_random "$SRC" 0 12M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
require "random writes" rand_writes "$SRC" 10 128K
if do_backup "$SRC"; then ok "incremental backup ($BK_ID)"; else not_ok "incremental backup"; done_testing; fi
ID2=$BK_ID
expect_eq "$BK_TYPE" incremental "second backup is incremental"

s3api list-objects-v2 --bucket "$BUCKET" --output json >"$TMPD/listing.json" 2>"$TMPD/listing.err"
require "list-objects-v2 works" jq -e . "$TMPD/listing.json"
jq -r '(.Contents // [])[].Key' "$TMPD/listing.json" | LC_ALL=C sort >"$TMPD/keys"
diag "bucket keys:" "$(cat "$TMPD/keys")"
size_of() { jq -r --arg k "$1" '(.Contents // [])[] | select(.Key == $k) | .Size' "$TMPD/listing.json"; }
etag_of() { jq -r --arg k "$1" '(.Contents // [])[] | select(.Key == $k) | .ETag' "$TMPD/listing.json" | tr -d '"'; }

BASE=$(key_prefix rbd "$NAME")
check "every key lies under $BASE<id>/ and is data.N, index or manifest.json" \
    bash -c "! grep -vE '^$BASE($ID1|$ID2)/(data\\.[0-9]+|index|manifest\\.json)\$' '$TMPD/keys'"

for id in "$ID1" "$ID2"; do
    P=$BASE$id/
    check "$id: manifest.json listed" grep -qx "${P}manifest.json" "$TMPD/keys"
    check "$id: index listed" grep -qx "${P}index" "$TMPD/keys"
    check "$id: at least one data.N listed" grep -qE "^${P}data\\.[0-9]+\$" "$TMPD/keys"

    M=$TMPD/manifest.$id.json
    if ! s3api get-object --bucket "$BUCKET" --key "${P}manifest.json" "$M" >/dev/null 2>"$TMPD/get.err"; then
        not_ok "$id: get-object manifest.json"
        sed 's/^/#   /' "$TMPD/get.err"
        continue
    fi
    check "$id: manifest.json is valid JSON" jq -e . "$M" || continue
    expect_eq "$(jq -r .id "$M")" "$id" "$id: manifest id"
    check "$id: manifest has a checksum" jq -e '.checksum | type == "string" and length > 0' "$M"
    check "$id: manifest has format, tool, created, chunk_size, compression" \
        jq -e 'has("format") and has("tool") and has("created") and has("chunk_size") and has("compression")' "$M"
    expect_eq "$(jq -r '.image | "\(.pool)/\(.name)"' "$M")" "$SRC" "$id: manifest names the image"
    expect_eq "$(jq -r .snapshot.name "$M")" "rbd2s3-$id" "$id: manifest names the snapshot"

    bad=""
    while IFS=$'\t' read -r key size etag; do
        [ "$(size_of "$key")" = "$size" ] || bad="$bad $key(size manifest=$size listing=$(size_of "$key"))"
        [ -z "$etag" ] || [ "$(etag_of "$key")" = "${etag//\"/}" ] \
            || bad="$bad $key(etag manifest=$etag listing=$(etag_of "$key"))"
    done < <(jq -r '.data_objects[] | [.key, .size, (.etag // "")] | @tsv' "$M")
    n_data=$(jq '.data_objects | length' "$M")
    n_listed=$(grep -cE "^${P}data\\.[0-9]+\$" "$TMPD/keys")
    if [ -z "$bad" ] && [ "$n_data" = "$n_listed" ]; then
        ok "$id: data_objects ($n_data) match the listing's keys, sizes and ETags"
    else
        not_ok "$id: data_objects match the listing ($n_data in manifest, $n_listed listed)"
        diag "mismatches:$bad"
    fi
    ikey=$(jq -r .index.key "$M")
    expect_eq "$ikey" "${P}index" "$id: index.key"
    expect_eq "$(jq -r .index.size "$M")" "$(size_of "${P}index")" "$id: index.size matches the listing"
    if s3api get-object --bucket "$BUCKET" --key "${P}index" "$TMPD/index.$id" >/dev/null 2>&1; then
        expect_eq "$(file_sum "$TMPD/index.$id")" "$(jq -r .index.sha256 "$M")" "$id: index sha256 matches"
    else
        not_ok "$id: get-object index"
    fi
done
expect_eq "$(jq -r .type "$TMPD/manifest.$ID1.json" 2>/dev/null)" full "full manifest type"
expect_eq "$(jq -r .parent "$TMPD/manifest.$ID1.json" 2>/dev/null)" null "full manifest parent is null"
expect_eq "$(jq -r .type "$TMPD/manifest.$ID2.json" 2>/dev/null)" incremental "incremental manifest type"
expect_eq "$(jq -r .parent.id "$TMPD/manifest.$ID2.json" 2>/dev/null)" "$ID1" "incremental manifest parent.id"
expect_eq "$(jq -r .parent.snapshot "$TMPD/manifest.$ID2.json" 2>/dev/null)" "rbd2s3-$ID1" \
    "incremental manifest parent.snapshot"

# list --format json
if rb --format json list >"$TMPD/list.json" 2>"$TMPD/list.err" && jq -e . "$TMPD/list.json" >/dev/null; then
    ok "list --format json parses"
    expect_eq "$(jq -r '[.backups[] | select(.name == "'"$NAME"'")] | length' "$TMPD/list.json")" 2 \
        "list has 2 backups of the image"
    expect_eq "$(jq -r '[.backups[] | "\(.id):\(.type):\(.parent)"] | join(" ")' "$TMPD/list.json")" \
        "$ID1:full:null $ID2:incremental:$ID1" "list ids, types and parents, oldest first"
    expect_eq "$(jq -r '[.backups[] | "\(.image) \(.pool) \(.snapshot)"] | join(",")' "$TMPD/list.json")" \
        "$SRC rbd rbd2s3-$ID1,$SRC rbd rbd2s3-$ID2" "list image, pool and snapshot fields"
else
    not_ok "list --format json parses"
    sed 's/^/#   /' "$TMPD/list.err"
    head -c 2000 "$TMPD/list.json" | sed 's/^/#   stdout: /'
fi

# show --format json is the manifest
if rb --format json show "$SRC@$ID2" >"$TMPD/show.json" 2>"$TMPD/show.err" && jq -e . "$TMPD/show.json" >/dev/null; then
    expect_eq "$(jq -r .id "$TMPD/show.json")" "$ID2" "show --format json prints the manifest"
else
    not_ok "show --format json"
    sed 's/^/#   /' "$TMPD/show.err"
fi

# s3cmd sees the same keys
if s3cmd_sb ls -r "s3://$BUCKET" >"$TMPD/s3cmd.out" 2>"$TMPD/s3cmd.err"; then
    awk '{ print $NF }' "$TMPD/s3cmd.out" | sed "s|^s3://$BUCKET/||" | LC_ALL=C sort >"$TMPD/keys.s3cmd"
    check "s3cmd ls -r lists the same keys as the aws CLI" diff "$TMPD/keys" "$TMPD/keys.s3cmd"
else
    not_ok "s3cmd ls -r"
    sed 's/^/#   /' "$TMPD/s3cmd.err"
fi

# restore --format json prints one JSON document naming the point and the destination
DST=rbd/$(img interop-r)
if rb --format json restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" >"$TMPD/restore.json"; then
    ok "restore --format json"
    expect_eq "$(jq -r '.id + " " + .destination + " " + (.chain | tostring)' "$TMPD/restore.json")" \
        "$ID2 $DST 2" "restore --format json: id, destination and chain length"
else
    not_ok "restore --format json"
fi

done_testing
