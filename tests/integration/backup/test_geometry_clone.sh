#!/usr/bin/env bash
# Geometry and clones: images with 1 MiB and 8 MiB objects, an image in a namespace,
# and a clone (in another pool) of a protected snapshot, each backed up in full and
# restored into the destination cluster: same bytes, same object order and features.
. "$(dirname "$0")/../lib.sh"

# backup_restore_compare SRC DSTNAME LABEL
backup_restore_compare() {
    local src=$1 dst=rbd/$2 label=$3 sum
    if do_backup "$src" --full; then
        ok "$label: full backup ($BK_ID)"
    else
        not_ok "$label: full backup"
        return 1
    fi
    expect_eq "$BK_TYPE" full "$label: backup type is full"
    sum=$(img_sum "$src@rbd2s3-$BK_ID")
    check "$label: restore into destination" \
        rb restore "$src@$BK_ID" "$dst" --dest-ceph-conf "$DST_CEPH_CONF" || return 1
    expect_eq "$(img_sum "$dst" "$DST_CEPH_CONF")" "$sum" "$label: restored image equals the source snapshot"
    expect_eq "$(img_field "$dst" order "$DST_CEPH_CONF")" "$(img_field "$src" order)" \
        "$label: object order matches"
    expect_eq "$(img_field "$dst" size "$DST_CEPH_CONF")" "$(img_field "$src" size)" \
        "$label: size matches"
    expect_eq "$(img_field "$dst" 'features | sort | join(",")' "$DST_CEPH_CONF")" \
        "$(img_field "$src" 'features | sort | join(",")')" "$label: features match"
}

# --- 1 MiB objects
S1=rbd/$(img geo1m)
require "create image with 1 MiB objects" create_image "$S1" 40M --object-size 1M
expect_eq "$(img_field "$S1" order)" 20 "source order is 20"
require "write data" write_random "$S1" 3M 5M
require "random writes" rand_writes "$S1" 10 100K
backup_restore_compare "$S1" "$(img geo1m-r)" "1M objects"

# --- 8 MiB objects
S8=rbd/$(img geo8m)
require "create image with 8 MiB objects" create_image "$S8" 72M --object-size 8M
expect_eq "$(img_field "$S8" order)" 23 "source order is 23"
require "write data" write_random "$S8" 0 9M
require "write data at the tail" write_random "$S8" 70M 2M
require "random writes" rand_writes "$S8" 10 64K
backup_restore_compare "$S8" "$(img geo8m-r)" "8M objects"

# --- an image in a namespace (rbd/ns1)
SN=rbd/ns1/$(img ns)
require "create image in namespace rbd/ns1" create_image "$SN" 16M
require "write data" write_random "$SN" 1M 3M
backup_restore_compare "$SN" "$(img ns-r)" "namespace image"
if [ -n "${BK_ID:-}" ]; then
    check "namespace backup listed under $PREFIX/rbd/ns1/" \
        grep -q "^$PREFIX/rbd/ns1/$(img ns)/$BK_ID/manifest.json\$" <(bucket_keys "$PREFIX/rbd/ns1/")
fi

# --- a clone of a protected snapshot, in another pool, with writes of its own
P=rbd/$(img parent)
C=rbd2/$(img child)
require "create parent image" create_image "$P" 32M
require "write parent data" write_random "$P" 0 32M
require "snapshot the parent" rbd_src snap create "$P@base"
require "protect the parent snapshot" rbd_src snap protect "$P@base"
require "clone parent@base to $C" rbd_src clone "$P@base" "$C"
require "write into the clone" rand_writes "$C" 12 256K
require "write more into the clone" write_random "$C" 8M 2M
backup_restore_compare "$C" "$(img clone-r)" "clone"
check "restored clone is a flat image (no parent)" \
    test "$(img_field "rbd/$(img clone-r)" 'parent // "none"' "$DST_CEPH_CONF")" = none

done_testing
