#!/usr/bin/env bash
# A snapshot cleanup that fails is never silent: a warning line on stderr, the count in
# "cleanup_errors" of backup's and run's JSON, a NOTE in run's table, and the metric
# rbd2s3_snapshot_cleanup_errors in run's metrics file. The backup still succeeds.
# The failure: an old rbd2s3- snapshot protected by hand cannot be removed.
. "$(dirname "$0")/../lib.sh"

NAME=$(img scerr)
SRC=rbd/$NAME
METRICS=$TMPD/rbd2s3.prom

agent_snaps() { snap_names "$SRC" | grep '^rbd2s3-' | tr '\n' ' '; }
metric() { # NAME: its sample for the image ("" if none)
    grep -F "$1{image=\"$SRC\"} " "$METRICS" | awk '{print $2}'
}
printf '[global]\nmetrics file = %s\n\n[pool:rbd]\nimages = %s\n' "$METRICS" "$NAME" \
    >"$TMPD/run.conf"

require "create image" create_image "$SRC" 16M
require "write data" write_random "$SRC" 0 4M
if do_backup "$SRC"; then ok "backup A ($BK_ID)"; else not_ok "backup A"; done_testing; fi
A=$BK_ID
if do_backup "$SRC"; then ok "backup B ($BK_ID)"; else not_ok "backup B"; done_testing; fi
require "protect A's snapshot" rbd_src snap protect "$SRC@rbd2s3-$A"

# -- backup: its cleanup cannot remove A's snapshot
if do_backup "$SRC"; then ok "backup C succeeds ($BK_ID)"; else not_ok "backup C"; fi
ERR=$TMPD/backup.$_BK_N.err
expect_eq "$(jq -r .cleanup_errors "$BK_JSON")" 1 "backup JSON: cleanup_errors 1"
expect_eq "$(grep -c '^rbd2s3: warning: ' "$ERR")" 1 "one warning line on stderr"
check "it names the snapshot and says why" \
    grep -q "snapshot cleanup: cannot remove old snapshot rbd2s3-$A: .*protected" "$ERR"
diag "$(grep warning "$ERR")"
expect_eq "$(snap_names "$SRC" | grep -c "^rbd2s3-$A$")" 1 "A's snapshot is still there"

# -- run, table output: a NOTE, and the metric
rb -c "$TMPD/run.conf" run >"$TMPD/run.out" 2>"$TMPD/run.err"
expect_eq "$?" 0 "run exits 0"
check "run's table notes the cleanup error" grep -q "ok .*1 snapshot cleanup errors" "$TMPD/run.out"
expect_eq "$(grep -c '^rbd2s3: warning: .*snapshot cleanup' "$TMPD/run.err")" 1 "run: one warning line"
expect_eq "$(metric rbd2s3_snapshot_cleanup_errors)" 1 "metrics: rbd2s3_snapshot_cleanup_errors 1"
check "metrics: the metric has HELP and TYPE" \
    grep -q '^# TYPE rbd2s3_snapshot_cleanup_errors gauge$' "$METRICS"

# -- run, JSON
rb -c "$TMPD/run.conf" --format json run >"$TMPD/run.json" 2>"$TMPD/runj.err"
expect_eq "$?" 0 "run --format json exits 0"
expect_eq "$(jq -r --arg i "$SRC" '.[] | select(.image == $i) | .cleanup_errors' "$TMPD/run.json")" \
    1 "run JSON: cleanup_errors 1"

# -- unprotected: the next cleanup removes it, and reports 0
require "unprotect A's snapshot" rbd_src snap unprotect "$SRC@rbd2s3-$A"
rb -c "$TMPD/run.conf" --format json run >"$TMPD/run2.json" 2>"$TMPD/run2.err"
expect_eq "$?" 0 "run after unprotecting"
expect_eq "$(jq -r --arg i "$SRC" '.[] | select(.image == $i) | .cleanup_errors' "$TMPD/run2.json")" \
    0 "run JSON: cleanup_errors 0"
expect_eq "$(metric rbd2s3_snapshot_cleanup_errors)" 0 "metrics: rbd2s3_snapshot_cleanup_errors 0"
check "no warning" bash -c "! grep -q warning '$TMPD/run2.err'"
expect_eq "$(snap_names "$SRC" | grep -c "^rbd2s3-$A$")" 0 "A's snapshot is gone"
expect_eq "$(agent_snaps | wc -w)" 2 "two rbd2s3- snapshots remain (deferred cleanup)"

done_testing
