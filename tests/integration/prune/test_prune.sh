#!/usr/bin/env bash
# prune: keep policies, chains kept whole, --dry-run, leftovers of crashed runs and
# unfinished uploads, per-pool policies from the config file, the source snapshot the
# next incremental needs; backup --max-chain / --full-every force a full.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img prune)
DST=rbd/$(img prune-dst)

require "create image" create_image "$SRC" 32M
IDS=() TYPES=()
backup_n() { # N [backup args]: random writes, then a backup
    local n=$1
    shift
    rand_writes "$SRC" 6 64K || return 1
    do_backup "$SRC" "$@" || return 1
    IDS+=("$BK_ID")
    TYPES+=("$BK_TYPE")
    ok "backup $n: $BK_ID $BK_TYPE${BK_PARENT:+ (parent $BK_PARENT)}"
}

# full, inc, inc, full, inc, inc
for n in 1 2 3 4 5 6; do
    if [ "$n" = 4 ]; then args=(--full); else args=(); fi
    backup_n "$n" "${args[@]}" || { not_ok "backup $n"; done_testing; }
done
expect_eq "${TYPES[*]}" "full incremental incremental full incremental incremental" \
    "six backups: two chains"
objects_of() { bucket_keys "$(key_prefix "$SRC" "$1")"; }

# -- a prune without any policy refuses
rb prune "$SRC" >"$TMPD/nopol.out" 2>"$TMPD/nopol.err"
expect_eq "$?" 2 "prune without a keep policy exits 2"
check "... saying why in one line" grep -q "no keep policy" "$TMPD/nopol.err"

# -- 3. --dry-run changes nothing
bucket_listing >"$TMPD/before.lst"
rb list "$SRC" >"$TMPD/before.list"
rb prune "$SRC" --keep-last 2 --dry-run >"$TMPD/dry.out" 2>"$TMPD/dry.err"
expect_eq "$?" 0 "prune --keep-last 2 --dry-run"
expect_eq "$(grep -c '^  prune' "$TMPD/dry.out")" 3 "dry run plans to prune 3 backups"
check "dry run says nothing changed" grep -q "nothing changed" "$TMPD/dry.out"
bucket_listing >"$TMPD/after.lst"
rb list "$SRC" >"$TMPD/after.list"
check "dry run: every object still there, same sizes and etags" \
    cmp -s "$TMPD/before.lst" "$TMPD/after.lst"
check "dry run: list unchanged" cmp -s "$TMPD/before.list" "$TMPD/after.list"

# -- 1. keep the two newest and the chain they need
rb --format json prune "$SRC" --keep-last 2 >"$TMPD/p1.json" 2>"$TMPD/p1.err"
expect_eq "$?" 0 "prune --keep-last 2"
expect_eq "$(jq -r '.pruned_backups' "$TMPD/p1.json")" 3 "... pruned 3 backups"
expect_eq "$(jq -r '[.images[0].backups[] | select(.action == "keep") | .reasons] | join(" ")' \
    "$TMPD/p1.json")" "chain last,chain last" "... kept: the full for the chain, the two newest"
rb --format json list "$SRC" >"$TMPD/l1.json"
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/l1.json")" "${IDS[3]} ${IDS[4]} ${IDS[5]}" \
    "list: the second chain remains (its full and the two newest)"
for i in 0 1 2; do
    expect_eq "$(objects_of "${IDS[$i]}" | wc -l)" 0 "no object of pruned ${IDS[$i]} left"
done
for i in 3 4 5; do
    check "objects of kept ${IDS[$i]} remain" test "$(objects_of "${IDS[$i]}" | wc -l)" -ge 3
done
if rb restore "$SRC@${IDS[5]}" "$DST" --dest-ceph-conf "$DST_CEPH_CONF" >/dev/null \
    2>"$TMPD/r1.err"; then
    expect_eq "$(img_sum "$DST" "$DST_CEPH_CONF")" "$(img_sum "$SRC@rbd2s3-${IDS[5]}")" \
        "the newest restores byte-identical after the prune"
    rbd_dst rm --no-progress "$DST" >/dev/null 2>&1
else
    not_ok "restore of the newest after the prune: $(tail -1 "$TMPD/r1.err")"
fi

# -- 2. a forced full, then --keep-last 1: only it remains, the old chain's objects go
backup_n 7 --full || not_ok "backup 7"
rb prune "$SRC" --keep-last 1 >"$TMPD/p2.out" 2>"$TMPD/p2.err"
expect_eq "$?" 0 "prune --keep-last 1 after a new full"
rb --format json list "$SRC" >"$TMPD/l2.json"
expect_eq "$(jq -r '[.backups[].id] | join(" ")' "$TMPD/l2.json")" "${IDS[6]}" "only the new full remains"
expect_eq "$(bucket_keys "$PREFIX/$SRC/" | grep -vc "^$(key_prefix "$SRC" "${IDS[6]}")")" 0 \
    "no object of the old chain is left under the image"

# -- 6. the source snapshot the next incremental needs is untouched
check "the newest backup's snapshot is still on the source" \
    grep -qx "rbd2s3-${IDS[6]}" <(snap_names "$SRC")
backup_n 8 || not_ok "backup 8"
expect_eq "$BK_TYPE $BK_PARENT" "incremental ${IDS[6]}" \
    "the next backup after the prune is an incremental on the kept full"

# -- leftovers: a crashed run's objects and an unfinished upload, older than the grace
CRASH=$(key_prefix "$SRC" 20200101T000000Z)
echo junk >"$TMPD/junk"
s3api put-object --bucket "$BUCKET" --key "${CRASH}data.0" --body "$TMPD/junk" >/dev/null
s3api put-object --bucket "$BUCKET" --key "${CRASH}index" --body "$TMPD/junk" >/dev/null
on_rgw && s3api create-multipart-upload --bucket "$BUCKET" --key "${CRASH}data.1" >/dev/null
s3api put-object --bucket "$BUCKET" --key "$PREFIX/README-not-ours" --body "$TMPD/junk" \
    >/dev/null
rb prune "$SRC" --keep-last 5 >/dev/null 2>"$TMPD/p3.err"
expect_eq "$?" 0 "prune with the default grace (24h)"
expect_eq "$(bucket_keys "$CRASH" | wc -l)" 2 "young leftovers are kept (grace)"
rb prune --keep-last 5 --grace 0 >"$TMPD/p4.out" 2>"$TMPD/p4.err"
expect_eq "$?" 0 "prune of the whole prefix with --grace 0"
expect_eq "$(bucket_keys "$CRASH" | wc -l)" 0 "leftover objects of the crashed run removed"
if on_rgw; then
    expect_eq "$(s3api list-multipart-uploads --bucket "$BUCKET" --prefix "$CRASH" \
        --output json | jq -s '(.[0].Uploads // []) | length')" 0 \
        "its unfinished multipart upload aborted"
else
    skip "its unfinished multipart upload aborted" "no ListMultipartUploads (NotImplemented)"
fi
expect_eq "$(bucket_keys "$PREFIX/README-not-ours" | wc -l)" 1 \
    "an object outside any backup folder is left alone"
expect_eq "$(rb --format json list "$SRC" | jq '.backups | length')" 2 "both backups still listed"

# -- policies per pool from the config file
cat >"$TMPD/pool.conf" <<EOF
[global]
keep last = 5

[pool:rbd]
keep last = 1
EOF
rb -c "$TMPD/pool.conf" prune "$SRC" >"$TMPD/p5.out" 2>"$TMPD/p5.err"
expect_eq "$?" 0 "prune with [pool:rbd] keep last = 1 from the config file"
expect_eq "$(rb --format json list "$SRC" | jq -r '[.backups[].id] | join(" ")')" \
    "${IDS[6]} ${IDS[7]}" "the pool's policy applied (newest + its full)"
printf '[pool:rbd]\nkeep yearly = 3\n' >"$TMPD/bad.conf"
rb -c "$TMPD/bad.conf" prune "$SRC" >/dev/null 2>"$TMPD/bad.err"
expect_eq "$?" 2 "an unknown key in a pool section exits 2"
check "... naming the key" grep -q "keep yearly" "$TMPD/bad.err"

# -- chain length policy: --max-chain and --full-every force a full
backup_n 9 --max-chain 2 || not_ok "backup 9"
expect_eq "$BK_TYPE" "full" "--max-chain 2: a chain of 2 backups gets a full, not a third link"
check "... saying why" grep -q "max chain 2" "$TMPD/backup.$_BK_N.err"
backup_n 10 --max-chain 2 || not_ok "backup 10"
expect_eq "$BK_TYPE" "incremental" "--max-chain 2: the new chain takes an incremental"
printf '[pool:rbd]\nfull every = 1s\n' >"$TMPD/every.conf"
sleep 2
rand_writes "$SRC" 2 64K
rb -c "$TMPD/every.conf" --format json backup "$SRC" >"$TMPD/every.json" 2>"$TMPD/every.err"
expect_eq "$?:$(jq -r .type "$TMPD/every.json")" "0:full" \
    "full every = 1s in the pool section: the next backup is a full"
rb backup "$SRC" --full-every 1x >/dev/null 2>"$TMPD/every-bad.err"
expect_eq "$?" 2 "--full-every with a bad duration exits 2"

done_testing
