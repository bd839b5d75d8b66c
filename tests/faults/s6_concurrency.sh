#!/usr/bin/env bash
# s6_concurrency.sh - concurrent runs: two backups of one image started together (one
# exits 0, the other 11 with one line, the committed one restores identical); prune
# --keep-last 1 run while a backup uploads (the agent held with SIGSTOP at its first
# part while prune runs): both exit 0, prune removes only the old chain, the backup
# commits and everything kept restores identical; two images backed up at once.
. "$(dirname "$0")/flib.sh"

NAME=$(img s6)
SRC=rbd/$NAME
require "create a ${IMG_MB} MiB image of random data" new_image "$NAME"
must_backup "$SRC"

PAIRS=1
[ "$QUICK" != 1 ] && PAIRS=3
for ((p = 1; p <= PAIRS; p++)); do
    what="two backups of one image at once ($p)"
    trial_begin "$what"
    change "$SRC"
    HEAD=$(img_sum "$SRC")
    rb --format json backup "$SRC" >"$TMPD/c1.out" 2>"$TMPD/c1.err" &
    p1=$!
    rb --format json backup "$SRC" >"$TMPD/c2.out" 2>"$TMPD/c2.err" &
    p2=$!
    wait $p1; r1=$?
    wait $p2; r2=$?
    expect_eq "$(printf '%s\n' "$r1" "$r2" | sort -n | tr '\n' ' ')" "0 11 " \
        "$what: exit codes 0 and 11"
    win=1; [ $r2 = 0 ] && win=2
    lose=$((3 - win))
    expect_eq "$(wc -l <"$TMPD/c$lose.err")" 1 "$what: the refused one prints one line"
    id=$(jq -r '.id // empty' "$TMPD/c$win.out" 2>/dev/null)
    if [ -n "$id" ]; then
        SUMS[$id]=$HEAD
        check_one "$SRC" "$id" "$what" && ok "$what: the committed backup restores identical"
    else
        not_ok "$what: the winner printed its backup id"
    fi
    check_listing "$SRC" "$what"
    trial_end
done

what="prune --keep-last 1 during a backup"
trial_begin "$what"
change "$SRC"
if do_backup "$SRC" --full; then
    remember "$SRC" "$BK_ID"
    KEEP=$BK_ID
    change "$SRC"
    HEAD=$(img_sum "$SRC")
    printf -v PRUNE '%q ' "${RBX[@]}" prune "$SRC" --keep-last 1
    trig --match '^s3: PUT .*/data\.[0-9]+\?partNumber=.* -> 200 ' --action hook --pause \
        --hook "$PRUNE >'$TMPD/prune.out' 2>&1; echo \$? >'$TMPD/prune.rc'" \
        --guard 300 --stderr "$TMPD/pb.err" -- env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v backup "$SRC"
    expect_eq "$T_RC" 0 "$what: the backup exits 0"
    expect_eq "$(cat "$TMPD/prune.rc" 2>/dev/null)" 0 "$what: prune exits 0"
    sed 's/^/#   /' "$TMPD/prune.out" | head -n 5
    NEW=$(sed -n 's/.*\] snapshot rbd2s3-\([0-9TZ-]*\) ready$/\1/p' "$TMPD/pb.err" | head -n 1)
    expect_eq "$(list_ids "$SRC" | tr '\n' ' ')" "$KEEP $NEW " \
        "$what: the new full and the backup that ran are left"
    # the older chain was pruned by policy: only what is listed is checked from here on
    for id in "${!SUMS[@]}"; do [ "$id" \< "$KEEP" ] && unset "SUMS[$id]"; done
    SUMS[$NEW]=$HEAD
    check_committed "$SRC" "$what"
    check "$what: verify --deep exits 0" rb verify "$SRC" --deep
else
    not_ok "$what: a full backup first"
fi
trial_end

if [ "$QUICK" != 1 ]; then
    what="two images backed up at once"
    trial_begin "$what"
    O=rbd/$(img s6b)
    if new_image "$(img s6b)"; then
        change "$SRC"
        HA=$(img_sum "$SRC") HB=$(img_sum "$O")
        rb --format json backup "$SRC" --full >"$TMPD/d1.out" 2>&1 &
        p1=$!
        rb --format json backup "$O" >"$TMPD/d2.out" 2>&1 &
        p2=$!
        wait $p1; r1=$?
        wait $p2; r2=$?
        expect_eq "$r1 $r2" "0 0" "$what: both exit 0"
        a=$(jq -r '.id // empty' "$TMPD/d1.out" 2>/dev/null)
        b=$(jq -r '.id // empty' "$TMPD/d2.out" 2>/dev/null)
        if [ -n "$a" ]; then
            SUMS[$a]=$HA
            check_one "$SRC" "$a" "$what" && ok "$what: the first restores identical"
        fi
        if [ -n "$b" ]; then
            restore_sum "$O@$b"
            expect_eq "$RS_RC $RS_SUM" "0 $HB" "$what: the second restores identical"
        fi
    else
        not_ok "$what: a second image"
    fi
    trial_end
fi
fault_done
