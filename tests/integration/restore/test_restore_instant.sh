#!/usr/bin/env bash
# restore --instant: the target is created by librbd's import-only live migration from the
# backup point that rbd2s3 serves on loopback, usable before the copy (execute) ends.
# RBD2S3_DEBUG_INSTANT_PAUSE=FILE makes the agent wait after prepare until FILE exists, so
# that the script reads and writes the target while nothing is copied yet. Then: the final
# image equals the source snapshot plus the write made during the migration, carries the
# backup's snapshot, and no migration is left; a kill -9 while paused, or halfway through
# the copy (RBD2S3_DEBUG_INSTANT_PAUSE_COPY), is finished by --resume; a SIGTERM leaves it
# for `rbd migration abort`; --detach; the refusals; a damaged chunk stops the copy.
. "$(dirname "$0")/../lib.sh"

NAME=$(img inst)
SRC=rbd/$NAME
PAUSE_WAIT=${PAUSE_WAIT:-120}
DC=(--dest-ceph-conf "$DST_CEPH_CONF")

require "create a 64 MiB image" create_image "$SRC" 64M
require "fill it with random data" write_random "$SRC" 0 64M
if do_backup "$SRC"; then ok "full backup ($BK_ID)"; else not_ok "full backup"; done_testing; fi
ID1=$BK_ID
require "write changes" rand_writes "$SRC" 20 256K
if do_backup "$SRC"; then ok "incremental backup ($BK_ID)"; else not_ok "incremental"; done_testing; fi
ID2=$BK_ID
require "export the source snapshot of $ID2" \
    rbd_src export --no-progress "$SRC@rbd2s3-$ID2" "$TMPD/src2.raw"
SUM2=$(file_sum "$TMPD/src2.raw")

# start_paused NAME ARGS...: an instant restore paused after prepare (it printed its usable
# line); sets SPID (0 if it did not get there: it failed or finished first). With
# HOOK=COPY, paused halfway through the copy instead.
start_paused() {
    local n=$1 hook=RBD2S3_DEBUG_INSTANT_PAUSE${HOOK:+_$HOOK}
    local when=${HOOK:+halfway through the copy}
    shift
    rm -f "$TMPD/go-$n"
    : >"$TMPD/$n.err"
    env "$hook=$TMPD/go-$n" "$RBD2S3" "${RB_ARGS[@]}" -v restore "$@" \
        --instant >"$TMPD/$n.out" 2>"$TMPD/$n.err" </dev/null &
    SPID=$!
    wait_line "$SPID" "$TMPD/$n.err" "paused ${when:-after prepare}" "$PAUSE_WAIT" pause &&
        return 0
    SPID=0
    return 1
}

# mig_state SPEC: the state of the target's migration ("" for none; "status-failed" when
# `rbd status` fails, as it does for an import whose source is down).
mig_state() {
    local out
    out=$(rbd -c "$DST_CEPH_CONF" status "$1" 2>&1) || {
        echo status-failed
        grep -v '^$' <<<"$out" | tail -n 4 | sed 's/^/# rbd status: /' >&2
        return
    }
    sed -n 's/^\tstate: //p' <<<"$out"
}

# range_sum SPEC OFF LEN: sha256 of LEN bytes at OFF of the image (rbd export | dd).
range_sum() {
    rbd -c "$DST_CEPH_CONF" export --no-progress "$1" - 2>/dev/null |
        dd bs=64K iflag=fullblock,skip_bytes,count_bytes skip="$2" count="$3" status=none |
        sha256sum |
        cut -d' ' -f1
}
file_range() {
    dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none |
        sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- paused, read, write
DST=rbd/$(img inst-a)
WOFF=$((9 * 1048576 + 8192))
head -c 4096 /dev/urandom >"$TMPD/patch"
cp "$TMPD/src2.raw" "$TMPD/want.raw"
dd if="$TMPD/patch" of="$TMPD/want.raw" bs=4096 seek=$((WOFF / 4096)) conv=notrunc status=none
WANT=$(file_sum "$TMPD/want.raw")
if start_paused a "$SRC@$ID2" "$DST" "${DC[@]}"; then
    ok "instant restore paused after prepare"
    check "it printed the usable line" grep -q "^$DST is usable now; copying in the background" \
        "$TMPD/a.out"
    expect_eq "$(mig_state "$DST")" "prepared" "the target is in a prepared migration"
    SPEC=$(rbd -c "$DST_CEPH_CONF" status "$DST" | sed -n 's/^\tsource: //p')
    check "its source is the exact backup on loopback ($SPEC)" \
        grep -q "\"url\":\"http://127.0.0.1:[0-9]*/rbd/$NAME@$ID2.raw\"" <<<"$SPEC"
    check "no credential in the source spec" bash -c '! grep -qi -e "$1" -e "$2" <<<"$3"' _ \
        "$AWS_SECRET_ACCESS_KEY" "$AWS_ACCESS_KEY_ID" "$SPEC"
    for r in "0 1048576" "$((20 * 1048576 + 4096)) 65536" "$((63 * 1048576)) 1048576"; do
        read -r off len <<<"$r"
        expect_eq "$(range_sum "$DST" "$off" "$len")" "$(file_range "$TMPD/src2.raw" "$off" \
            "$len")" "before the copy: $len bytes at $off equal the backup's"
    done
    python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"rbd diff v1\n" + b"w" + struct.pack("<QQ", int(sys.argv[2]),
                        len(data)) + data + b"e")' "$TMPD/patch" "$WOFF" >"$TMPD/patch.diff"
    check "4 KiB written into the target during the migration" \
        rbd -c "$DST_CEPH_CONF" import-diff --no-progress "$TMPD/patch.diff" "$DST"
    touch "$TMPD/go-a"
    wait "$SPID"
    expect_eq "$?" 0 "the instant restore finished"
    SPID=0
else
    not_ok "instant restore paused after prepare"
fi
check "it printed the restored line" grep -q "^rbd/$NAME@$ID2 restored to $DST (usable after" \
    "$TMPD/a.out"
diag "$(cat "$TMPD/a.out")"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$WANT" "the target equals the snapshot plus the write"
check "the target has the snapshot rbd2s3-$ID2" \
    bash -c "rbd -c '$DST_CEPH_CONF' snap ls '$DST' | grep -q 'rbd2s3-$ID2'"
expect_eq "$(img_sum "$DST@rbd2s3-$ID2" "$DST_CEPH_CONF")" "$WANT" "and the snapshot holds that"
expect_eq "$(rbd -c "$DST_CEPH_CONF" image-meta get "$DST" rbd2s3.source 2>&1)" "$SRC" \
    "its image-meta rbd2s3.source names the source image (as every restore)"
expect_eq "$(mig_state "$DST")" "" "no migration is left on the target"

# ---------------------------------------------------------------- refusals
expect_rc 7 "instant restore onto an existing image" r1 restore "$SRC" "$DST" --instant "${DC[@]}"
check "it says: destination image already exists" grep -q "already exists" "$TMPD/r1.err"
expect_rc 7 "--resume of an image in no migration" r2 restore "$SRC" "$DST" --instant --resume \
    "${DC[@]}"
FOREIGN=rbd/$(img inst-f)
head -c 1M /dev/zero >"$TMPD/foreign.raw"
require "a foreign migration into $FOREIGN" rbd -c "$DST_CEPH_CONF" migration prepare \
    --import-only --source-spec "{\"type\":\"raw\",\"stream\":{\"type\":\"file\",
    \"file_path\":\"$TMPD/foreign.raw\"}}" "$FOREIGN"
expect_rc 7 "--resume of a migration rbd2s3 did not start" r3 restore "$SRC" "$FOREIGN" \
    --instant --resume "${DC[@]}"
check "it says so" grep -q "not an instant restore of rbd/$NAME" "$TMPD/r3.err"
expect_eq "$(mig_state "$FOREIGN")" "prepared" "the foreign migration is left alone"
expect_rc 7 "an instant restore onto it" r3b restore "$SRC" "$FOREIGN" --instant "${DC[@]}"
rbd -c "$DST_CEPH_CONF" migration abort --no-progress "$FOREIGN" >/dev/null 2>&1
expect_rc 3 "--resume with no target" r4 restore "$SRC" "rbd/$(img inst-none)" --instant \
    --resume "${DC[@]}"
expect_rc 3 "an unknown backup" r5 restore "$SRC@20000101T000000Z" "rbd/$(img inst-none)" \
    --instant "${DC[@]}"

# ---------------------------------------------------------------- kill -9, --resume
DST=rbd/$(img inst-k)
if start_paused k "$SRC" "$DST" "${DC[@]}"; then
    ok "second instant restore paused after prepare"
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=0
    expect_rc 7 "a plain rerun refuses the unfinished one" k0 restore "$SRC" "$DST" --instant \
        "${DC[@]}"
    check "and says how to go on" grep -q "running or was left unfinished: rerun with \
--resume, or .rbd migration abort" \
        "$TMPD/k0.err"
    PORT=$(sed -n 's|.*serving .* on 127.0.0.1:\([0-9]*\)$|\1|p' "$TMPD/k.err")
    expect_eq "$(mig_state "$DST")" "status-failed" "with its server gone, rbd status fails"
    python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(60)' "$PORT" &
    HOLD=$!
    sleep 0.5
    expect_rc 11 "--resume while its port ($PORT) is taken" k1 restore "$SRC" "$DST" --instant \
        --resume "${DC[@]}"
    check "it names the port" grep -q "127.0.0.1:$PORT" "$TMPD/k1.err"
    kill "$HOLD"
    wait "$HOLD" 2>/dev/null
    expect_rc 0 "--resume finishes it" k2 restore "$SRC" "$DST" --instant --resume "${DC[@]}"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$SUM2" "the resumed target equals the snapshot"
    check "the resumed target has the snapshot rbd2s3-$ID2" \
        bash -c "rbd -c '$DST_CEPH_CONF' snap ls '$DST' | grep -q 'rbd2s3-$ID2'"
    expect_eq "$(mig_state "$DST")" "" "no migration is left"
else
    not_ok "second instant restore paused after prepare"
fi

# ---------------------------------------------------------------- kill -9 in the copy
DST=rbd/$(img inst-m)
if HOOK=COPY start_paused m "$SRC@$ID1" "$DST" "${DC[@]}"; then
    ok "an instant restore paused halfway through the copy"
    kill -9 "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=0
    expect_rc 0 "--resume finishes it (the dead run's lock lingers about 30 s)" m1 restore \
        "$SRC@$ID1" "$DST" --instant --resume "${DC[@]}"
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-$ID1")" \
        "the target equals the snapshot of $ID1"
    expect_eq "$(mig_state "$DST")" "" "no migration is left"
else
    not_ok "an instant restore paused halfway through the copy"
fi

# ---------------------------------------------------------------- SIGTERM, abort
DST=rbd/$(img inst-x)
if start_paused x "$SRC@$ID1" "$DST" "${DC[@]}"; then
    ok "third instant restore paused after prepare"
    kill -TERM "$SPID"
    wait "$SPID"
    expect_eq "$?" 10 "SIGTERM while paused: exit 10"
    SPID=0
    check "it says how to go on" grep -q "interrupted: $DST is usable but not complete: rerun \
with --resume, or .rbd migration abort $DST." "$TMPD/x.err"
    check "rbd migration abort" rbd -c "$DST_CEPH_CONF" migration abort --no-progress "$DST"
    check "leaves no target" bash -c "! rbd -c '$DST_CEPH_CONF' info '$DST' >/dev/null 2>&1"
else
    not_ok "third instant restore paused after prepare"
fi

# ---------------------------------------------------------------- --detach
DST=rbd/$(img inst-d)
rb --format json restore "$SRC@$ID1" "$DST" --instant --detach --pid-file "$TMPD/d.pid" \
    --log-file "$TMPD/d.log" "${DC[@]}" >"$TMPD/d.out" 2>"$TMPD/d.err"
expect_eq "$?" 0 "--detach returns once the target is usable"
expect_eq "$(jq -r '[.state, .destination, .id, .pid_file, .log_file] | join(" ")' \
    "$TMPD/d.out" 2>&1)" "usable $DST $ID1 $TMPD/d.pid $TMPD/d.log" \
    "its JSON says usable, the target, the backup, the pid and log files"
check "and the time it took" jq -e '.usable_seconds > 0 and .pid > 1' "$TMPD/d.out"
DPID=$(cat "$TMPD/d.pid" 2>/dev/null)
for ((t = 0; t < 600; t++)); do
    [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null || break
    sleep 0.2
done
check "the detached run ended" bash -c "! kill -0 '${DPID:-0}' 2>/dev/null"
check "its log says it is restored" grep -q '"state":"restored"' "$TMPD/d.log"
check "its pid file is gone" test ! -e "$TMPD/d.pid"
expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-$ID1")" \
    "the detached restore equals the snapshot of $ID1"
expect_eq "$(mig_state "$DST")" "" "no migration is left"

# ---------------------------------------------------------------- a damaged chunk
# (last: it damages the chain) the copy stops, the migration is left for abort. The chunk
# is inside one of librbd's 4 MiB reads, not at its start: serve reads a ranged answer
# whole before its headers (then 502); a cut body would be retried by librbd 16.2 for
# ever (HttpClient: "remote peer stream closed, retrying request").
rb --format json show "$SRC@$ID1" --chunks >"$TMPD/show.json" 2>/dev/null
read -r COFF PACK POFF PLEN < <(jq -r '[.chunks[] | select(.kind != "zero" and
    .offset >= 33554432 and .offset % 4194304 != 0)][0] |
    "\(.offset) \(.pack) \(.pack_offset) \(.stored)"' "$TMPD/show.json")
KEY=$(jq -r ".data_objects[${PACK:-0}].key" "$TMPD/show.json")
require "a data chunk past 32 MiB ($KEY at $POFF)" test -n "$KEY" -a "$KEY" != null
require "download $KEY" s3api get-object --bucket "$BUCKET" --key "$KEY" "$TMPD/obj"
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); at = int(sys.argv[2])
d[at:at + 16] = bytes(b ^ 0xA5 for b in d[at:at + 16]); open(sys.argv[1], "wb").write(d)' \
    "$TMPD/obj" "$((POFF + PLEN / 2))"
require "upload it damaged" s3api put-object --bucket "$BUCKET" --key "$KEY" --body "$TMPD/obj"
DST=rbd/$(img inst-b)
RB_TIMEOUT=300 expect_rc 1 "an instant restore over a damaged chunk" b1 restore "$SRC@$ID1" \
    "$DST" --instant "${DC[@]}"
check "the server names the checksum mismatch" grep -q "checksum mismatch.*answered 502" \
    "$TMPD/b1.err"
check "it says the target is not complete and how to go on" grep -q "$DST is usable but not \
complete (rerun with --resume, or .rbd migration abort $DST.)" "$TMPD/b1.err"
check "rbd migration abort" rbd -c "$DST_CEPH_CONF" migration abort --no-progress "$DST"
check "leaves no target" bash -c "! rbd -c '$DST_CEPH_CONF' info '$DST' >/dev/null 2>&1"

done_testing
