# shellcheck shell=bash
# scenarios.sh - sourced by tests/bench/run.sh: the scenario groups, each a function that
# times the shell pipeline (pipeline.sh) and rbd2s3 on the same data, checks the restored
# images' checksums once and prints its tables (report.py): scenarios_full (1-3),
# scenarios_chain (4), scenarios_rss (5), scenarios_enc (6: rbd2s3 alone, plain and
# encrypted).

# ================================================================== scenarios 1-3

scenarios_full() {
    local f=$TMPD/data/img.raw written r order tool b full_id inc_id sha_full sha_inc stored_inc
    local nchg=$(((SIZE_B / 65536 + 50) / 100))
    log "== scenarios 1-3: full backup, restore, 1% incremental ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    step "generating $SIZE of data (30% holes, 30% random, 40% text)"
    gen_image "$f" "$SIZE" 1
    written=$(written_bytes "$f")
    info size "$SIZE_B"
    info written "$written"
    info changed $((nchg * 65536))

    # Each round: import the image, the two full backups (1) and, after the 1% change,
    # the two incrementals (3); then the source image is deleted (its RAM is freed) and
    # the restores (2) run. So the sandbox never holds the source image and a restored
    # copy at once.
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="pipeline rbd2s3"; else order="rbd2s3 pipeline"; fi
        b=rbd2s3-bench-$TAG-r$r
        mem_guard "round $r"
        log "  -- round $r (first: ${order%% *})"
        import_image "$f" "$IMG"
        make_bucket "$b"

        # 1. full backup (the pipeline creates its snapshot pfull inside its timed run)
        for tool in $order; do
            if [ "$tool" = pipeline ]; then
                timed 1 pipeline "$r" "${PIPE[@]}" backup "$SRC_CEPH_CONF" "$IMG@pfull" "s3://$b/pipeline/full.lz4"
            else
                timed 1 rbd2s3 "$r" "${RB[@]}" --bucket "$b" --format json backup "$IMG" --full
                full_id=$(json_field "$T_OUT" id)
                [ -n "$full_id" ] && [ "$(json_field "$T_OUT" type)" = full ] ||
                    die "rbd2s3 backup --full printed no full backup: $(head -c 500 "$T_OUT")"
            fi
        done
        if [ "$r" = 1 ]; then
            info stored_full_pipeline "$(bucket_bytes "$b" pipeline/)"
            info stored_full_rbd2s3 "$(bucket_bytes "$b" rbd2s3/)"
            sha_full=$(img_sha "$SRC_CEPH_CONF" "$IMG@pfull") || die "rbd export of the source failed"
        fi

        # Steady state for rbd2s3's incremental: a backup with nothing changed, so that the
        # timed one, like every backup after the second, also removes the superseded
        # snapshot (snap cleanup = deferred; the pipeline removes pfull). It is timed as a
        # row of its own, with no target: the part of every incremental that moves no data
        # (start, connect, snapshot, commit), and the daemons' CPU behind that part.
        timed 3 rbd2s3-nochange "$r" "${RB[@]}" --bucket "$b" backup "$IMG"
        # 3. incremental after 1% changed: 64 KiB random writes at 64K-aligned offsets
        quiet bash -c 'set -o pipefail; "$1" "$2" diff "$3" --count "$4" --len 64K --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
            _ "$PY" "$BENCH_DIR/gen_image.py" "$SIZE_B" "$nchg" $((1000 + r)) "$SRC_CEPH_CONF" "$IMG"
        # (the pipeline creates pinc and removes pfull inside its timed run)
        for tool in $order; do
            [ "$r" = 1 ] && out0=$(osd_out_bytes)
            if [ "$tool" = pipeline ]; then
                timed 3 pipeline-inc "$r" "${PIPE[@]}" backup "$SRC_CEPH_CONF" "$IMG@pinc" "s3://$b/pipeline/inc.lz4" pfull
            else
                timed 3 rbd2s3 "$r" "${RB[@]}" --bucket "$b" --format json backup "$IMG"
                inc_id=$(json_field "$T_OUT" id)
                [ "$(json_field "$T_OUT" type)" = incremental ] && [ -n "$(json_field "$T_OUT" parent)" ] ||
                    die "rbd2s3 backup made no incremental: $(head -c 500 "$T_OUT")"
            fi
            [ "$r" = 1 ] && out1=$(osd_out_bytes) && [ -n "$out0" ] && [ -n "$out1" ] &&
                info "osd_out_inc_$tool" $((out1 - out0))
        done
        if [ "$r" = 1 ]; then
            info stored_inc_pipeline "$(bucket_bytes "$b" pipeline/inc)"
            stored_inc=$(bucket_bytes "$b" "rbd2s3/${IMG}/$inc_id/")
            info stored_inc_rbd2s3 "$stored_inc"
            sha_inc=$(img_sha "$SRC_CEPH_CONF" "$IMG@pinc") || die "rbd export of the source failed"
        fi
        if [ "$r" = "$ROUNDS" ]; then
            # the fixed part of any incremental here: one snapshot create (monitor commit);
            # measured last, as the snapshots it makes must not touch the timed rounds
            info snap_commit_ms "$(timeout 120 "$PY" "$BENCH_DIR/snapcommit.py" "$SRC_CEPH_CONF" \
                "${IMG%%/*}" "${IMG#*/}" 5 2>/dev/null || echo n/a)"
            info ncpu "$(nproc)"
            info upload_alone_ms "$(upload_alone "$b" "$stored_inc")"
        fi
        rm_image_or_die "$SRC_CEPH_CONF" "$IMG"

        # 2. restore of the full, into the destination cluster
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = pipeline ]; then
                timed 2 pipeline-restore "$r" "${PIPE[@]}" restore "$DST_CEPH_CONF" \
                    "s3://$b/pipeline/full.lz4" "rbd/pdst-$TAG" "$SIZE_MIB"
                [ "$r" = 1 ] && verify "2: pipeline restore of the full" "$DST_CEPH_CONF" "rbd/pdst-$TAG" "$sha_full"
                rm_image_or_die "$DST_CEPH_CONF" "rbd/pdst-$TAG"
            else
                timed 2 rbd2s3 "$r" "${RB[@]}" --bucket "$b" restore "$IMG@$full_id" "rbd/rdst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
                [ "$r" = 1 ] && verify "2: rbd2s3 restore of the full" "$DST_CEPH_CONF" "rbd/rdst-$TAG" "$sha_full"
                rm_image_or_die "$DST_CEPH_CONF" "rbd/rdst-$TAG"
            fi
        done

        if [ "$r" = 1 ]; then
            step "checking the incrementals: restores of full + incremental, not timed"
            mem_guard "a restore"
            quiet "${RB[@]}" --bucket "$b" restore "$IMG@$inc_id" "rbd/rdst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
            verify "3: rbd2s3 restore of full + 1% incremental" "$DST_CEPH_CONF" "rbd/rdst-$TAG" "$sha_inc"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/rdst-$TAG"
            quiet rbd_dst create --size "$SIZE_MIB" "rbd/pdst-$TAG"
            quiet "${PIPE[@]}" restore "$DST_CEPH_CONF" "s3://$b/pipeline/full.lz4" "rbd/pdst-$TAG"
            quiet "${PIPE[@]}" restore "$DST_CEPH_CONF" "s3://$b/pipeline/inc.lz4" "rbd/pdst-$TAG"
            verify "3: pipeline restore of full + 1% incremental" "$DST_CEPH_CONF" "rbd/pdst-$TAG" "$sha_inc"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/pdst-$TAG"
        fi
        [ "$r" = 1 ] && mem_note
        remove_bucket "$b"
    done
    want chain || rm -f "$f"      # scenario 4 imports the same file
    log ""
    for s in 1 2 3; do "$PY" "$BENCH_DIR/report.py" table "$RESULTS" "$s"; log ""; done
}

# ================================================================== scenario 4
scenarios_chain() {
    local f=$TMPD/data/img.raw cdir=$TMPD/data/chain bc bp k r order tool sha0 sha5 full_id sum rss
    local q0=$((SIZE_B / 4)) ql=$((SIZE_B / 4))
    mkdir -p "$cdir"
    log "== scenario 4: restore of the end of a chain ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the image"
    if [ ! -f "$f" ]; then
        step "generating $SIZE of data (30% holes, 30% random, 40% text)"
        gen_image "$f" "$SIZE" 1
    fi
    step "importing the image"
    import_image "$f" "$IMG"
    rm -f "$f"
    info chain_size "$SIZE_B"
    bc=rbd2s3-bench-$TAG-chain
    make_bucket "$bc"
    quiet rbd_src snap purge --no-progress "$IMG"

    # Scenario 4 restores into the source cluster (its images are gone by then): the
    # memstore OSD reuses the RAM of the deleted image, which a second OSD could not.
    # Build the chain (not timed). The pipeline's diffs go to local files for now, so that
    # the bucket never holds both tools' chains at once (the OSDs keep everything in RAM).
    step "building the chain: a full, then 5 x rewrite of [$((q0 >> 20)) MiB, $(((q0 + ql) >> 20)) MiB) with random data + incremental"
    quiet rbd_src snap create --no-progress "$IMG@c0"
    quiet bash -c 'set -o pipefail; rbd -c "$1" export-diff --no-progress "$2" - | lz4 -1 -q -c >"$3"' \
        _ "$SRC_CEPH_CONF" "$IMG@c0" "$cdir/c0.lz4"
    quiet "${RB[@]}" --bucket "$bc" --format json backup "$IMG" --full
    full_id=$(json_field "$TMPD/log/q$QN.log" id)
    [ -n "$full_id" ] || die "rbd2s3 backup --full printed no id"
    sha0=$(img_sha "$SRC_CEPH_CONF" "$IMG@c0") || die "rbd export of the source failed"
    for k in 1 2 3 4 5; do
        mem_guard "chain step $k"
        quiet bash -c 'set -o pipefail; "$1" "$2" fill "$3" "$4" --seed "$5" | rbd -c "$6" import-diff --no-progress - "$7"' \
            _ "$PY" "$BENCH_DIR/gen_image.py" "$q0" "$ql" $((2000 + k)) "$SRC_CEPH_CONF" "$IMG"
        quiet rbd_src snap create --no-progress "$IMG@c$k"
        quiet bash -c 'set -o pipefail; rbd -c "$1" export-diff --no-progress --from-snap "$2" "$3" - | lz4 -1 -q -c >"$4"' \
            _ "$SRC_CEPH_CONF" "c$((k - 1))" "$IMG@c$k" "$cdir/c$k.lz4"
        quiet "${RB[@]}" --bucket "$bc" --format json backup "$IMG"
        [ "$(json_field "$TMPD/log/q$QN.log" type)" = incremental ] || die "chain step $k: no incremental"
        quiet rbd_src snap rm --no-progress "$IMG@c$((k - 1))"
    done
    sha5=$(img_sha "$SRC_CEPH_CONF" "$IMG@c5") || die "rbd export of the source failed"
    rm_image_or_die "$SRC_CEPH_CONF" "$IMG"       # the restores read only the bucket

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="newest full"; else order="full newest"; fi
        log "  -- round $r (first: ${order%% *})"
        for tool in $order; do
            mem_guard "a restore"
            if [ "$tool" = newest ]; then
                timed 4 rbd2s3-newest "$r" "${RB[@]}" --bucket "$bc" restore "$IMG" "rbd/cnew-$TAG"
                [ "$r" = 1 ] && verify "4: rbd2s3 restore of the chain end" "$SRC_CEPH_CONF" "rbd/cnew-$TAG" "$sha5"
                rm_image_or_die "$SRC_CEPH_CONF" "rbd/cnew-$TAG"
            else
                timed 4 rbd2s3-full "$r" "${RB[@]}" --bucket "$bc" restore "$IMG@$full_id" "rbd/cfull-$TAG"
                [ "$r" = 1 ] && verify "4: rbd2s3 restore of the chain's full" "$SRC_CEPH_CONF" "rbd/cfull-$TAG" "$sha0"
                rm_image_or_die "$SRC_CEPH_CONF" "rbd/cfull-$TAG"
            fi
        done
    done
    remove_bucket "$bc"
    mem_note

    # The pipeline: the same 6 diffs, applied in order. Each step is timed; the round's
    # time is their sum. Between steps, untimed: the snapshot the previous step left on the
    # target is removed (so the destination keeps one old version of the quarter, not
    # five), and each diff is uploaded just before its step and deleted after it (so the
    # bucket, kept in RAM, never holds the whole chain).
    fresh_sandbox
    bp=rbd2s3-bench-$TAG-chainp
    make_bucket "$bp"
    for r in $(seq 1 "$ROUNDS"); do
        mem_guard "a restore"
        quiet rbd_src create --size "$SIZE_MIB" "rbd/pchain-$TAG"
        sum=0 rss=0
        for k in 0 1 2 3 4 5; do
            quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$cdir/c$k.lz4" "s3://$bp/c$k.lz4"
            run_bg /usr/bin/time -o "$TMPD/log/chain.time" -f '%e %M' timeout -k 10 "$CMD_TIMEOUT" \
                "${PIPE[@]}" restore "$SRC_CEPH_CONF" "s3://$bp/c$k.lz4" "rbd/pchain-$TAG" \
                >"$TMPD/log/chain.out" 2>&1 ||
                { tail -n 20 "$TMPD/log/chain.out" >&2; die "pipeline: applying c$k failed"; }
            read -r T_EL T_RSS < <(tail -n 1 "$TMPD/log/chain.time")
            sum=$(awk -v a="$sum" -v b="$T_EL" 'BEGIN { printf "%.2f", a + b }')
            [ "$T_RSS" -gt "$rss" ] && rss=$T_RSS
            [ "$k" -gt 0 ] && quiet rbd_src snap rm --no-progress "rbd/pchain-$TAG@c$((k - 1))"
            quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3 rm --only-show-errors "s3://$bp/c$k.lz4"
            quiet radosgw-admin -c "$SRC_CEPH_CONF" gc process --include-all
        done
        printf '4\tpipeline-chain\t%s\t%s\t%s\n' "$r" "$sum" "$rss" >>"$RESULTS"
        printf '  [4 r%s] %-16s %8.2f s   max RSS %5d MiB\n' "$r" pipeline-chain "$sum" $((rss / 1024))
        [ "$r" = 1 ] && verify "4: pipeline restore of the chain end" "$SRC_CEPH_CONF" "rbd/pchain-$TAG" "$sha5"
        rm_image_or_die "$SRC_CEPH_CONF" "rbd/pchain-$TAG"
    done
    rm -rf "$cdir"
    remove_bucket "$bp"
    mem_note
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" 4
    log ""
}

# ================================================================== scenario 5
scenarios_rss() {
    local f=$TMPD/data/small.raw small=rbd/rss-small-$TAG large=rbd/rss-large-$TAG
    local r b order which sha_s sha_l
    log "== scenario 5: peak RSS, ${RSS_SIZES%%,*} and ${RSS_SIZES#*,} images with the same data ($ROUNDS rounds) =="
    fresh_sandbox
    mem_guard "creating the images"
    step "generating ${RSS_SIZES%%,*} of data; importing it as both images (the large one then resized)"
    gen_image "$f" "$SMALL_B" 5
    info rss_written "$(written_bytes "$f")"
    info small_size "$SMALL_B"
    info large_size "$LARGE_B"
    import_image "$f" "$small"
    import_image "$f" "$large"
    rm -f "$f"
    quiet rbd_src resize --no-progress --size $((LARGE_B >> 20)) "$large"
    sha_s=$(img_sha "$SRC_CEPH_CONF" "$small") || die "rbd export failed"
    sha_l=$(img_sha "$SRC_CEPH_CONF" "$large") || die "rbd export failed"

    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="small large"; else order="large small"; fi
        b=rbd2s3-bench-$TAG-rss$r
        make_bucket "$b"
        mem_guard "round $r"
        log "  -- round $r (first: ${order%% *})"
        for which in $order; do
            local spec=$small
            [ "$which" = large ] && spec=$large
            timed 5 "backup-$which" "$r" "${RB[@]}" --bucket "$b" --format json backup "$spec" --full
            [ -n "$(json_field "$T_OUT" id)" ] || die "rbd2s3 backup printed no id"
        done
        for which in $order; do
            local spec=$small sha=$sha_s
            [ "$which" = large ] && { spec=$large; sha=$sha_l; }
            mem_guard "a restore"
            timed 5 "restore-$which" "$r" "${RB[@]}" --bucket "$b" restore "$spec" "rbd/rss-$which-dst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
            [ "$r" = 1 ] && verify "5: rbd2s3 restore of the $which image" "$DST_CEPH_CONF" "rbd/rss-$which-dst-$TAG" "$sha"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/rss-$which-dst-$TAG"
        done
        remove_bucket "$b"
    done
    mem_note
    rm_image "$SRC_CEPH_CONF" "$small"
    rm_image "$SRC_CEPH_CONF" "$large"
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" 5
    log ""
}

# ================================================================== scenario 6
# The cost of encryption: rbd2s3 backup --full and restore of the same image, plain and
# with encryption = aes-256-gcm (a key file), alternating which goes first. Each kind has
# a bucket of its own (a repository is encrypted or not, never both).
scenarios_enc() {
    local f=$TMPD/data/enc.raw key=$TMPD/data/bench.key r order kind sha
    local -A bucket ids
    local -a keyopts
    log "== scenario 6: cost of encryption, full backup and restore ($SIZE image, $ROUNDS rounds) =="
    fresh_sandbox
    step "generating $SIZE of data (30% holes, 30% random, 40% text)"
    gen_image "$f" "$SIZE" 6
    info enc_size "$SIZE_B"
    info enc_written "$(written_bytes "$f")"
    rm -f "$key"
    quiet "$RB_BIN" key create "$key"
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="plain enc"; else order="enc plain"; fi
        mem_guard "round $r"
        log "  -- round $r (first: ${order%% *})"
        import_image "$f" "$IMG"
        [ "$r" = 1 ] && { sha=$(img_sha "$SRC_CEPH_CONF" "$IMG") || die "rbd export of the source failed"; }
        for kind in $order; do
            bucket[$kind]=rbd2s3-bench-$TAG-$kind$r
            make_bucket "${bucket[$kind]}"
            keyopts=()
            [ "$kind" = enc ] && keyopts=(--encryption aes-256-gcm --key-file "$key")
            timed 6 "backup-$kind" "$r" "${RB[@]}" --bucket "${bucket[$kind]}" "${keyopts[@]}" \
                --format json backup "$IMG" --full
            ids[$kind]=$(json_field "$T_OUT" id)
            [ -n "${ids[$kind]}" ] || die "rbd2s3 backup ($kind) printed no id"
        done
        # the encrypted run must really encrypt (its manifest says so), else both rows
        # would measure plain backups
        quiet "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors \
            "s3://${bucket[enc]}/rbd2s3/$IMG/${ids[enc]}/manifest.json" "$TMPD/log/enc.json"
        jq -e '.encryption.cipher == "aes-256-gcm"' "$TMPD/log/enc.json" >/dev/null ||
            die "the backup with --encryption aes-256-gcm is not encrypted"
        rm_image_or_die "$SRC_CEPH_CONF" "$IMG"
        for kind in $order; do
            mem_guard "a restore"
            keyopts=()
            [ "$kind" = enc ] && keyopts=(--key-file "$key")
            timed 6 "restore-$kind" "$r" "${RB[@]}" --bucket "${bucket[$kind]}" "${keyopts[@]}" \
                restore "$IMG@${ids[$kind]}" "rbd/edst-$TAG" --dest-ceph-conf "$DST_CEPH_CONF"
            [ "$r" = 1 ] && verify "6: rbd2s3 restore ($kind)" "$DST_CEPH_CONF" "rbd/edst-$TAG" "$sha"
            rm_image_or_die "$DST_CEPH_CONF" "rbd/edst-$TAG"
        done
        if [ "$r" = 1 ]; then
            info stored_plain "$(bucket_bytes "${bucket[plain]}" rbd2s3/)"
            info stored_enc "$(bucket_bytes "${bucket[enc]}" rbd2s3/)"
        fi
        remove_bucket "${bucket[plain]}"
        remove_bucket "${bucket[enc]}"
    done
    rm -f "$f" "$key"
    log ""
    "$PY" "$BENCH_DIR/report.py" table "$RESULTS" 6
    log ""
}
