# shellcheck shell=bash
# scenario_scale.sh - sourced by tests/bench/run.sh: the group "scale" (issue 22).
#   scale: SCALE_IMAGES small images (default 200, 64 MiB each, a namespace of their own)
#          with about 1% changed, backed up by the seeds' script loop (per image: `rbd snap
#          create`, `rbd export-diff --from-snap | lz4 | aws s3 cp -`, `rbd snap rm`, i.e.
#          pipeline.sh backup) against `rbd2s3 run`, then, after another 1% change, against
#          `rbd2s3 run --jobs 8` (n/a when the binary does not know --jobs). The first
#          backups (the loop's snapshot, rbd2s3's fulls) are not timed.
#   thin:  a THIN_SIZE (default 4T) thin image holding the data of a THIN_DATA (default 1G)
#          image at the same offsets, against that image: backup --full and a backup with
#          nothing changed, alternating which image goes first, each round in a new bucket.

SCALE_MIB=64

# scale_each CMD...: run CMD (quietly) once per image of the scale namespace, with {} the
# image's spec.
scale_each() {
    local i spec
    for ((i = 1; i <= SCALE_N; i++)); do
        spec=$SCALE_NS/s$i-$TAG
        quiet "${@//\{\}/$spec}"
    done
}

# scale_change SEED: the 1% change (64 KiB writes at 64K-aligned offsets) in every image
scale_change() {
    local nchg=$(((SCALE_MIB * 16 + 50) / 100)) i
    step "changing $((nchg * 64)) KiB of each of the $SCALE_N images"
    for ((i = 1; i <= SCALE_N; i++)); do
        quiet bash -c 'set -o pipefail; "$1" "$2" diff "$3" --count "$4" --len 64K --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
            _ "$PY" "$BENCH_DIR/gen_image.py" $((SCALE_MIB << 20)) "$nchg" $(($1 + i)) \
            "$SRC_CEPH_CONF" "$SCALE_NS/s$i-$TAG"
    done
    info scale_changed $((nchg * 65536))
}

# scale_loop ROUND FROM TO: the seeds' loop over every image, timed as one command
scale_loop() {
    timed scale loop "$1" bash -c 'set -e; for ((i = 1; i <= $1; i++)); do
            "$2" backup "$3" "$4/s$i-$5@$7" "s3://$6/loop/s$i-$7.lz4" "$8"; done' \
        _ "$SCALE_N" "${PIPE[0]}" "$SRC_CEPH_CONF" "$SCALE_NS" "$TAG" "$SCALE_B" "$3" "$2"
}

# scale_jobs_known: does the binary know run --jobs? (its usage, read whole: grep -q would
# end the pipe early, and pipefail would count rbd2s3's SIGPIPE as an answer)
scale_jobs_known() {
    local u
    u=$("$RB_BIN" --help 2>&1)
    [[ $u == *--jobs* ]]
}

scenarios_scale() {
    local f=$TMPD/data/scale.raw conf=$TMPD/scale.conf sha id
    SCALE_N=${SCALE_IMAGES:-200}
    SCALE_NS=rbd/scale$TAG
    SCALE_B=rbd2s3-bench-$TAG-scale
    [[ $SCALE_N =~ ^[1-9][0-9]*$ ]] || die "SCALE_IMAGES: a positive number, not '$SCALE_N'"
    log "== scenario scale: $SCALE_N images of $SCALE_MIB MiB, 1% changed: the script loop vs rbd2s3 run (--jobs 8) =="
    fresh_sandbox
    mem_guard "creating the images"
    step "creating $SCALE_N images of $SCALE_MIB MiB (30% holes, 30% random, 40% text) in $SCALE_NS"
    gen_image "$f" "${SCALE_MIB}M" 11
    info scale_images "$SCALE_N"
    info scale_size $((SCALE_MIB << 20))
    info scale_written "$(written_bytes "$f")"
    quiet rbd_src namespace create "$SCALE_NS"
    scale_each rbd_src import --no-progress --sparse-size 4K "$f" "{}"
    rm -f "$f"
    make_bucket "$SCALE_B"
    printf '[pool:%s]\nimages = *\n' "$SCALE_NS" >"$conf"

    step "first backups, not timed: the loop's snapshot p0, rbd2s3 run (fulls)"
    scale_each rbd_src snap create --no-progress "{}@p0"
    quiet "${RB[@]}" --bucket "$SCALE_B" -c "$conf" run
    scale_change 3000
    scale_loop 1 p0 p1
    timed scale run 1 "${RB[@]}" --bucket "$SCALE_B" -c "$conf" run
    if scale_jobs_known; then
        scale_change 4000
        # this time rbd2s3 goes first
        timed scale jobs 1 "${RB[@]}" --bucket "$SCALE_B" -c "$conf" run --jobs 8
        scale_loop 2 p1 p2
    else
        step "run --jobs: this binary does not know it (n/a)"
    fi
    step "checking one image: its newest backup restored, not timed"
    id=$(timeout 120 "${RB[@]}" --bucket "$SCALE_B" --format json list "$SCALE_NS/s1-$TAG" |
         jq -r '.backups[-1].id // empty')
    sha=$(img_sha "$SRC_CEPH_CONF" "$SCALE_NS/s1-$TAG@rbd2s3-$id") || die "rbd export of the source failed"
    quiet "${RB[@]}" --bucket "$SCALE_B" restore "$SCALE_NS/s1-$TAG@$id" "rbd/sdst-$TAG" \
        --dest-ceph-conf "$DST_CEPH_CONF"
    verify "scale: rbd2s3 restore of an image backed up by run" "$DST_CEPH_CONF" "rbd/sdst-$TAG" "$sha"
    rm_image_or_die "$DST_CEPH_CONF" "rbd/sdst-$TAG"
    scale_each rm_image "$SRC_CEPH_CONF" "{}"
    timeout 120 rbd -c "$SRC_CEPH_CONF" namespace remove "$SCALE_NS" >/dev/null 2>&1
    remove_bucket "$SCALE_B"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" scale
    log ""
    scenarios_thin
}

scenarios_thin() {
    local f=$TMPD/data/thin.raw small=rbd/thin-small-$TAG large=rbd/thin-large-$TAG r b order
    local which spec tsize=${THIN_SIZE:-4T} tdata=${THIN_DATA:-1G} tsize_b
    tsize_b=$(to_bytes "$tsize") || die "THIN_SIZE: bad size '$tsize'"
    log "== scenario scale (thin): a $tsize thin image against a $tdata image with the same data ($ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the images"
    step "generating $tdata of data; importing it as both images (the large one then resized)"
    gen_image "$f" "$tdata" 12
    info thin_written "$(written_bytes "$f")"
    info thin_small "$(to_bytes "$tdata")"
    info thin_large "$tsize_b"
    import_image "$f" "$small"
    import_image "$f" "$large"
    rm -f "$f"
    quiet rbd_src resize --no-progress --size $((tsize_b >> 20)) "$large"
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="small large"; else order="large small"; fi
        b=rbd2s3-bench-$TAG-thin$r
        make_bucket "$b"
        log "  -- round $r (first: ${order%% *})"
        for which in $order; do
            spec=$small
            [ "$which" = large ] && spec=$large
            timed thin "full-$which" "$r" "${RB[@]}" --bucket "$b" --format json backup "$spec" --full
            [ "$(json_field "$T_OUT" type)" = full ] || die "rbd2s3 backup --full made no full"
        done
        for which in $order; do
            spec=$small
            [ "$which" = large ] && spec=$large
            timed thin "nochange-$which" "$r" "${RB[@]}" --bucket "$b" --format json backup "$spec"
            [ "$(json_field "$T_OUT" type)" = incremental ] || die "rbd2s3 backup made no incremental"
        done
        remove_bucket "$b"
        quiet rbd_src snap purge --no-progress "$small"
        quiet rbd_src snap purge --no-progress "$large"
    done
    rm_image "$SRC_CEPH_CONF" "$small"
    rm_image "$SRC_CEPH_CONF" "$large"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" thin
    log ""
}
