#!/usr/bin/env bash
# Restore against the scripted fake S3 server (tests/fakes3): a symbolic link planted at
# the --to-file path while the chunk index downloads (the server holds that GET) is never
# followed: the file was opened before any download, the rename at the end refuses to
# replace the link (exit 7) and the link's target is unchanged. A server that ignores
# Range: restore to stdout (the ordered path) refuses the longer answer.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../s3/fakes3_lib.sh"

NAME=$(img hostile)
SRC=rbd/$NAME
FAKE_BUCKET=fake-$TAG

start_fakes3 "$FAKE_BUCKET"
fake_rules() { curl -s -X POST --data-binary "$1" "$FAKE/_ctl/rules" >/dev/null; }
fake_log() { curl -s "$FAKE/_ctl/log"; }
fb() { rb --endpoint "$FAKE" --bucket "$FAKE_BUCKET" "$@"; }

require "create a 16 MiB image" create_image "$SRC" 16M
require "fill it with random data" write_random "$SRC" 0 16M
require "back it up into the fake server" fb backup "$SRC"
SUM=$(img_sum "$SRC@$(snap_names "$SRC" | grep '^rbd2s3-' | tail -n 1)")

# --- a link planted while the index downloads
echo "victim" >"$TMPD/victim"
F=$TMPD/race.raw
fake_rules "GET /index * 1 hang 3000"
fb restore "$SRC" --to-file "$F" >"$TMPD/race.out" 2>"$TMPD/race.err" &
RPID=$!
planted=no
for ((t = 0; t < 300; t++)); do
    if fake_log | awk -F'\t' '$1 == "GET" && $2 ~ /\/index$/' | grep -q .; then
        ln -s "$TMPD/victim" "$F" && planted=yes
        break
    fi
    kill -0 "$RPID" 2>/dev/null || break
    sleep 0.05
done
wait "$RPID"
RC=$?
expect_eq "$planted" yes "a link was planted at $F while the index downloaded"
expect_eq "$RC" 7 "the restore refuses to replace it: exit 7" || sed 's/^/#   /' "$TMPD/race.err"
check "it says the path appeared" grep -q "appeared during the restore" "$TMPD/race.err"
check "the link's target is unchanged" cmp -s "$TMPD/victim" - <<<"victim"
check "the link is still a link" test -L "$F"
check "no partial file left" test ! -e "$F.rbd2s3-partial"

fake_rules ""
check "with nothing planted, the restore to a file succeeds" fb restore "$SRC" --to-file "$TMPD/ok.raw"
expect_eq "$(file_sum "$TMPD/ok.raw")" "$SUM" "and equals the source snapshot"

# --- a server that ignores Range (the ordered path: restore to stdout)
fake_rules "GET /data * all norange"
fb restore "$SRC" --to-file - >"$TMPD/norange.out" 2>"$TMPD/norange.err"
RC=$?
expect_eq "$RC" 1 "restore to stdout from a server ignoring Range: exit 1" \
    || sed 's/^/#   /' "$TMPD/norange.err"
check "it says the answer is longer than asked for" \
    grep -q "answer longer than the [0-9]* bytes asked for" "$TMPD/norange.err"
fake_rules ""

done_testing
