# shellcheck shell=bash
# scenario_onto.sh - sourced by tests/bench/run.sh: scenario "onto", rbd2s3 alone. A
# standby restored from a full backup is caught up with `restore --onto` to the
# incremental taken after 1% of the image changed, against a full restore of that
# incremental into a new image; both into the destination cluster, alternating which goes
# first. The standby is restored afresh (not timed) before each round.

scenarios_onto() {
    local f=$TMPD/data/onto.raw b=rbd2s3-bench-$TAG-onto std=rbd/ostd-$TAG new=rbd/onew-$TAG
    local nchg=$(((SIZE_B / 65536 + 50) / 100)) full_id inc_id sha r order tool
    log "== scenario onto: catch-up restore of a 1% change vs a full restore ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the image"
    step "generating $SIZE of data (30% holes, 30% random, 40% text), a full backup, the 1% change, an incremental"
    gen_image "$f" "$SIZE" 7
    info onto_size "$SIZE_B"
    info onto_written "$(written_bytes "$f")"
    import_image "$f" "$IMG"
    rm -f "$f"
    make_bucket "$b"
    quiet "${RB[@]}" --bucket "$b" --format json backup "$IMG" --full
    full_id=$(json_field "$TMPD/log/q$QN.log" id)
    quiet bash -c 'set -o pipefail; "$1" "$2" diff "$3" --count "$4" --len 64K --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
        _ "$PY" "$BENCH_DIR/gen_image.py" "$SIZE_B" "$nchg" 7001 "$SRC_CEPH_CONF" "$IMG"
    quiet "${RB[@]}" --bucket "$b" --format json backup "$IMG"
    inc_id=$(json_field "$TMPD/log/q$QN.log" id)
    [ -n "$full_id" ] && [ "$(json_field "$TMPD/log/q$QN.log" type)" = incremental ] ||
        die "scenario onto: no full backup and incremental"
    info onto_changed $((nchg * 65536))
    sha=$(img_sha "$SRC_CEPH_CONF" "$IMG@rbd2s3-$inc_id") || die "rbd export of the source failed"
    rm_image_or_die "$SRC_CEPH_CONF" "$IMG"       # the restores read only the bucket

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="onto full"; else order="full onto"; fi
        log "  -- round $r (first: ${order%% *})"
        mem_guard "a restore"
        step "restoring the standby from the full (not timed)"
        quiet "${RB[@]}" --bucket "$b" restore "$IMG@$full_id" "$std" --dest-ceph-conf "$DST_CEPH_CONF"
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = onto ]; then
                timed onto onto "$r" "${RB[@]}" --bucket "$b" --format json restore \
                    "$IMG@$inc_id" "$std" --dest-ceph-conf "$DST_CEPH_CONF" --onto
                if [ "$r" = 1 ]; then
                    info onto_bytes_written "$(json_field "$T_OUT" bytes_written)"
                    info onto_bytes_discarded "$(json_field "$T_OUT" bytes_discarded)"
                    verify "onto: rbd2s3 restore --onto" "$DST_CEPH_CONF" "$std" "$sha"
                fi
            else
                timed onto onto-full "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$inc_id" "$new" \
                    --dest-ceph-conf "$DST_CEPH_CONF"
                [ "$r" = 1 ] && verify "onto: rbd2s3 full restore" "$DST_CEPH_CONF" "$new" "$sha"
                rm_image_or_die "$DST_CEPH_CONF" "$new"
            fi
        done
        rm_image_or_die "$DST_CEPH_CONF" "$std"
    done
    remove_bucket "$b"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" onto
    log ""
}
