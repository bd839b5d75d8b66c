# shellcheck shell=bash
# scenario_ratelimit.sh - sourced by tests/bench/run.sh: scenario "ratelimit". An image of
# RL_SIZE (default 200M) of incompressible random data (so that what goes over the wire
# is the image) is backed up with `--limit-upload RL_RATE` (default 20M: 20 MiB/s =
# 20.97 MB/s, rbd2s3's sizes being binary) and restored with `--limit-download RL_RATE`,
# against the pipeline under the aws CLI's own limit (`s3.max_bandwidth`, the same number
# of bytes per second), and against rbd2s3 without a limit (that the limit is what
# bounds it). Each round in a fresh bucket, alternating which tool goes first. Reported:
# the achieved rate (the bytes in the bucket over the whole command's elapsed time, start
# and snapshot included) and its ratio to the limit.

# rl_aws_config FILE BYTES: the sandbox's aws config with s3.max_bandwidth = BYTES per
# second, written in KB/s (the aws CLI's KB is 1024 bytes, as rbd2s3's K)
rl_aws_config() {
    local bw="$(($2 / 1024))KB/s"
    if grep -q '^s3 *=' "$AWS_CONFIG_FILE" 2>/dev/null; then
        sed "/^s3 *=/a\\    max_bandwidth = $bw" "$AWS_CONFIG_FILE" >"$1"
    else
        { cat "$AWS_CONFIG_FILE" 2>/dev/null || echo "[default]"
          printf 's3 =\n    max_bandwidth = %s\n' "$bw"; } >"$1"
    fi
}

scenarios_ratelimit() {
    local img=rbd/rl-$TAG dst=rbd/rldst-$TAG pdst=rbd/rlpdst-$TAG cfg=$TMPD/aws-rl.config
    local size=${RL_SIZE:-200M} rate=${RL_RATE:-20M} size_b rate_b b r order tool id sha
    size_b=$(to_bytes "$size") && [ $((size_b % (4 << 20))) -eq 0 ] ||
        die "RL_SIZE: a multiple of 4M, not '$size'"
    rate_b=$(to_bytes "$rate") || die "RL_RATE: a size like 20M, not '$rate'"
    log "== scenario ratelimit: backup and restore at a limit of $rate/s ($((rate_b >> 20)) MiB/s), $size of random data, $ROUNDS rounds =="
    fresh_sandbox
    mem_guard "creating the image"
    step "writing $size of random data (gen_image.py fill)"
    rbd_src create --size $((size_b >> 20)) "$img" || die "cannot create $img"
    quiet bash -c 'set -o pipefail; "$1" "$2" fill 0 "$3" --seed 11 | rbd -c "$4" import-diff --no-progress - "$5"' \
        _ "$PY" "$BENCH_DIR/gen_image.py" "$size_b" "$SRC_CEPH_CONF" "$img"
    rl_aws_config "$cfg" "$rate_b"
    info rl_size "$size_b"
    info rl_rate "$rate_b"

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="rbd2s3 pipeline"; else order="pipeline rbd2s3"; fi
        b=rbd2s3-bench-$TAG-rl$r
        log "  -- round $r (first: ${order%% *})"
        mem_guard "round $r"
        make_bucket "$b"
        for tool in $order; do
            if [ "$tool" = pipeline ]; then
                timed ratelimit rl-pipe-backup "$r" env AWS_CONFIG_FILE="$cfg" "${PIPE[@]}" \
                    backup "$SRC_CEPH_CONF" "$img@prl$r" "s3://$b/pipeline/full.lz4"
            else
                timed ratelimit rl-backup "$r" "${RB[@]}" --bucket "$b" --format json \
                    backup "$img" --full --limit-upload "$rate"
                id=$(json_field "$T_OUT" id)
                [ -n "$id" ] || die "rbd2s3 backup printed no id: $(head -c 500 "$T_OUT")"
            fi
        done
        if [ "$r" = 1 ]; then
            info rl_bytes_rbd2s3 "$(bucket_bytes "$b" rbd2s3/)"
            info rl_bytes_pipeline "$(bucket_bytes "$b" pipeline/)"
            sha=$(img_sha "$SRC_CEPH_CONF" "$img@prl$r") || die "rbd export of the source failed"
        fi
        quiet rbd_src snap rm --no-progress "$img@prl$r"
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = pipeline ]; then
                timed ratelimit rl-pipe-restore "$r" env AWS_CONFIG_FILE="$cfg" "${PIPE[@]}" \
                    restore "$DST_CEPH_CONF" "s3://$b/pipeline/full.lz4" "$pdst" $((size_b >> 20))
                [ "$r" = 1 ] && verify "ratelimit: pipeline restore" "$DST_CEPH_CONF" "$pdst" "$sha"
                rm_image_or_die "$DST_CEPH_CONF" "$pdst"
            else
                timed ratelimit rl-restore "$r" "${RB[@]}" --bucket "$b" restore "$img@$id" \
                    "$dst" --dest-ceph-conf "$DST_CEPH_CONF" --limit-download "$rate"
                [ "$r" = 1 ] && verify "ratelimit: rbd2s3 restore at the limit" "$DST_CEPH_CONF" "$dst" "$sha"
                rm_image_or_die "$DST_CEPH_CONF" "$dst"
            fi
        done
        # the same without a limit: what the limit holds back
        timed ratelimit rl-backup-free "$r" "${RB[@]}" --bucket "$b" backup "$img" --full
        timed ratelimit rl-restore-free "$r" "${RB[@]}" --bucket "$b" restore "$img@$id" \
            "$dst" --dest-ceph-conf "$DST_CEPH_CONF"
        rm_image_or_die "$DST_CEPH_CONF" "$dst"
        remove_bucket "$b"
    done
    rm_image_or_die "$SRC_CEPH_CONF" "$img"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" ratelimit
    log ""
}
