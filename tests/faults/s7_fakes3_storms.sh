#!/usr/bin/env bash
# s7_fakes3_storms.sh - 503 and connection-reset storms from tests/fakes3/fakes3.py
# (scripted faults that RGW cannot produce on demand), on import-diff and on restore
# --to-file, which need no Ceph. A run either succeeds with the right bytes or fails
# cleanly (one error line, and no backup appears); no restore exits 0 with wrong bytes.
# A storm longer than the retry budget must fail, not loop.
. "$(dirname "$0")/flib.sh"

FK_BUCKET=faults-fake
python3 "$FAULTS_DIR/../fakes3/fakes3.py" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" --bucket "$FK_BUCKET" \
    >"$TMPD/fake.port" 2>"$TMPD/fake.err" &
FAKE_PID=$!
for ((i = 0; i < 100; i++)); do [ -s "$TMPD/fake.port" ] && break; sleep 0.1; done
PORT=$(head -n 1 "$TMPD/fake.port")
[ -n "$PORT" ] || bail "fakes3.py did not start: $(cat "$TMPD/fake.err")"
FAKE=http://127.0.0.1:$PORT
FK=("$RBD2S3" --endpoint "$FAKE" --bucket "$FK_BUCKET" --no-progress --region us-east-1)
diag "fakes3.py pid $FAKE_PID on port $PORT"

rules() { printf '%s\n' "$@" | curl -sf -X POST --data-binary @- "$FAKE/_ctl/rules" >/dev/null; }
fk() { timeout --foreground -k 5 300 "${FK[@]}" "$@"; }

python3 "$OBJTOOL" rawgen 24 "$TMPD/raw" "$TMPD/diff" || bail "rawgen"
WANT=$(file_sum "$TMPD/raw")

# import WHAT SPEC RULE...: import-diff under a storm; the backup is there iff it exited 0
import() {
    local what=$1 spec=$2 rc
    shift 2
    rules "$@"
    fk import-diff "$TMPD/diff" "$spec" >"$TMPD/imp.out" 2>"$TMPD/imp.err"
    rc=$?
    rules
    IMP_RC=$rc
    diag "$what: import-diff exit $rc: $(tail -n 1 "$TMPD/imp.err")"
    n=$(fk --format json list "$spec" 2>/dev/null | jq '.backups | length')
    if [ $rc = 0 ]; then
        expect_eq "$n" 1 "$what: the import committed one backup"
        fk restore "$spec" --to-file - 2>"$TMPD/r.err" | sha256sum >"$TMPD/r.sum"
        expect_eq "${PIPESTATUS[0]} $(cut -d' ' -f1 "$TMPD/r.sum")" "0 $WANT" \
            "$what: and it restores identical"
    else
        expect_eq "$(err_lines "$TMPD/imp.err" import-diff | wc -l)" 1 \
            "$what: failed with one error line"
        expect_eq "${n:-0}" 0 "$what: a failed import left no backup"
    fi
}

trial_begin "503 storm on the uploads"
import "503 storm on the uploads" rbd/storm-a \
    "POST * uploads 1 status 503 SlowDown" "PUT * partNumber= 1,2,3,5,8 status 503 SlowDown" \
    "PUT manifest.json * 1-2 status 503 SlowDown"
expect_eq "$IMP_RC" 0 "503 storm on the uploads: rode through (a few 503s per request)"
trial_end

trial_begin "503s and resets on a restore"
rules
if fk import-diff "$TMPD/diff" rbd/storm-r >/dev/null 2>"$TMPD/imp.err"; then
    STORMS=("GET /data. * 2,4,6,9 status 503 SlowDown|GET /data. * 3,7 drop|GET /data. * 5 close"
            "GET /data. * 1-3 close|GET /index * 1 short|GET manifest.json * 1 status 500 X")
    for storm in "${STORMS[@]}"; do
        IFS='|' read -r -a r <<<"$storm"
        rules "${r[@]}"
        fk restore rbd/storm-r --to-file - 2>"$TMPD/r.err" | sha256sum >"$TMPD/r.sum"
        rc=${PIPESTATUS[0]}
        rules
        got=$(cut -d' ' -f1 "$TMPD/r.sum")
        diag "restore under [$storm]: exit $rc $(tail -n 1 "$TMPD/r.err")"
        if [ "$rc" = 0 ]; then
            if [ "$got" = "$WANT" ]; then
                ok "restore under a storm: identical"
            else
                data_lost "restore under a storm exited 0 with WRONG bytes"
            fi
        else
            expect_eq "$(err_lines "$TMPD/r.err" restore | wc -l)" 1 \
                "restore under a storm: failed with one error line"
        fi
    done
else
    not_ok "an import without faults: $(tail -n 1 "$TMPD/imp.err")"
fi
trial_end

if [ "$QUICK" != 1 ]; then
    trial_begin "connection resets on the uploads"
    import "connection resets on the uploads" rbd/storm-b \
        "PUT * partNumber= 1,3 drop" "PUT * partNumber= 2 close" "PUT /index * 1 close" \
        "PUT manifest.json * 1 drop"
    trial_end

    trial_begin "a 503 storm that does not end"
    t0=$SECONDS
    import "a 503 storm that does not end" rbd/storm-c "PUT * partNumber= all status 503 SlowDown"
    if [ "$IMP_RC" != 0 ]; then
        ok "a 503 storm that does not end: the import gave up after $((SECONDS - t0))s"
    else
        not_ok "a 503 storm that does not end: the import exited 0"
    fi
    trial_end
fi
kill "$FAKE_PID" 2>/dev/null
fault_done
