#!/usr/bin/env bash
# Listings of servers that are not AWS, against tests/fakes3/fakes3.py (it plays them on
# demand) and the sandbox's source cluster:
#  (a) a server without ListObjectsV2 (501 NotImplemented, or v1 documents to v2
#      requests: POST /_ctl/nov2) is listed with ListObjects v1: list, verify and restore
#      work as with v2 (paging over v1: test_list_v1 in tests/unit/s3/test_s3_bucket.c)
#  (b) a server whose listing repeats a truncated page (the "stuck" rule, v2 and v1):
#      list and prune stop with exit code 1 and exactly one stderr line that says the
#      listing does not advance, instead of looping
. "$(dirname "$0")/../lib.sh"
. "$TEST_DIR/fakes3_lib.sh"

SRC=rbd/$(img lcompat)
FB=fakebkt
CASE_TIMEOUT=${CASE_TIMEOUT:-300}

start_fakes3 "$FB"

ctl() { curl -sf -X POST --data-binary "$2" "$FAKE/_ctl/$1" >/dev/null; }

require "create source image" create_image "$SRC" 12M
require "write data" write_random "$SRC" 0 4M
for i in 1 2; do
    require "write more ($i)" write_random "$SRC" $((i * 4))M 1M
    fk --format json backup "$SRC" >"$TMPD/bk$i.json" 2>"$TMPD/bk$i.err" </dev/null ||
        { sed 's/^/#   /' "$TMPD/bk$i.err"; bail "backup $i to fakes3 failed"; }
done
IDS=$(jq -r .id "$TMPD/bk1.json" "$TMPD/bk2.json" | xargs)
ok "two backups to fakes3: $IDS"

# ---------------------------------------------------------------- (a) no v2
for mode in 501 ignore; do
    require "fakes3: no ListObjectsV2 ($mode)" ctl nov2 "$mode"
    ctl rules ""
    if fk --format json list >"$TMPD/l.json" 2>"$TMPD/l.err" </dev/null; then
        expect_eq "$(jq -r '.backups[].id' "$TMPD/l.json" | LC_ALL=C sort | xargs)" "$IDS" \
            "no v2 ($mode): list shows both backups"
    else
        not_ok "no v2 ($mode): list"
        sed 's/^/#   /' "$TMPD/l.err"
    fi
    if [ "$mode" = 501 ]; then   # "ignore": pages of 1000 keys, never truncated here
        n=$(curl -sf "$FAKE/_ctl/log" | awk -F'\t' '$1 == "GET" && $3 ~ /max-keys/ &&
            $3 !~ /list-type=2/' | wc -l)
        check "no v2 ($mode): ListObjects v1 requests were made ($n)" test "$n" -gt 0
    fi
    check "no v2 ($mode): verify" fk verify "$SRC"
    rm -f "$TMPD/out.raw"
    if fk restore "$SRC" --to-file "$TMPD/out.raw" 2>"$TMPD/rs.err" </dev/null; then
        expect_eq "$(file_sum "$TMPD/out.raw")" "$(img_sum "$SRC")" \
            "no v2 ($mode): restores identically"
    else
        not_ok "no v2 ($mode): restore"
        sed 's/^/#   /' "$TMPD/rs.err"
    fi
done

# ---------------------------------------------------------------- (b) a page that repeats
# refused DESC CMD...: exit 1, one stderr line saying the listing does not advance
refused() {
    local desc=$1 rc lines
    shift
    "$@" >"$TMPD/case.out" 2>"$TMPD/case.err" </dev/null
    rc=$?
    expect_eq "$rc" 1 "$desc: exit code 1"
    lines=$(awk 'END { print NR }' "$TMPD/case.err")
    if [ "$lines" = 1 ] && grep -q "^rbd2s3: .*listing does not advance" "$TMPD/case.err"; then
        ok "$desc: one line: $(cat "$TMPD/case.err")"
    else
        not_ok "$desc: one stderr line 'rbd2s3: ...listing does not advance...' ($lines)"
        head -n 10 "$TMPD/case.err" | sed 's/^/#   /'
    fi
}
ctl nov2 ""
require "fakes3: every v2 page repeats" ctl rules "GET * list-type=2 all stuck"
refused "v2 page repeats: list" fk list
refused "v2 page repeats: prune" fk prune --keep-last 1
ctl nov2 ignore
require "fakes3: v1 only, every page repeats" ctl rules "GET * max-keys all stuck"
refused "v1 page repeats: list" fk list
n=$(fk --format json list 2>/dev/null | jq -r '.backups[].id' 2>/dev/null | wc -l)
expect_eq "$n" 0 "nothing listed from a listing that does not advance"

done_testing
