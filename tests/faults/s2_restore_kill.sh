#!/usr/bin/env bash
# s2_restore_kill.sh - kill -9 of a restore into an image (other cluster) and into a
# file. Afterwards nothing under the target name may look complete unless it is: an
# image or file there must be identical to the backup, or (image) carry a partial
# marker in its image-meta; and the same restore, run again, succeeds (cleaning up its
# own partial target) and is identical.
. "$(dirname "$0")/flib.sh"

NAME=$(img s2)
SRC=rbd/$NAME
require "create a ${IMG_MB} MiB image of random data" new_image "$NAME"
must_backup "$SRC"
require "change the image" change "$SRC"
must_backup "$SRC"
WANT=${SUMS[$BK_ID]}
t0=$(date +%s%N)
restore_sum "$SRC"
CAL=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "$RS_SUM" "$WANT" "the newest backup restores identical (${CAL} ms to a pipe)"
# random kills fall in U(0.05, 0.8) of that time; an image restore takes longer

GET_RX='^s3: GET .*/data\.[0-9]+ -> 206 '
IMAGE_PHASES=("first data GET|$GET_RX")
FILE_PHASES=("first data GET|$GET_RX")
if [ "$QUICK" != 1 ]; then
    IMAGE_PHASES+=("target created|^rbd2s3: restoring " "plan made|\] plan: " "random|" "random|")
    FILE_PHASES+=("random|" "random|")
fi

# partial_marked SPEC: the image says it is partial (an image-meta key or value)
partial_marked() {
    timeout 60 rbd -c "$DST_CEPH_CONF" image-meta list "$1" 2>/dev/null |
        grep -qiE 'partial|incomplete'
}

moment() { # PHASE -> trigger.py options
    local rx=${1#*|}
    if [ -n "$rx" ]; then
        echo "--match"; echo "$rx"
    else
        echo "--at"; python3 -c "import random; print(random.uniform(0.05, 0.8) * $CAL / 1000)"
    fi
}

n=0
for ph in "${IMAGE_PHASES[@]}"; do
    n=$((n + 1))
    what="image, kill at ${ph%%|*}"
    DST=rbd/$(img s2-r$n)
    trial_begin "$what"
    mapfile -t how < <(moment "$ph")
    trig "${how[@]}" --action kill --guard 300 --stderr "$TMPD/rk$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"
    expect_eq "$T_HANG" 0 "$what: the run ended within its bound"
    if img_exists "$DST" "$DST_CEPH_CONF"; then
        if [ "$(img_sum "$DST" "$DST_CEPH_CONF")" = "$WANT" ]; then
            ok "$what: the image under the target name is complete and identical"
        elif partial_marked "$DST"; then
            ok "$what: the partial image under the target name is marked partial"
        else
            not_ok "$what: a partial image under the target name looks complete"
        fi
    else
        ok "$what: nothing under the target name"
    fi
    diag "dst images now: $(rbd_dst ls rbd | grep -F "$TAG" | tr '\n' ' ')"
    if [ "$T_RC" = 0 ]; then
        diag "the restore finished before the kill: nothing to run again"
        trial_end
        continue
    fi
    trig --guard 300 --stderr "$TMPD/rr$n.err" -- "${RBX[@]}" restore "$SRC" "$DST" \
        --dest-ceph-conf "$DST_CEPH_CONF"
    if [ "$T_RC" = 0 ] && [ "$T_HANG" = 0 ]; then
        ok "$what: the same restore again succeeds"
        expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$WANT" "$what: and is identical"
    else
        not_ok "$what: the same restore again succeeds (exit $T_RC)"
        sed 's/^/#   /' "$TMPD/rr$n.err" | tail -n 2
    fi
    trial_end
done

for ph in "${FILE_PHASES[@]}"; do
    n=$((n + 1))
    what="file, kill at ${ph%%|*}"
    F=$TMPD/restored-$n.raw
    trial_begin "$what"
    mapfile -t how < <(moment "$ph")
    trig "${how[@]}" --action kill --guard 300 --stderr "$TMPD/rk$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v restore "$SRC" --to-file "$F"
    expect_eq "$T_HANG" 0 "$what: the run ended within its bound"
    if [ -e "$F" ]; then
        expect_eq "$(file_sum "$F")" "$WANT" "$what: a file under the target name is complete"
    else
        ok "$what: nothing under the target name"
    fi
    diag "files now: $(cd "$TMPD" && echo restored-*)"
    if [ "$T_RC" = 0 ]; then
        diag "the restore finished before the kill: nothing to run again"
        rm -f "$F"
        trial_end
        continue
    fi
    trig --guard 300 --stderr "$TMPD/rr$n.err" -- "${RBX[@]}" restore "$SRC" --to-file "$F"
    if [ "$T_RC" = 0 ] && [ "$T_HANG" = 0 ]; then
        ok "$what: the same restore again succeeds"
        expect_eq "$(file_sum "$F")" "$WANT" "$what: and is identical"
    else
        not_ok "$what: the same restore again succeeds (exit $T_RC)"
        sed 's/^/#   /' "$TMPD/rr$n.err" | tail -n 2
    fi
    rm -f "$F"
    trial_end
done

trial_begin "the backups after the killed restores"
check_listing "$SRC" "end"
check_committed "$SRC" "end"
fault_done
