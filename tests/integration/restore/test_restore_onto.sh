#!/usr/bin/env bash
# restore --onto: a standby restored from backup 1 (in the other cluster) is caught up to
# backup 3 (changes of ~1%, a discard and a growth in between) and equals the source
# snapshot; the bytes it writes and discards are exactly the ranges that backups 2 and 3
# changed (their records in `show --chunks`); a rerun has nothing to do; a shrink then a
# growth between two backups reads as zeros after the catch-up. Refusals, each
# one line and an exit code, nothing written: a missing target (3), a target without a
# snapshot of the chain or whose image-meta rbd2s3.source names another image (3), one
# written after its snapshot (7; --force then reverts those writes), one in use (11:
# `rbd lock add`, a running `rbd bench`).
. "$(dirname "$0")/../lib.sh"

NAME=$(img onto)
SRC=rbd/$NAME
DST=rbd/$(img onto-standby)
DCONF=(--dest-ceph-conf "$DST_CEPH_CONF")
MIB=1048576

# expect_rc WANT DESC NAME ARGS...: rb ARGS with stdout/stderr in $TMPD/NAME.*
expect_rc() {
    local want=$1 desc=$2 n=$3 rc
    shift 3
    rb "$@" >"$TMPD/$n.out" 2>"$TMPD/$n.err"
    rc=$?
    expect_eq "$rc" "$want" "$desc: exit $want" || sed 's/^/#   /' "$TMPD/$n.err"
}

# refused NAME WANT DESC IMAGE ARGS...: restore --onto IMAGE refused with exit WANT and
# one line, the image's bytes and snapshots unchanged (IMAGE "" : no image to compare).
refused() {
    local n=$1 want=$2 desc=$3 dst=$4 sum0="" snaps0=""
    shift 4
    if [ -n "$dst" ]; then
        sum0=$(img_sum "$dst" "$DST_CEPH_CONF")
        snaps0=$(snap_names "$dst" "$DST_CEPH_CONF" | tr '\n' ' ')
    fi
    expect_rc "$want" "$desc" "$n" restore "$SRC@$ID3" "${dst:-rbd/$(img onto-none)}" \
        "${DCONF[@]}" --onto "$@"
    expect_eq "$(wc -l <"$TMPD/$n.err")" 1 "$desc: one line ($(head -c 200 "$TMPD/$n.err"))"
    [ -n "$dst" ] || return 0
    expect_eq "$(img_sum "$dst" "$DST_CEPH_CONF")" "$sum0" "$desc: the image is unchanged"
    expect_eq "$(snap_names "$dst" "$DST_CEPH_CONF" | tr '\n' ' ')" "$snaps0" \
        "$desc: no new snapshot"
}

# changed_bytes ID...: "UNION WRITTEN" of the records of the backups (newest last), below
# the size SIZE: the bytes of the union of their ranges, and of those whose newest record
# is data.
changed_bytes() {
    local id files=()
    for id in "$@"; do
        rb --format json show "$SRC@$id" --chunks >"$TMPD/chunks.$id.json" || return 1
        files+=("$TMPD/chunks.$id.json")
    done
    python3 - "$SIZE3" "${files[@]}" <<'EOF'
import json, sys
size = int(sys.argv[1])
marks = set([0, size])
layers = []
for f in sys.argv[2:]:
    recs = [(c["offset"], c["offset"] + c["length"], c["kind"] != "zero")
            for c in json.load(open(f))["chunks"]]
    layers.append(recs)
    for a, e, _ in recs:
        marks.update([min(a, size), min(e, size)])
marks = sorted(marks)
union = written = 0
for a, e in zip(marks, marks[1:]):
    kind = None
    for recs in layers:                 # oldest first: the newest covering record wins
        for ra, re_, data in recs:
            if ra <= a and e <= re_:
                kind = data
    if kind is not None:
        union += e - a
        written += (e - a) if kind else 0
print(union, written)
EOF
}

# ---------------------------------------------------------------- the chain
require "create a 64 MiB image" create_image "$SRC" 64M
require "fill it with random data" write_random "$SRC" 0 64M
if do_backup "$SRC"; then ok "backup 1, full ($BK_ID)"; else bail "backup 1 failed"; fi
ID1=$BK_ID
expect_rc 0 "restore backup 1 to the standby in the other cluster" r1 restore "$SRC@$ID1" \
    "$DST" "${DCONF[@]}"
expect_eq "$(rbd_dst image-meta get "$DST" rbd2s3.source)" "$SRC" \
    "the restore names its source in the image-meta rbd2s3.source"
changes2() {
    rand_writes "$SRC" 10 64K && discard "$SRC" $((8 * MIB)) $MIB && grow "$SRC" 80M &&
        write_random "$SRC" $((72 * MIB)) 256K
}
require "change ~1%, discard 1 MiB, grow to 80 MiB, write past the old end" changes2
if do_backup "$SRC"; then ok "backup 2 ($BK_ID)"; else bail "backup 2 failed"; fi
ID2=$BK_ID
require "change ~1% again" rand_writes "$SRC" 10 64K
if do_backup "$SRC"; then ok "backup 3 ($BK_ID)"; else bail "backup 3 failed"; fi
ID3=$BK_ID
SUM3=$(img_sum "$SRC@rbd2s3-$ID3")
SIZE3=$((80 * MIB))

# ---------------------------------------------------------------- the catch-up
expect_rc 0 "restore --onto the standby, to backup 3" onto restore --format json \
    "$SRC@$ID3" "$DST" "${DCONF[@]}" --onto
diag "its messages:" && sed 's/^/#   /' "$TMPD/onto.err" "$TMPD/onto.out"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "the standby equals the source snapshot of backup 3"
check "the standby has the snapshot rbd2s3-$ID3" \
    bash -c "rbd -c '$DST_CEPH_CONF' snap ls '$DST' | grep -qw 'rbd2s3-$ID3'"
expect_eq "$(img_field "$DST" size "$DST_CEPH_CONF")" "$SIZE3" "the standby grew to 80 MiB"
expect_eq "$(jq -r .from "$TMPD/onto.out")" "$ID1" "it caught up from backup 1"
WRITTEN=$(jq -r .bytes_written "$TMPD/onto.out")
DISCARDED=$(jq -r .bytes_discarded "$TMPD/onto.out")
ZERO=$(jq -r .bytes_already_zero "$TMPD/onto.out")
read -r UNION DATA < <(changed_bytes "$ID2" "$ID3")
diag "written $WRITTEN, discarded $DISCARDED, already zero $ZERO; backups 2 and 3 changed" \
     "$UNION bytes ($DATA of data), the image is $SIZE3"
expect_eq "$((WRITTEN + DISCARDED + ZERO))" "$UNION" \
    "written + discarded + already zero = the ranges backups 2, 3 changed"
# how much is already zero depends on where the zero records fall against the standby's
# objects: counted above, not required to be above 0
diag "already zero on the standby: $ZERO bytes"
expect_eq "$WRITTEN" "$DATA" "written = their data"
check "written is at least what the test wrote after the discard (640 KiB + 256 KiB)" \
    test "$WRITTEN" -ge $((10 * 64 * 1024 + 256 * 1024))
check "written is under 5% of the image" test "$WRITTEN" -lt $((SIZE3 / 20))

expect_rc 0 "a rerun" again restore "$SRC@$ID3" "$DST" "${DCONF[@]}" --onto
check "says there is nothing to do" grep -q "nothing to do" "$TMPD/again.out"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM3" "the rerun changed nothing"

# ---------------------------------------------------------------- a shrink, then a growth
require "shrink the source to 40 MiB" rbd_src resize --no-progress --allow-shrink --size 40 "$SRC"
if do_backup "$SRC"; then ok "backup 4, at 40 MiB ($BK_ID)"; else bail "backup 4 failed"; fi
require "grow it back to 80 MiB" \
    bash -c "rbd -c '$SRC_CEPH_CONF' resize --no-progress --size 80 '$SRC'"
require "write 64 KiB at 76 MiB" write_random "$SRC" $((76 * MIB)) 64K
if do_backup "$SRC"; then ok "backup 5, at 80 MiB ($BK_ID)"; else bail "backup 5 failed"; fi
ID5=$BK_ID
expect_rc 0 "restore --onto the standby (at backup 3), to backup 5" onto5 restore \
    --format json "$SRC@$ID5" "$DST" "${DCONF[@]}" --onto
expect_eq "$(jq -r .from "$TMPD/onto5.out")" "$ID3" "it caught up from backup 3, the newest it held"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-$ID5")" \
    "the standby equals the source snapshot of backup 5: what lay past 40 MiB reads as zeros"

# ---------------------------------------------------------------- refusals
refused none 3 "a missing target" ""
BARE=rbd/$(img onto-bare)
require "an image without any snapshot of the chain" rbd_dst create --size 64 "$BARE"
require "with data" write_random "$BARE" 0 1M "$DST_CEPH_CONF"
refused bare 3 "a target without a snapshot of the chain" "$BARE"

FOREIGN=rbd/$(img onto-foreign)
expect_rc 0 "restore backup 1 to an image said to be another's" r4 restore "$SRC@$ID1" \
    "$FOREIGN" "${DCONF[@]}"
require "its image-meta rbd2s3.source names another image" \
    rbd_dst image-meta set "$FOREIGN" rbd2s3.source rbd/another
refused foreign 3 "a target whose rbd2s3.source names another image" "$FOREIGN"

DIRTY=rbd/$(img onto-dirty)
expect_rc 0 "restore backup 2 to another standby" r2 restore "$SRC@$ID2" "$DIRTY" "${DCONF[@]}"
require "write 64 KiB to that standby after its snapshot" write_random "$DIRTY" $((3 * MIB)) 64K "$DST_CEPH_CONF"
refused dirty 7 "a target written after its snapshot" "$DIRTY"
expect_rc 0 "the same with --force" force restore --format json "$SRC@$ID3" "$DIRTY" \
    "${DCONF[@]}" --onto --force
expect_eq "$(img_sum "$DIRTY" "$DST_CEPH_CONF")" "$SUM3" "--force: the target equals the source snapshot of backup 3"
check "--force: it reports the 64 KiB it reverted" \
    test "$(jq -r .bytes_reverted "$TMPD/force.out")" -ge 65536

BUSY=rbd/$(img onto-busy)
expect_rc 0 "restore backup 1 to a third standby" r3 restore "$SRC@$ID1" "$BUSY" "${DCONF[@]}"
require "rbd lock add on it" rbd_dst lock add "$BUSY" onto-test
refused locked 11 "a target locked with rbd lock add" "$BUSY"
LOCKER=$(rbd_dst lock ls --format json "$BUSY" | jq -r '.[0].locker // (.[] | .locker)' | head -1)
require "rbd lock rm" rbd_dst lock rm "$BUSY" onto-test "$LOCKER"
rbd -c "$DST_CEPH_CONF" bench --io-type write --io-size 4K --io-threads 1 --io-total 100G \
    --io-pattern rand "$BUSY" >/dev/null 2>&1 &
BENCH=$!
for _ in $(seq 50); do
    [ -n "$(rbd_dst status --format json "$BUSY" | jq -r '.watchers[]?')" ] && break
    sleep 0.2
done
SNAPS0=$(snap_names "$BUSY" "$DST_CEPH_CONF" | tr '\n' ' ')
expect_rc 11 "a target open by a running rbd bench --io-type write" bench restore \
    "$SRC@$ID3" "$BUSY" "${DCONF[@]}" --onto
expect_eq "$(wc -l <"$TMPD/bench.err")" 1 "in use: one line ($(head -c 200 "$TMPD/bench.err"))"
kill "$BENCH" 2>/dev/null
wait "$BENCH" 2>/dev/null
expect_eq "$(snap_names "$BUSY" "$DST_CEPH_CONF" | tr '\n' ' ')" "$SNAPS0" "in use: no new snapshot"

expect_rc 2 "--force without --onto" usage restore "$SRC@$ID3" "$BUSY" "${DCONF[@]}" --force
expect_rc 2 "--onto with --to-file" usage2 restore "$SRC@$ID3" --to-file "$TMPD/x" --onto

done_testing
