#!/usr/bin/env bash
# s3_rgw_restart.sh - the RGW killed (-9) and started again 5-15 s later while a backup
# uploads its parts, at its commit (the HEAD of the data object and the manifest PUT)
# and at the manifest PUT. The agent is held with SIGSTOP from the trigger line (its
# first part done; CompleteMultipartUpload answered; "data objects and index uploaded")
# until the RGW is dead, which takes about 1.5 s: without that a small backup finishes
# first. A request already sent can still be answered (a manifest PUT that was on its
# way when the agent stopped): then the backup committed before the RGW died. It rides
# through or fails cleanly: exit 6, one error line, no manifest, list unchanged. It is
# never half committed: a manifest means exit 0 and identical bytes. A clean failure after
# an outage shorter than FAULTS_RETRY_BUDGET (default 60 s, the documented retry time; 0:
# no note) is noted, not failed: the outage is timed by a shared machine's clock, and
# riding through is asserted with scripted outages in tests/integration/s3/test_s3_outage.sh.
# Afterwards the next backup is a correct incremental.
. "$(dirname "$0")/flib.sh"
need_private_sandbox

BUDGET=${FAULTS_RETRY_BUDGET:-60}
NAME=$(img s3)
SRC=rbd/$NAME
require "create a ${IMG_MB} MiB image of random data" new_image "$NAME"
must_backup "$SRC"

PART_RX='^s3: PUT .*/data\.[0-9]+\?partNumber=.* -> 200 '
COMPLETE_RX='^s3: POST .*/data\.[0-9]+\?uploadId=.* -> 200 '
UPLOADED_RX='\] data objects and index uploaded$'
# moment | regex | outage (s)
TRIALS=("commit|$COMPLETE_RX|8")
if [ "$QUICK" != 1 ]; then
    TRIALS+=("part upload|$PART_RX|5" "part upload|$PART_RX|10" "part upload|$PART_RX|15"
             "commit|$COMPLETE_RX|15" "manifest PUT|$UPLOADED_RX|5"
             "manifest PUT|$UPLOADED_RX|12")
fi

n=0
for t in "${TRIALS[@]}"; do
    n=$((n + 1))
    IFS='|' read -r moment rx outage <<<"$t"
    what="RGW down ${outage}s at the $moment"
    trial_begin "$what"
    change "$SRC" || { not_ok "change the image"; trial_end; continue; }
    HEAD=$(img_sum "$SRC")
    before=$(list_ids "$SRC" | tr '\n' ' ')
    trig --match "$rx" --action hook --pause --hook "$(rgw_bounce_hook "$outage")" \
        --guard 300 --stderr "$TMPD/b$n.err" -- \
        env RBD2S3_S3_TRACE=1 "${RBX[@]}" -v backup "$SRC"
    out=$(rgw_wait_bounce)
    diag "S3 was unavailable for ${out}s"
    expect_eq "$T_HANG" 0 "$what: the run ended within its bound"
    KID=$(sed -n 's/.*\] snapshot rbd2s3-\([0-9TZ-]*\) ready$/\1/p' "$TMPD/b$n.err" | head -n 1)
    if [ -n "$KID" ] && manifest_ids "$SRC" | grep -qx "$KID"; then
        SUMS[$KID]=$HEAD
        expect_eq "$T_RC" 0 "$what: a backup with a manifest exited 0 (not half committed)"
        if python3 -c "import sys; sys.exit(0 if $T_ELAPSED < $outage else 1)"; then
            diag "it ended after ${T_ELAPSED}s, before S3 was back: its requests were answered" \
                 "before the RGW died (a moment missed, not a ride-through)"
        fi
        check_one "$SRC" "$KID" "$what" && ok "$what: committed, restores identical"
    else
        expect_eq "$T_RC" 6 "$what: failed cleanly with exit 6"
        expect_eq "$(err_lines "$TMPD/b$n.err" backup | wc -l)" 1 "$what: one error line"
        err_lines "$TMPD/b$n.err" backup | sed 's/^/#   /'
        expect_eq "$(list_ids "$SRC" | tr '\n' ' ')" "$before" "$what: list unchanged"
        if [ "$BUDGET" -gt 0 ] && [ "$out" != "?" ] &&
           python3 -c "import sys; sys.exit(0 if $out < $BUDGET else 1)"; then
            # a note, not a verdict: the outage is measured by the clock of a shared
            # machine; riding through is asserted with scripted outages in
            # tests/integration/s3/test_s3_outage.sh
            diag "an outage of ${out}s (< ${BUDGET}s retry budget) was not ridden through"
        fi
    fi
    check_listing "$SRC" "$what"
    check "$what: verify exits 0" rb verify "$SRC"
    want=$(newest_committed)
    if do_backup "$SRC"; then
        remember "$SRC" "$BK_ID"
        expect_eq "$BK_PARENT" "$want" \
            "$what: the next backup is incremental from the newest committed"
    else
        not_ok "$what: the next backup succeeds"
    fi
    trial_end
done

trial_begin "the backups after the RGW restarts"
check_committed "$SRC" "end"
check "end: verify --deep exits 0" rb verify "$SRC" --deep
fault_done
