#!/usr/bin/env bash
# S3 outages during a backup (issue 18 item 7), against tests/fakes3/fakes3.py as the S3
# endpoint (it can script outages on demand; the sandbox's RGW is never touched) and the
# sandbox's source cluster:
#  (a) 15 s of 503 ServiceUnavailable from the 4th request on: the full backup rides
#      through with the default retry time, and restores identically
#  (b) the server stops listening for 12 s (connections refused, open ones cut) in the
#      middle of an incremental: it rides through, and restores identically
#  (c) with --retry-time 3s, an outage that does not end: exit code 6, exactly one
#      stderr line, no third manifest in the bucket (checked with the aws CLI)
#  (d) `retry time = 2s` in the config file does the same; a bad --retry-time is a usage
#      error (exit 2)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fakes3_lib.sh"

SRC=rbd/$(img outage)
FB=fakebkt
CASE_TIMEOUT=${CASE_TIMEOUT:-300}

start_fakes3 "$FB"

rules() { curl -sf -X POST --data-binary "$1" "$FAKE/_ctl/rules" >/dev/null; }
fake_log() { curl -sf "$FAKE/_ctl/log"; }
fake_manifests() {
    /usr/bin/aws --endpoint-url "$FAKE" s3api list-objects-v2 --bucket "$FB" --output json |
        jq '[(.Contents // [])[] | select(.Key | endswith("/manifest.json"))] | length'
}

# backup_through DESC RULE: a backup while RULE makes an outage; it must succeed, the
# outage must have been met, and the backup must restore to the image's bytes.
backup_through() {
    local desc=$1 rule=$2 t0 rc failed
    require "$desc: rules set" rules "$rule"
    t0=$(date +%s)
    fk --format json backup "$SRC" >"$TMPD/bk.json" 2>"$TMPD/bk.err" </dev/null
    rc=$?
    expect_eq "$rc" 0 "$desc: backup exit code 0 (took $(($(date +%s) - t0)) s)"
    [ $rc -eq 0 ] || sed 's/^/#   /' "$TMPD/bk.err"
    failed=$(fake_log | awk -F'\t' '$7 != "-"' | wc -l)
    diag "$desc: $failed requests met the outage"
    check "$desc: the outage was met" test "$failed" -gt 0
    rules "" || true
    if fk restore "$SRC" --to-file "$TMPD/out.raw" 2>"$TMPD/rs.err" </dev/null; then
        expect_eq "$(file_sum "$TMPD/out.raw")" "$(img_sum "$SRC")" "$desc: restores identically"
    else
        not_ok "$desc: restore"
        sed 's/^/#   /' "$TMPD/rs.err"
    fi
    rm -f "$TMPD/out.raw"
}

require "create a 24 MiB image" create_image "$SRC" 24M
require "fill it with random data" write_random "$SRC" 0 24M

# (a) 503 for 15 s, from the 4th request (after the bucket check and the first listings)
backup_through "503 for 15 s" "* /$FB * 4@15000 status 503 ServiceUnavailable"

# (b) a restart: connections refused for 12 s, from the 6th request
require "write 8 MiB of changes" write_random "$SRC" 4M 8M
backup_through "refused for 12 s" "* /$FB * 6 refuse 12000"
expect_eq "$(fake_manifests)" 2 "two manifests in the bucket (aws CLI)"

# give_up DESC ARGS...: the backup must fail with exit 6 and exactly one error line
give_up() {
    local desc=$1 rc lines
    shift
    require "write 1 MiB of changes" write_random "$SRC" 20M 1M
    rules "* /$FB * 3@600000 status 503 SlowDown"
    fk "$@" backup "$SRC" >"$TMPD/gu.out" 2>"$TMPD/gu.err" </dev/null
    rc=$?
    rules ""
    expect_eq "$rc" 6 "$desc: exit code 6"
    lines=$(awk 'END { print NR }' "$TMPD/gu.err")
    if [ "$lines" = 1 ] && grep -q '^rbd2s3: backup: .*SlowDown.*still failing after' \
            "$TMPD/gu.err"; then
        ok "$desc: one error line: $(head -c 300 "$TMPD/gu.err")"
    else
        not_ok "$desc: one error line that names the failure"
        sed 's/^/#   /' "$TMPD/gu.err" | head -n 20
    fi
    expect_eq "$(fake_manifests)" 2 "$desc: no new manifest (aws CLI)"
}

# (c) an outage longer than the retry time
give_up "--retry-time 3s" --retry-time 3s

# (d) the config-file key, and a bad value
printf '[global]\nretry time = 2s\n' >"$TMPD/rt.conf"
chmod 600 "$TMPD/rt.conf"
give_up "retry time = 2s" -c "$TMPD/rt.conf"
fk --retry-time soon list >/dev/null 2>"$TMPD/bad.err" </dev/null
expect_eq "$?" 2 "--retry-time soon: usage error"
check "--retry-time soon: says why" grep -q "retry time" "$TMPD/bad.err"

if fk --format json list "$SRC" >"$TMPD/list.json" 2>"$TMPD/list.err" </dev/null; then
    expect_eq "$(jq '.backups | length' "$TMPD/list.json")" 2 "list shows the two committed backups"
else
    not_ok "list"
    sed 's/^/#   /' "$TMPD/list.err"
fi

done_testing
