# shellcheck shell=bash
# fakes3_lib.sh - sourced (after lib.sh) by the scripts that talk to tests/fakes3/fakes3.py
# (in s3/, run/ and restore/): start_fakes3 BUCKET starts one in the background (killed by
# lib.sh's exit trap with the script's other jobs), sets FAKE=http://127.0.0.1:PORT and
# bails when the server does not start; fk runs rbd2s3 against it.
start_fakes3() {
    local t port
    python3 "$REPO/tests/fakes3/fakes3.py" --access-key "$AWS_ACCESS_KEY_ID" \
        --secret-key "$AWS_SECRET_ACCESS_KEY" --bucket "$1" >"$TMPD/fake.port" \
        2>"$TMPD/fake.err" &
    for ((t = 0; t < 100; t++)); do
        [ -s "$TMPD/fake.port" ] && break
        sleep 0.1
    done
    port=$(head -n 1 "$TMPD/fake.port")
    [ -n "$port" ] || bail "fakes3 did not start: $(cat "$TMPD/fake.err")"
    FAKE=http://127.0.0.1:$port
    FAKE_BKT=$1
}

# rbd2s3 against the fake server: fk [GLOBAL OPTIONS] COMMAND ARGS...
fk() {
    timeout -k 5 "${CASE_TIMEOUT:-300}" "$RBD2S3" --ceph-conf "$SRC_CEPH_CONF" \
        --endpoint "$FAKE" --bucket "$FAKE_BKT" --no-progress --part-size 5M "$@"
}
