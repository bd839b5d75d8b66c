#!/usr/bin/env bash
# A snapshot in librbd's trash namespace (what a kill inside rbd_snap_remove2 leaves, and
# what `rbd snap rm` of a snapshot with a format-2 clone makes) does not stop the agent's
# snapshot cleanup, and every manifest records its snapshot's real id and time. An entry
# the agent's own removal left there (killed) is removed by the next cleanup; one that a
# clone still uses stays until librbd removes it with the clone. The kill is exact: an
# LD_PRELOAD shim (snap_shim.c) kills the agent inside librbd's snapshot removal, after
# the snapshot went to the trash (skipped without a C compiler).
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img strash)
CHILD=rbd/$(img strash-child)

agent_snaps() { snap_names "${1:-$SRC}" | grep '^rbd2s3-' | tr '\n' ' '; }
trash_names() { # [SPEC]: the original names of its trash snapshots
    rbd_src snap ls --all --format json "${1:-$SRC}" \
        | jq -r '[.[] | select(.namespace.type == "trash") | .namespace.original_name] | join(" ")'
}
trash_count() { trash_names "$@" | wc -w; }
# "id time" of a snapshot as rbd sees it (time as the manifest writes it, UTC)
rbd_snap_id_time() { # NAME [SPEC]
    local j
    j=$(rbd_src snap ls --format json "${2:-$SRC}" | jq -c --arg n "$1" '.[] | select(.name == $n)')
    echo "$(jq -r .id <<<"$j") $(date -u -d "$(jq -r .timestamp <<<"$j")" +%Y-%m-%dT%H:%M:%SZ)"
}
manifest_id_time() { # ID [SPEC]
    rb --format json show "${2:-$SRC}@$1" | jq -r '"\(.snapshot.id) \(.snapshot.timestamp)"'
}

require "create image" create_image "$SRC" 32M
require "write data" write_random "$SRC" 0 4M
require "snapshot 'gone'" rbd_src snap create "$SRC@gone"
require "format-2 clone of it" rbd_src clone --rbd-default-clone-format 2 "$SRC@gone" "$CHILD"
require "remove 'gone' (it moves to the trash namespace)" rbd_src snap rm --no-progress "$SRC@gone"
expect_eq "$(trash_count)" 1 "the image has one snapshot in the trash namespace"

IDS=()
for n in 1 2 3; do
    require "random writes before backup $n" rand_writes "$SRC" 8 64K
    if do_backup "$SRC"; then ok "backup $n ($BK_ID, $BK_TYPE)"; else not_ok "backup $n"; done_testing; fi
    IDS+=("$BK_ID")
    expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 0 "backup $n: cleanup_errors 0 in the JSON"
    check "backup $n: no warning on stderr" bash -c "! grep -q warning '$TMPD/backup.$_BK_N.err'"
    [ "$n" -gt 1 ] && expect_eq "$BK_PARENT" "${IDS[n - 2]}" "backup $n is incremental on backup $((n - 1))"
    want="rbd2s3-$BK_ID "
    [ "$n" -gt 1 ] && want="rbd2s3-${IDS[n - 2]} $want"
    expect_eq "$(agent_snaps)" "$want" "after backup $n: the newest backup's snapshot and the one before"
    expect_eq "$(manifest_id_time "$BK_ID")" "$(rbd_snap_id_time "rbd2s3-$BK_ID")" \
        "backup $n: the manifest records the snapshot's id and time"
done

if do_backup "$SRC" --snap-cleanup immediate; then ok "backup --snap-cleanup immediate"; else not_ok "backup --snap-cleanup immediate"; fi
expect_eq "$(agent_snaps)" "rbd2s3-$BK_ID " "immediate: exactly one rbd2s3- snapshot"
expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 0 "immediate: cleanup_errors 0"

# every manifest of the image: no snapshot id 0, no 1970
BAD=$(rb --format json list "$SRC" | jq -r '.backups[].id' | while read -r id; do
    rb --format json show "$SRC@$id" | jq -r '"\(.snapshot.id) \(.snapshot.timestamp)"'
done | grep -cE '^0 |1970-')
expect_eq "$BAD" 0 "no manifest records snapshot id 0 or a 1970 time"
expect_eq "$(trash_count)" 1 "the trash snapshot is left alone"

require "restore the newest to a file" rb restore "$SRC" --to-file "$TMPD/img.raw"
expect_eq "$(file_sum "$TMPD/img.raw")" "$(img_sum "$SRC@rbd2s3-$BK_ID")" \
    "the newest backup restores identical to its snapshot"

check "remove the clone" rbd_src rm --no-progress "$CHILD"
expect_eq "$(trash_count)" 0 "without its clone librbd removes the trash snapshot"

# ---- a kill inside the agent's own snapshot removal
KSRC=rbd/$(img strash-kill)
if ! command -v cc >/dev/null ||
    ! cc -shared -fPIC -o "$TMPD/snap_shim.so" "$TEST_DIR/snap_shim.c" -ldl 2>"$TMPD/cc.err"; then
    ok "# SKIP no C compiler to build the fault shim"
    done_testing
fi
require "create image $KSRC" create_image "$KSRC" 16M
require "write data" write_random "$KSRC" 0 4M
KIDS=()
for n in A B; do
    require "random writes before backup $n" rand_writes "$KSRC" 8 64K
    if do_backup "$KSRC"; then ok "backup $n ($BK_ID)"; else not_ok "backup $n"; done_testing; fi
    KIDS+=("$BK_ID")
done
require "random writes before backup C" rand_writes "$KSRC" 8 64K
SNAP_SHIM_KILL_AT_SNAP_RELEASE=1 LD_PRELOAD=$TMPD/snap_shim.so \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    rb --format json backup "$KSRC" >"$TMPD/kill.out" 2>"$TMPD/kill.err"
expect_eq "$?" 137 "backup C killed inside the removal of A's snapshot"
expect_eq "$(trash_names "$KSRC")" "rbd2s3-${KIDS[0]}" "A's snapshot is left in librbd's trash"

require "random writes before backup D" rand_writes "$KSRC" 8 64K
if do_backup "$KSRC"; then ok "backup D after the kill ($BK_ID)"; else not_ok "backup D"; done_testing; fi
expect_eq "$BK_TYPE/$BK_PARENT" "incremental/${KIDS[1]}" "backup D is incremental on B"
expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 0 "backup D: cleanup_errors 0"
expect_eq "$(manifest_id_time "$BK_ID" "$KSRC")" "$(rbd_snap_id_time "rbd2s3-$BK_ID" "$KSRC")" \
    "backup D: the manifest records the snapshot's id and time"
expect_eq "$(trash_count "$KSRC")" 0 "backup D's cleanup removed the trash entry"
D=$BK_ID
require "random writes before backup E" rand_writes "$KSRC" 8 64K
if do_backup "$KSRC"; then ok "backup E ($BK_ID)"; else not_ok "backup E"; fi
expect_eq "$(agent_snaps "$KSRC")" "rbd2s3-$D rbd2s3-$BK_ID " \
    "after E: the snapshots of D and E only"

done_testing
