#!/usr/bin/env bash
# SIGKILL in the middle of an incremental (RBD2S3_DEBUG_STALL_AFTER_PARTS stalls the agent
# after N uploaded parts): no manifest appears, `list` shows only the committed backup,
# and the next backup is an incremental on top of the committed one and restores exactly.
# Then SIGINT in the middle of a backup: exit code 10, one error line, the run's own
# snapshot removed, its multipart upload aborted, the previous snapshot kept; and while
# that backup runs, a second backup of the same image is refused (exit 11) and changes
# nothing.
. "$(dirname "$0")/../lib.sh"

NAME=$(img crash)
SRC=rbd/$NAME
STALL_WAIT=${STALL_WAIT:-120}

require "create a 256 MiB image" create_image "$SRC" 256M
require "fill it with random data" write_random "$SRC" 0 256M
if do_backup "$SRC"; then ok "full backup committed ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID

require "write 32 MiB of changes" write_random "$SRC" 64M 32M
require "random writes" rand_writes "$SRC" 20 64K
MANIFESTS_BEFORE=$(bucket_keys | grep -c '/manifest\.json$')

# start an incremental that stalls after one part, then kill -9 it
RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$RBD2S3" "${RB_ARGS[@]}" --part-size 5M backup "$SRC" \
    >"$TMPD/crash.out" 2>"$TMPD/crash.err" </dev/null &
PID=$!
stalled=no
for ((t = 0; t < STALL_WAIT * 2; t++)); do
    if grep -q '^rbd2s3: debug: stalled' "$TMPD/crash.err"; then stalled=yes; break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.5
done
if [ $stalled = yes ]; then
    ok "agent stalled after one part"
else
    not_ok "agent stalled after one part (waited up to ${STALL_WAIT}s)"
    kill -0 "$PID" 2>/dev/null || diag "the agent exited by itself"
    sed 's/^/#   stderr: /' "$TMPD/crash.err" | tail -n 20
fi
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
check "agent is gone" bash -c "! kill -0 $PID 2>/dev/null"

expect_eq "$(bucket_keys | grep -c '/manifest\.json$')" "$MANIFESTS_BEFORE" "no new manifest in the bucket"
check "only the first backup's manifest exists" \
    test "$(bucket_keys | grep '/manifest\.json$')" = "$(key_prefix rbd "$NAME")$ID1/manifest.json"
UPLOADS=$(s3api list-multipart-uploads --bucket "$BUCKET" --output json 2>/dev/null \
          | jq '(.Uploads // []) | length')
diag "incomplete multipart uploads left by the killed run: ${UPLOADS:-?}"

if rb --format json list "$SRC" >"$TMPD/list.json" 2>"$TMPD/list.err"; then
    ok "list after the crash"
    expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/list.json")" "$ID1" \
        "list shows only the committed backup"
else
    not_ok "list after the crash"
    sed 's/^/#   /' "$TMPD/list.err"
fi

if do_backup "$SRC"; then ok "next backup succeeds ($BK_ID)"; else not_ok "next backup"; done_testing; fi
ID3=$BK_ID
expect_eq "$BK_TYPE" incremental "next backup is incremental"
expect_eq "$BK_PARENT" "$ID1" "its parent is the committed backup"
expect_eq "$(snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' ')" "rbd2s3-$ID1 rbd2s3-$ID3 " \
    "the crashed run's snapshot is gone; the committed one stays until the next backup"

SUM=$(img_sum "$SRC@rbd2s3-$ID3")
DST=rbd/$(img crash-r)
if check "restore into the destination" rb restore "$SRC" "$DST" --dest-ceph-conf "$DST_CEPH_CONF"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM" "restored image equals the source snapshot"
fi


# SIGINT midway: the agent cleans up after itself.
require "write more changes" rand_writes "$SRC" 20 64K
UPLOADS_BEFORE=$(s3api list-multipart-uploads --bucket "$BUCKET" --output json 2>/dev/null \
                 | jq '(.Uploads // []) | length')
RBD2S3_DEBUG_STALL_AFTER_PARTS=1 "$RBD2S3" "${RB_ARGS[@]}" -q --part-size 5M backup "$SRC" \
    >"$TMPD/int.out" 2>"$TMPD/int.err" </dev/null &
PID=$!
for ((t = 0; t < STALL_WAIT * 2; t++)); do
    grep -q '^rbd2s3: debug: stalled' "$TMPD/int.err" && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.5
done
SNAPS_DURING=$(snap_names "$SRC" | tr '\n' ' ')
KEYS_DURING=$(bucket_keys | sort | tr '\n' ' ')
rb backup "$SRC" >"$TMPD/second.out" 2>"$TMPD/second.err"
expect_eq "$?" 11 "a second backup while one runs: exit code 11"
expect_eq "$(wc -l <"$TMPD/second.err")" 1 "a second backup while one runs: one stderr line"
check "a second backup while one runs: it names the lock holder" \
    grep -q "^rbd2s3: backup: .* is locked by another run: " "$TMPD/second.err"
expect_eq "$(snap_names "$SRC" | tr '\n' ' ')" "$SNAPS_DURING" \
    "a second backup while one runs: no snapshot created or removed"
expect_eq "$(bucket_keys | sort | tr '\n' ' ')" "$KEYS_DURING" \
    "a second backup while one runs: nothing written to the bucket"
kill -INT "$PID" 2>/dev/null
wait "$PID"
expect_eq "$?" 10 "SIGINT: exit code 10"
expect_eq "$(grep -v '^rbd2s3: debug: stalled' "$TMPD/int.err" | grep -c '^rbd2s3: ')" 1 \
    "SIGINT: one error line"
expect_eq "$(snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' ')" "rbd2s3-$ID3 " \
    "SIGINT: the run's snapshot is removed, the previous one kept"
expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --output json 2>/dev/null \
             | jq '(.Uploads // []) | length')" "$UPLOADS_BEFORE" \
    "SIGINT: the run's multipart upload is aborted"
if do_backup "$SRC"; then ok "backup after SIGINT succeeds"; else not_ok "backup after SIGINT"; fi
expect_eq "$BK_PARENT" "$ID3" "backup after SIGINT is incremental from the last committed one"

done_testing
