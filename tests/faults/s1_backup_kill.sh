#!/usr/bin/env bash
# s1_backup_kill.sh - kill -9 of a backup at chosen phases (its -v and S3 trace lines)
# and at random moments, and an rbd2s3 snapshot in librbd's trash namespace (what a kill
# during snapshot removal can leave; made on purpose with a format-2 clone). After each
# kill: `list` equals the set of manifest.json keys, verify exits 0, the next backup
# succeeds as an incremental of the newest committed backup. Always: no rbd2s3 snapshot
# cleanup fails silently, no manifest records snapshot id 0 or 1970, and every committed
# backup restores identical to its snapshot.
. "$(dirname "$0")/flib.sh"

NAME=$(img s1)
SRC=rbd/$NAME
require "create a ${IMG_MB} MiB image of random data" new_image "$NAME"
t0=$(date +%s%N)
if do_backup "$SRC"; then ok "first backup ($BK_ID)"; else bail "first backup failed"; fi
CAL=$(( ($(date +%s%N) - t0) / 1000000 ))
remember "$SRC" "$BK_ID"
change "$SRC"
if do_backup "$SRC"; then ok "second backup ($BK_ID)"; else bail "second backup failed"; fi
remember "$SRC" "$BK_ID"
diag "a full backup of ${IMG_MB} MiB took ${CAL} ms"

# phase name | stderr regex that fires the kill (empty: a random moment)
PHASES=(
    "bucket checked|\] bucket checked$"
    "first part done|^s3: PUT .*/data\.[0-9]+\?partNumber=.* -> 200 "
)
if [ "$QUICK" != 1 ]; then
    PHASES+=(
        "image open|\] image open$"
        "snapshot ready|\] snapshot rbd2s3-.* ready$"
        "data objects and index uploaded|\] data objects and index uploaded$"
        "committed (before the metadata update)|\] committed$"
        "random|" "random|" "random|" "random|"
    )
fi

# snapshot_ok ID: the manifest of ID records a real snapshot (not id 0, not 1970)
snapshot_ok() {
    local m=$TMPD/m.json
    s3api get-object --bucket "$BUCKET" --key "$PREFIX/$SRC/$1/manifest.json" "$m" \
        >/dev/null 2>&1 || return 1
    [ "$(jq -r '.snapshot.id' "$m")" != 0 ] &&
        ! jq -r '.snapshot.timestamp' "$m" | grep -q '^1970'
}

n=0
for ph in "${PHASES[@]}"; do
    n=$((n + 1))
    what=${ph%%|*} rx=${ph#*|}
    full=()
    [ $((n % 3)) = 0 ] && full=(--full)
    trial_begin "kill at $what${full:+ (--full)}"
    change "$SRC" || { not_ok "change the image"; trial_end; continue; }
    HEAD=$(img_sum "$SRC")
    if [ -n "$rx" ]; then
        how=(--match "$rx")
    else
        how=(--at "$(python3 -c "import random; print(random.uniform(0.05, 1.0) * $CAL / 1000)")")
    fi
    trig "${how[@]}" --action kill --guard 300 --stderr "$TMPD/kill$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v backup "$SRC" "${full[@]}"
    expect_eq "$T_HANG" 0 "$what: the run ended within its bound"
    KID=$(sed -n 's/.*\] snapshot rbd2s3-\([0-9TZ-]*\) ready$/\1/p' "$TMPD/kill$n.err" | head -n 1)
    diag "last lines before the kill:" "$(grep -v '^s3: GET' "$TMPD/kill$n.err" | tail -n 3)"
    if [ -n "$KID" ] && manifest_ids "$SRC" | grep -qx "$KID"; then
        diag "the killed run $KID committed"
        SUMS[$KID]=$HEAD
    fi
    check_listing "$SRC" "$what"
    check "$what: verify exits 0" rb verify "$SRC"
    want=$(newest_committed)
    t1=$(date +%s%N)
    if do_backup "$SRC"; then
        ok "$what: the next backup succeeds ($BK_ID)"
        diag "the next backup took $(( ($(date +%s%N) - t1) / 1000000 )) ms"
        remember "$SRC" "$BK_ID"
        expect_eq "$BK_TYPE" incremental "$what: the next backup is incremental"
        expect_eq "$BK_PARENT" "$want" "$what: its parent is the newest committed backup"
        check "$what: its manifest records a real snapshot (not id 0 / 1970)" snapshot_ok "$BK_ID"
        nsnap=$(snap_names "$SRC" | grep -c '^rbd2s3-')
        ntrash=$(timeout 60 rbd -c "$SRC_CEPH_CONF" snap ls --all "$SRC" | grep -ci trash)
        diag "rbd2s3 snapshots on the image: $nsnap; in the trash namespace: $ntrash"
        if [ "$nsnap" -gt 2 ] && ! grep -qi 'warning' "$TMPD/backup.$_BK_N.err"; then
            not_ok "$what: snapshot cleanup failed silently ($nsnap rbd2s3 snapshots, no warning)"
        else
            ok "$what: snapshot cleanup works or says why not ($nsnap rbd2s3 snapshots)"
        fi
        check_one "$SRC" "$BK_ID" "$what: the next backup" &&
            ok "$what: the next backup restores identical"
    else
        not_ok "$what: the next backup succeeds"
    fi
    trial_end
done

# The trash entry that a kill during snapshot removal can leave (reliability review F3),
# made on purpose: a clone (format 2) of an rbd2s3 snapshot, then the snapshot removed.
trial_begin "a snapshot in librbd's trash namespace"
what="trash snapshot"
CLONE=rbd/$(img s1-clone)
if rbd_src snap create "$SRC@rbd2s3-20200101T000000Z" >/dev/null 2>&1 &&
   rbd_src clone --rbd-default-clone-format 2 "$SRC@rbd2s3-20200101T000000Z" "$CLONE" &&
   rbd_src snap rm --no-progress "$SRC@rbd2s3-20200101T000000Z" >/dev/null 2>&1 &&
   rbd_src snap ls --all "$SRC" | grep -q 'trash (rbd2s3-20200101T000000Z)'; then
    ok "$what: an rbd2s3 snapshot in the trash namespace (it has a clone)"
    for i in 1 2 3; do
        cleanup=()
        [ $i = 3 ] && cleanup=(--snap-cleanup immediate)
        change "$SRC"
        if do_backup "$SRC" "${cleanup[@]}"; then
            remember "$SRC" "$BK_ID"
            check "$what: backup $i records a real snapshot (not id 0 / 1970)" snapshot_ok "$BK_ID"
        else
            not_ok "$what: backup $i"
        fi
    done
    nsnap=$(snap_names "$SRC" | grep -c '^rbd2s3-')
    if [ "$nsnap" -ne 1 ] && ! grep -qi 'warning' "$TMPD/backup.$_BK_N.err"; then
        not_ok "$what: snapshot cleanup stopped silently ($nsnap rbd2s3 snapshots after immediate)"
    else
        ok "$what: --snap-cleanup immediate leaves one rbd2s3 snapshot or says why not ($nsnap)"
    fi
else
    not_ok "$what: make a snapshot in the trash namespace"
fi
rbd_src rm --no-progress "$CLONE" >/dev/null 2>&1
trial_end

trial_begin "all committed backups after the kills"
check_listing "$SRC" "end"
check_committed "$SRC" "end"
check "end: verify --deep exits 0" rb verify "$SRC" --deep
UPLOADS=$(s3api list-multipart-uploads --bucket "$BUCKET" --output json |
          jq '(.Uploads // []) | length')
diag "data and index objects: $(bucket_keys "$PREFIX/$SRC/" | grep -vc '/manifest\.json$')," \
     "unfinished uploads: $UPLOADS"
check "end: prune --keep-last 1000 --grace 0s" rb prune "$SRC" --keep-last 1000 --grace 0s
check_listing "$SRC" "after removing the leftovers"
check "after removing the leftovers: verify --deep exits 0" rb verify "$SRC" --deep
if do_backup "$SRC" --snap-cleanup immediate; then
    remember "$SRC" "$BK_ID"
    nsnap=$(snap_names "$SRC" | grep -c '^rbd2s3-')
    if [ "$nsnap" -ne 1 ] && ! grep -qi 'warning' "$TMPD/backup.$_BK_N.err"; then
        not_ok "end: --snap-cleanup immediate left $nsnap rbd2s3 snapshots without a warning"
    else
        ok "end: --snap-cleanup immediate leaves one rbd2s3 snapshot or says why not ($nsnap)"
    fi
else
    not_ok "end: a backup with --snap-cleanup immediate"
fi
fault_done
