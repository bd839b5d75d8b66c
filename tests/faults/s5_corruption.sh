#!/usr/bin/env bash
# s5_corruption.sh - the corruption matrix on a chain B1 (full) <- B2 <- B3: single-byte
# flips in data objects, indexes and manifests (rewritten with the aws CLI), a deleted
# data object, a manifest replaced by another backup's. No restore may exit 0 with wrong
# bytes; `verify --deep` finds every flip; a damaged newest manifest makes `restore
# POOL/IMG` and `restore @B3` exit 8 (not an older backup, not "not found") and `list`
# still names it. Then prune over a damaged chain (B2's manifest flipped, deleted or
# replaced): it must delete nothing a backup needs - once the damage is undone, every
# backup restores identical - and refuses (exit 8) while a manifest is unreadable.
. "$(dirname "$0")/flib.sh"

FLIPS=${FAULTS_FLIPS:-4}
[ "$QUICK" = 1 ] && FLIPS=1

# chain NAME: a fresh image with B1 <- B2 <- B3; sets SPEC B1 B2 B3
chain() {
    SPEC=rbd/$(img "$1")
    new_image "$(img "$1")" || return 1
    do_backup "$SPEC" || return 1; remember "$SPEC" "$BK_ID"; B1=$BK_ID
    change "$SPEC" && do_backup "$SPEC" || return 1; remember "$SPEC" "$BK_ID"; B2=$BK_ID
    change "$SPEC" && do_backup "$SPEC" || return 1; remember "$SPEC" "$BK_ID"; B3=$BK_ID
}

key() { echo "$PREFIX/$SPEC/$1/$2"; } # ID OBJECT
get() { s3api get-object --bucket "$BUCKET" --key "$1" "$2" >/dev/null; }
put() { s3api put-object --bucket "$BUCKET" --key "$1" --body "$2" >/dev/null; }
del() { s3api delete-object --bucket "$BUCKET" --key "$1" >/dev/null; }

# restores WHAT [NEWEST-MUST-FAIL]: restore B1, B2, B3 and the newest; any exit 0 must
# give the right bytes
restores() {
    local what=$1 strict=${2:-no} id bad=0
    RCS=()
    for id in "$B1" "$B2" "$B3"; do
        restore_sum "$SPEC@$id"
        if [ "$RS_RC" = 0 ] && [ "$RS_SUM" != "${SUMS[$id]}" ]; then
            data_lost "$what: restore @$id exited 0 with WRONG bytes"
            bad=1
        fi
        RCS[$id]=$RS_RC
    done
    restore_sum "$SPEC"
    NEWEST_RC=$RS_RC
    if [ "$RS_RC" = 0 ] && [ "$RS_SUM" != "${SUMS[$B3]}" ]; then
        if [ "$RS_SUM" = "${SUMS[$B2]}" ]; then
            not_ok "$what: restore of the newest silently restored the previous backup (exit 0)"
        else
            data_lost "$what: restore of the newest exited 0 with WRONG bytes"
        fi
        bad=1
    fi
    [ "$strict" = yes ] && expect_eq "$NEWEST_RC" 8 "$what: restore of the newest exits 8"
    [ $bad = 0 ] && ok "$what: no restore exited 0 with wrong bytes"
}

# undo WHAT KEY FILE: put the object back; everything verifies again
undo() {
    put "$2" "$3"
    check "$1: after undoing it verify --deep exits 0" rb verify "$SPEC" --deep
}

declare -A RCS=()
names_b3() { rb list "$SPEC" 2>&1 | grep -q "$B3"; }

chain s5 || bail "cannot make a chain of three backups"
ok "a chain of three backups"
KINDS=()
for ((i = 0; i < FLIPS; i++)); do KINDS+=(data index manifest); done
n=0
for kind in "${KINDS[@]}"; do
    n=$((n + 1))
    ids=("$B1" "$B2" "$B3")
    b=$((RANDOM % 3))
    id=${ids[$b]}
    obj=$kind
    [ "$kind" = data ] && obj=data.0
    [ "$kind" = manifest ] && obj=manifest.json
    k=$(key "$id" "$obj")
    what="flip in $obj of B$((b + 1))"
    trial_begin "$what"
    get "$k" "$TMPD/orig" || { not_ok "$what: get $k"; trial_end; continue; }
    diag "$what: $(python3 "$OBJTOOL" flip "$TMPD/orig" "$TMPD/bad") (offset old new)"
    put "$k" "$TMPD/bad"
    rb verify "$SPEC" --deep >/dev/null 2>&1
    expect_eq "$?" 8 "$what: verify --deep exits 8"
    if [ "$kind" = manifest ]; then
        rb verify "$SPEC" >/dev/null 2>&1
        expect_eq "$?" 8 "$what: verify exits 8"
    fi
    strict=no
    [ "$kind" = manifest ] && [ "$id" = "$B3" ] && strict=yes
    restores "$what" "$strict"
    if [ "$kind" = manifest ]; then
        expect_eq "${RCS[$id]}" 8 "$what: restore @$id of the damaged backup exits 8"
    fi
    undo "$what" "$k" "$TMPD/orig"
    trial_end
done

trial_begin "B2's data object deleted"
k=$(key "$B2" data.0)
get "$k" "$TMPD/orig" && del "$k"
restores "B2's data object deleted"
expect_eq "${RCS[$B2]}/${RCS[$B3]}" "8/8" "B2's data object deleted: restores of B2 and B3 exit 8"
undo "B2's data object deleted" "$k" "$TMPD/orig"
trial_end

trial_begin "B3's manifest replaced by B2's"
get "$(key "$B3" manifest.json)" "$TMPD/orig" && get "$(key "$B2" manifest.json)" "$TMPD/other"
put "$(key "$B3" manifest.json)" "$TMPD/other"
restores "B3's manifest replaced by B2's" yes
expect_eq "${RCS[$B3]}" 8 "B3's manifest replaced by B2's: restore @B3 exits 8 (not 3)"
check "B3's manifest replaced by B2's: list still names B3 (as damaged)" names_b3
undo "B3's manifest replaced by B2's" "$(key "$B3" manifest.json)" "$TMPD/orig"
trial_end

if [ "$QUICK" != 1 ]; then
    trial_begin "B2's manifest replaced by B3's"
    get "$(key "$B2" manifest.json)" "$TMPD/orig" && get "$(key "$B3" manifest.json)" "$TMPD/other"
    put "$(key "$B2" manifest.json)" "$TMPD/other"
    restores "B2's manifest replaced by B3's"
    expect_eq "${RCS[$B2]}" 8 "B2's manifest replaced by B3's: restore @B2 exits 8"
    undo "B2's manifest replaced by B3's" "$(key "$B2" manifest.json)" "$TMPD/orig"
    trial_end
fi

# prune over a damaged chain: each case on a chain of its own
PRUNES=(flip)
[ "$QUICK" != 1 ] && PRUNES+=(delete replace)
for how in "${PRUNES[@]}"; do
    what="prune --keep-last 1 over a chain with B2's manifest ${how}d"
    what=${what/flipd/flipped}
    trial_begin "$what"
    SUMS=()
    if ! chain "s5p-$how"; then not_ok "$what: a chain of three backups"; trial_end; continue; fi
    k=$(key "$B2" manifest.json)
    get "$k" "$TMPD/orig"
    case $how in
        flip) python3 "$OBJTOOL" flip "$TMPD/orig" "$TMPD/bad" >/dev/null && put "$k" "$TMPD/bad" ;;
        delete) del "$k" ;;
        replace) get "$(key "$B3" manifest.json)" "$TMPD/bad" && put "$k" "$TMPD/bad" ;;
    esac
    rb prune "$SPEC" --keep-last 1 >"$TMPD/prune.out" 2>"$TMPD/prune.err"
    prc=$?
    sed 's/^/#   /' "$TMPD/prune.out" "$TMPD/prune.err" | tail -n 8
    if [ "$how" != delete ]; then
        expect_eq "$prc" 8 "$what: prune refuses with exit 8"
        expect_eq "$(err_lines "$TMPD/prune.err" prune | grep -c "$B2")" 1 \
            "$what: one error line naming the damaged backup"
    fi
    put "$k" "$TMPD/orig"
    check_committed "$SPEC" "$what, damage undone"
    trial_end
done
fault_done
