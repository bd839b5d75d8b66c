# shellcheck shell=bash
# scenario_recovery.sh - sourced by tests/bench/run.sh: the recovery scenarios, rbd2s3 alone.
#   serve:   `qemu-img convert` of a backup point from `rbd2s3 serve` into a file, against
#            `restore --to-file` of the same point (a server started afresh each round, so
#            that its cache starts cold);
#   instant: `restore --instant --detach` (it returns once the target is usable) against a
#            full restore into a new image; the background copy of the instant restore is
#            waited for, untimed by `timed`, and recorded as its own row.
# Both read the full backup of the generated image, alternating which goes first.

# recovery_setup NAME SEED: a generated image, its full backup in bucket NAME; sets
# REC_ID (the backup id) and REC_SHA (sha256 of the image), removes the source image.
recovery_setup() {
    local f=$TMPD/data/$1.raw
    fresh_sandbox
    mem_guard "creating the image"
    step "generating $SIZE of data (30% holes, 30% random, 40% text) and its full backup"
    gen_image "$f" "$SIZE" "$2"
    info "${1}_size" "$SIZE_B"
    info "${1}_written" "$(written_bytes "$f")"
    import_image "$f" "$IMG"
    rm -f "$f"
    make_bucket "rbd2s3-bench-$TAG-$1"
    quiet "${RB[@]}" --bucket "rbd2s3-bench-$TAG-$1" --format json backup "$IMG" --full
    REC_ID=$(json_field "$TMPD/log/q$QN.log" id)
    [ -n "$REC_ID" ] || die "scenario $1: the full backup printed no id"
    REC_SHA=$(img_sha "$SRC_CEPH_CONF" "$IMG") || die "rbd export of the source failed"
    rm_image_or_die "$SRC_CEPH_CONF" "$IMG"       # what follows reads only the bucket
}

# serve_start BUCKET: rbd2s3 serve on a free loopback port in the background; sets
# SERVE_PID and SERVE_URL (http://127.0.0.1:PORT).
serve_start() {
    local log=$TMPD/log/serve.err out=$TMPD/log/serve.out i
    : >"$log"
    : >"$out"
    # serve prints "serving on http://HOST:PORT/" on stdout (on stderr too, but not with -q)
    "${RB[@]}" --bucket "$1" serve --listen 127.0.0.1:0 >"$out" 2>"$log" &
    SERVE_PID=$!
    for ((i = 0; i < 300; i++)); do
        SERVE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out" | head -n 1)
        [ -n "$SERVE_URL" ] && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    die "rbd2s3 serve did not start"
}

serve_stop() {
    kill -TERM "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=""
}

file_sha() { sha256sum "$1" | cut -d' ' -f1; }

scenarios_serve() {
    local b=rbd2s3-bench-$TAG-serve out=$TMPD/data/served.raw r order tool
    log "== scenario serve: qemu-img convert from rbd2s3 serve vs restore --to-file ($SIZE image, $ROUNDS rounds) =="
    command -v qemu-img >/dev/null || { log "  (skipped: no qemu-img)"; return 0; }
    recovery_setup serve 8
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="qemu file"; else order="file qemu"; fi
        log "  -- round $r (first: ${order%% *})"
        for tool in $order; do
            mem_guard "a read of the backup"
            rm -f "$out"
            if [ "$tool" = qemu ]; then
                serve_start "$b"
                # -m 1: qemu-img 7.2's curl driver stalls for good now and then with
                # several requests in flight (its default -m 8) against a fast server.
                timed serve serve-qemu "$r" qemu-img convert -m 1 -f raw -O raw \
                    "$SERVE_URL/$IMG@$REC_ID.raw" "$out"
                serve_stop
            else
                timed serve serve-file "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$REC_ID" \
                    --to-file "$out"
            fi
            [ "$r" = 1 ] && check_file "serve: $tool" "$out" "$REC_SHA"
        done
    done
    rm -f "$out"
    remove_bucket "$b"
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" serve
    log ""
}

# check_file WHAT FILE SHA: count the file as a restored image checked against SHA.
check_file() {
    if [ "$(file_sha "$2")" = "$3" ]; then
        CHECK_OK=$((CHECK_OK + 1))
    else
        CHECK_BAD=$((CHECK_BAD + 1))
        CHECK_LIST+=("$1")
        echo "$PROG: $1: the file differs from the source" >&2
    fi
}

# instant_wait PIDFILE ROUND: wait for the detached copy to end; its time since the
# restore started is recorded as row instant-total.
instant_wait() {
    local pid t0=$2 i
    pid=$(cat "$1" 2>/dev/null)
    for ((i = 0; i < CMD_TIMEOUT * 10; i++)); do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

scenarios_instant() {
    local b=rbd2s3-bench-$TAG-instant dst=rbd/inst-$TAG new=rbd/ifull-$TAG r order tool t0 total
    local pidf=$TMPD/log/instant.pid logf=$TMPD/log/instant.log
    log "== scenario instant: restore --instant (usable) vs a full restore ($SIZE image, $ROUNDS rounds) =="
    recovery_setup instant 9
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="instant full"; else order="full instant"; fi
        log "  -- round $r (first: ${order%% *})"
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = instant ]; then
                rm -f "$pidf"
                t0=$(date +%s.%N)
                timed instant instant-usable "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$REC_ID" \
                    "$dst" --dest-ceph-conf "$DST_CEPH_CONF" --instant --detach \
                    --pid-file "$pidf" --log-file "$logf"
                total=$(instant_wait "$pidf" "$t0")
                printf 'instant\tinstant-total\t%s\t%s\t0\n' "$r" "$total" >>"$RESULTS"
                printf '  [instant r%s] %-16s %8.2f s\n' "$r" instant-total "$total"
                [ "$r" = 1 ] && verify "instant: rbd2s3 restore --instant" "$DST_CEPH_CONF" "$dst" "$REC_SHA"
                rm_image_or_die "$DST_CEPH_CONF" "$dst"
            else
                timed instant instant-full "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$REC_ID" \
                    "$new" --dest-ceph-conf "$DST_CEPH_CONF"
                [ "$r" = 1 ] && verify "instant: rbd2s3 full restore" "$DST_CEPH_CONF" "$new" "$REC_SHA"
                rm_image_or_die "$DST_CEPH_CONF" "$new"
            fi
        done
    done
    remove_bucket "$b"
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" instant
    log ""
}
