#!/usr/bin/env bash
# An object map flagged invalid (`rbd feature disable IMG object-map fast-diff` then
# `enable` marks the head's and every snapshot's maps invalid until `rbd object-map
# rebuild`) is not trusted: the backup walks the whole image with librbd's exact diff, says
# so on one line ("object map of POOL/IMAGE@SNAP is flagged invalid: walking the whole
# image") and in --json ("diff_walk": "full", "object_map_invalid"), and restores identical
# to `rbd export` of its snapshot. Checked: the snapshot backed up flagged (incremental and
# full), only the parent snapshot flagged (the head rebuilt), only the head flagged (a
# backup of a user snapshot whose map was rebuilt); a valid map is used again afterwards.
# The data written while the object map is off is what a stale map would miss.
. "$(dirname "$0")/../lib.sh"

NAME=$(img objmap)
SRC=rbd/$NAME
FEAT=(--image-feature layering,exclusive-lock,object-map,fast-diff)

flags() { timeout 120 rbd -c "$SRC_CEPH_CONF" info --format json "$1" | jq -c '.flags'; }

# invalidate SPEC: writes while the object map is off, then the map back, flagged invalid
invalidate() {
    rbd_src feature disable "$1" fast-diff object-map &&
        write_ops "$1" "w:$2:1M" "w:$3:64K" &&
        rbd_src feature enable "$1" object-map fast-diff
}

# backup DESC SPEC [ARGS]: do_backup in this shell (it sets BK_*); the script ends if it fails
backup() {
    local desc=$1
    shift
    if do_backup "$@"; then ok "$desc"; else not_ok "$desc"; done_testing; fi
}

# json_is FIELD WANT DESC: a field of the last backup's JSON
json_is() { expect_eq "$(jq -r ".$1 // \"null\"" "$BK_JSON")" "$2" "$3"; }

# said SNAP: the last backup's stderr has the line naming SNAP's object map
said() {
    local err=$TMPD/backup.$_BK_N.err
    if grep -qxF "rbd2s3: object map of $1 is flagged invalid: walking the whole image" "$err"
    then ok "the line names $1"
    else not_ok "the line names $1"; sed 's/^/#   /' "$err"; fi
}

# same_as_snap ID [SPEC [SNAP]]: restore of backup ID of SPEC ($SRC) equals `rbd export` of
# its snapshot SNAP (rbd2s3-ID)
same_as_snap() {
    local spec=${2:-$SRC} want got
    want=$(img_sum "$spec@${3:-rbd2s3-$1}")
    got=$(rb restore "$spec@$1" --to-file - 2>"$TMPD/restore.err" | sha256sum)
    expect_eq "${got%% *}" "$want" "backup $1 restores identical to its snapshot"
}

require "create image" create_image "$SRC" 64M "${FEAT[@]}"
require "write data" write_ops "$SRC" "w:0:2M" "w:20M:1M" "w:40M:4M"
backup "full backup" "$SRC"
json_is diff_walk object-map "a valid map is used"
json_is object_map_invalid null "nothing flagged"

# 1. the snapshot backed up is flagged: the new writes lie in objects that did not
#    exist (12M) and in one that did (0), written while the map was off
require "write and invalidate" invalidate "$SRC" 12M 64K
expect_eq "$(flags "$SRC")" '["object map invalid","fast diff invalid"]' "the head is flagged"
backup "incremental backup" "$SRC"
json_is type incremental "an incremental"
json_is diff_walk full "the whole image walked"
json_is object_map_invalid "$SRC@rbd2s3-$BK_ID" "JSON names the snapshot"
said "$SRC@rbd2s3-$BK_ID"
same_as_snap "$BK_ID"
FIRST_BAD=$BK_ID

# 2. the head rebuilt: only the parent snapshot is flagged
require "rebuild the head's map" rbd_src object-map rebuild --no-progress "$SRC"
expect_eq "$(flags "$SRC")" '[]' "the head is valid"
require "write more" write_ops "$SRC" "w:28M:1M" "w:2M:4K"
backup "incremental backup" "$SRC"
json_is diff_walk full "a flagged parent snapshot: the whole image walked"
json_is object_map_invalid "$SRC@rbd2s3-$FIRST_BAD" "JSON names the parent snapshot"
said "$SRC@rbd2s3-$FIRST_BAD"
same_as_snap "$BK_ID"

# 3. every map rebuilt: the map is used again. (Not before: librbd removing a snapshot
#    whose map is invalid, as the snapshot cleanup does, flags the next snapshot's map.)
rebuild_all() {
    local s
    for s in $(snap_names "$SRC"); do
        rbd_src object-map rebuild --no-progress "$SRC@$s" || return 1
    done
    rbd_src object-map rebuild --no-progress "$SRC"
}
require "rebuild every map" rebuild_all
require "write more" write_ops "$SRC" "w:50M:1M"
backup "incremental backup" "$SRC"
json_is diff_walk object-map "valid maps again: the map is used"
json_is object_map_invalid null "nothing flagged"
same_as_snap "$BK_ID"

# 4. a full backup of an image whose map is flagged
NAME2=$(img objmapfull)
SRC2=rbd/$NAME2
require "create image" create_image "$SRC2" 64M "${FEAT[@]}"
require "write data" write_ops "$SRC2" "w:4M:1M"
require "write and invalidate" invalidate "$SRC2" 33M 8M
backup "full backup" "$SRC2" --full
json_is type full "a full"
json_is diff_walk full "the whole image walked"
json_is object_map_invalid "$SRC2@rbd2s3-$BK_ID" "JSON names the snapshot"
said "$SRC2@rbd2s3-$BK_ID"
same_as_snap "$BK_ID" "$SRC2"

# 5. only the head flagged: a backup of a user snapshot whose own map was rebuilt
require "user snapshot" rbd_src snap create --no-progress "$SRC2@user1"
require "rebuild the snapshot's map" rbd_src object-map rebuild --no-progress "$SRC2@user1"
expect_eq "$(flags "$SRC2@user1")" '[]' "the snapshot is valid"
expect_eq "$(flags "$SRC2")" '["object map invalid","fast diff invalid"]' "the head is flagged"
backup "backup of the snapshot" "$SRC2@user1" --full
json_is diff_walk full "a flagged head: the whole image walked"
json_is object_map_invalid "$SRC2" "JSON names the head"
said "$SRC2"
same_as_snap "$BK_ID" "$SRC2" user1

done_testing
