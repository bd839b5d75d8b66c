#!/usr/bin/env bash
# Resume of an interrupted full backup: with a small `checkpoint every`, a backup of 256 MiB
# of random data is killed (SIGKILL) after about half of its parts were uploaded
# (RBD2S3_DEBUG_STALL_AFTER_PARTS); the next backup resumes from the checkpoint, reads and
# uploads only the rest (its JSON and the bucket's data objects say so) and restores
# byte-identical. A checkpoint whose snapshot was removed starts over, said in one line.
# prune removes a checkpoint older than the grace.
. "$(dirname "$0")/../lib.sh"

NAME=$(img resume)
SRC=rbd/$NAME
STALL_WAIT=${STALL_WAIT:-120}
SIZE_MB=${RESUME_SIZE_MB:-256}
HALF_PARTS=$((SIZE_MB / 2 / 5))
CK=(--checkpoint-every 16M --part-size 5M)

require "create a ${SIZE_MB} MiB image" create_image "$SRC" "${SIZE_MB}M"
require "fill it with random data" write_random "$SRC" 0 "${SIZE_MB}M"

# kill (SIG, default KILL) a backup after about half of its parts; $TMPD/TAG.rc: its exit code
interrupted_backup() { # TAG [backup args...]
    local tag=$1
    shift
    RBD2S3_DEBUG_STALL_AFTER_PARTS=$HALF_PARTS "$RBD2S3" "${RB_ARGS[@]}" "${CK[@]}" \
        backup "$SRC" "$@" >"$TMPD/$tag.out" 2>"$TMPD/$tag.err" </dev/null &
    local pid=$! t stalled=no
    for ((t = 0; t < STALL_WAIT * 2; t++)); do
        if grep -q '^rbd2s3: debug: stalled' "$TMPD/$tag.err"; then stalled=yes; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -"${SIG:-KILL}" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo $? >"$TMPD/$tag.rc"
    [ $stalled = yes ] || sed 's/^/#   stderr: /' "$TMPD/$tag.err" | tail -n 20
    [ $stalled = yes ]
}

check "backup killed after $HALF_PARTS parts" interrupted_backup kill1
CKEY=$(bucket_keys "$PREFIX/rbd/$NAME/" | grep '/checkpoint\.json$' | head -n 1)
check "a checkpoint is in the bucket" test -n "$CKEY"
expect_eq "$(bucket_keys "$PREFIX/rbd/$NAME/" | grep -c '/manifest\.json$')" 0 \
    "no manifest: nothing committed"
if rb --format json list "$SRC" >"$TMPD/list.json" 2>"$TMPD/list.err"; then
    expect_eq "$(jq '.backups | length' "$TMPD/list.json")" 0 "list shows no backup"
else
    not_ok "list after the kill"
fi
CK_ID=$(basename "$(dirname "$CKEY")")
CK_POS=$(s3api get-object --bucket "$BUCKET" --key "$CKEY" "$TMPD/ck.json" >/dev/null 2>&1 &&
         jq -r .position "$TMPD/ck.json")
diag "checkpoint of $CK_ID at ${CK_POS:-?} bytes"
# the bytes of the data objects the checkpoint lists (its completed objects)
CK_OBJ_BYTES=$(jq '[.objects[].size] | add // 0' "$TMPD/ck.json")

if do_backup "$SRC" "${CK[@]}"; then ok "the next backup commits ($BK_ID)"; else
    not_ok "the next backup"; sed 's/^/#   /' "$TMPD/backup.$_BK_N.err"; done_testing; fi
expect_eq "$BK_ID" "$CK_ID" "it is the interrupted backup, resumed"
expect_eq "$(jq -r .resumed "$BK_JSON")" true "JSON says resumed"
TOTAL=$((SIZE_MB << 20))
RUN_READ=$(jq -r .run_data_bytes "$BK_JSON")
RUN_UP=$(jq -r .run_stored_bytes "$BK_JSON")
STORED=$(jq -r .stored_bytes "$BK_JSON")
diag "resumed run read $RUN_READ of $TOTAL bytes, uploaded $RUN_UP of $STORED"
expect_eq "$RUN_READ" "$((TOTAL - CK_POS))" "the resumed run read only what lies past the checkpoint"
check "the resumed run read less than 3/4 of the image" test "$RUN_READ" -lt $((TOTAL * 3 / 4))
# independently: the bucket's data objects, less those the checkpoint listed
ALL_OBJ=$(timeout 120 /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 \
    --bucket "$BUCKET" --prefix "$PREFIX/rbd/$NAME/$BK_ID/data." --output json |
    jq '[(.Contents // [])[].Size] | add // 0')
expect_eq "$((ALL_OBJ - CK_OBJ_BYTES))" "$RUN_UP" "bytes of the data objects written by this run"
expect_eq "$(bucket_keys "$PREFIX/rbd/$NAME/" | grep -c '/checkpoint')" 0 \
    "the checkpoint objects are gone after the commit"
SUM=$(img_sum "$SRC@rbd2s3-$BK_ID")
DST=rbd/$(img resume-r)
if check "restore" rb restore "$SRC@$BK_ID" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM" "restored image equals rbd export of the snapshot"
fi
check "verify" rb verify "$SRC"

# SIGTERM (the end of a backup window): exit 10, the checkpoint and its snapshot are kept
require "write more data" write_random "$SRC" 0 "${SIZE_MB}M"
SIG=TERM check "second backup stopped by SIGTERM" interrupted_backup term2
expect_eq "$(cat "$TMPD/term2.rc")" 10 "exit code 10"
check "it says its checkpoint is kept" grep -q 'checkpoint of backup .* kept' "$TMPD/term2.err"
CKEY=$(bucket_keys "$PREFIX/rbd/$NAME/" | grep '/checkpoint\.json$' | head -n 1)
CK_ID=$(basename "$(dirname "$CKEY")")
check "the checkpoint is kept" test -n "$CKEY"
check "its snapshot is kept" bash -c "rbd -c '$SRC_CEPH_CONF' snap ls '$SRC' | grep -q 'rbd2s3-$CK_ID'"
UPLOADS=$(s3api list-multipart-uploads --bucket "$BUCKET" --output json 2>/dev/null |
          jq '(.Uploads // []) | length')
expect_eq "${UPLOADS:-0}" 0 "its open upload was aborted"      # no answer body: none

# a checkpoint whose snapshot is gone: starts over, in one line
require "remove the checkpoint's snapshot" rbd_src snap rm "$SRC@rbd2s3-$CK_ID"
if do_backup "$SRC" "${CK[@]}"; then ok "backup after the snapshot is gone ($BK_ID)"; else
    not_ok "backup after the snapshot is gone"; fi
ERR=$TMPD/backup.$_BK_N.err
expect_eq "$(grep -c 'not resumed' "$ERR")" 1 "one line says it starts over"
grep 'not resumed' "$ERR" | sed 's/^/# /'
expect_eq "$(jq -r .resumed "$BK_JSON")" false "not resumed"
expect_eq "$(bucket_keys "$PREFIX/rbd/$NAME/$CK_ID/" | wc -l)" 0 "the stale checkpoint's folder is gone"

# prune removes a checkpoint past the resume grace (and keeps a younger one)
check "third backup (a full) killed" interrupted_backup kill3 --full
CKEY=$(bucket_keys "$PREFIX/rbd/$NAME/" | grep '/checkpoint\.json$' | head -n 1)
CK_ID=$(basename "$(dirname "$CKEY")")
sleep 2
rb prune "$SRC" --keep-last 5 --grace 1s >"$TMPD/prune1.out" 2>&1
check "prune within the resume grace keeps the checkpoint" test -n "$(bucket_keys "$CKEY")"
rb prune "$SRC" --keep-last 5 --grace 1s --resume-grace 1s >"$TMPD/prune2.out" 2>&1
sed 's/^/# /' "$TMPD/prune2.out"
expect_eq "$(bucket_keys "$PREFIX/rbd/$NAME/$CK_ID/" | wc -l)" 0 "prune removed the old checkpoint"
check "prune says so" grep -q 'checkpoint' "$TMPD/prune2.out"

done_testing
