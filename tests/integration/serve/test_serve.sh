#!/bin/bash
# test_serve.sh - rbd2s3 serve: every point of a chain of 3 with resizes served as a raw
# image equal to the source at its backup (whole, 200 random Ranges, HEAD, 416, the
# listing, qemu-img convert over http), TLS, the bearer token, unknown points, a port
# in use, a damaged chunk (an error or a cut body, never wrong bytes), SIGTERM.
. "$(dirname "$0")/../lib.sh"

SRC=rbd/$(img serve)
IMG=${SRC#rbd/}
SERVE_PID=""
BASE=""
SERVE_PRE=()     # global options of start_serve, before the command

# start_serve NAME ARGS...: rbd2s3 serve in the background; sets SERVE_PID, BASE (from
# its "serving on URL" line). Returns 1 if it did not come up within 30 s.
start_serve() {
    local name=$1 i
    shift
    "$RBD2S3" "${RB_ARGS[@]}" "${SERVE_PRE[@]}" serve "$@" >"$TMPD/$name.out" \
        2>"$TMPD/$name.err" &
    SERVE_PID=$!
    for i in $(seq 300); do
        BASE=$(sed -n 's|^serving on \(.*\)/$|\1|p' "$TMPD/$name.out")
        [ -n "$BASE" ] && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    diag "serve $* did not start:" "$(cat "$TMPD/$name.err")"
    return 1
}

# stop_serve: SIGTERM, and the exit code (124 if still running after 10 s).
stop_serve() {
    local i
    kill -TERM "$SERVE_PID" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$SERVE_PID" 2>/dev/null || { wait "$SERVE_PID"; return $?; }
        sleep 0.1
    done
    kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
    return 124
}

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- a chain of 3 backups: 24 MiB, grown to 40 MiB, shrunk to 36 MiB
require "create $SRC" create_image "$SRC" 24M
write_ops "$SRC" w:0:3M t:5M:2M w:11M:1M z:1M:512K w:20M:4M
do_backup "$SRC" || bail "backup 1 failed"
IDS=("$BK_ID")
rbd_src export --no-progress "$SRC" "$TMPD/p0.raw" >/dev/null
require "grow to 40M" grow "$SRC" 40M
write_ops "$SRC" w:2M:1M w:30M:3M z:20M:1M w:38M:2M
do_backup "$SRC" || bail "backup 2 failed"
IDS+=("$BK_ID")
rbd_src export --no-progress "$SRC" "$TMPD/p1.raw" >/dev/null
require "shrink to 36M" rbd_src resize --no-progress --allow-shrink --size 36 "$SRC"
write_ops "$SRC" w:7M:2M w:33M:1M z:0:64K
do_backup "$SRC" || bail "backup 3 failed"
IDS+=("$BK_ID")
rbd_src export --no-progress "$SRC" "$TMPD/p2.raw" >/dev/null
expect_eq "$(stat -c %s "$TMPD/p1.raw") $(stat -c %s "$TMPD/p2.raw")" "41943040 37748736" \
    "the exports have the sizes of the resizes"

# ---- serve on a free port
start_serve s1 --listen 127.0.0.1:0 || bail "serve --listen 127.0.0.1:0 did not start"
ok "serve --listen 127.0.0.1:0 starts and names its port"
diag "serving at $BASE"
for i in 0 1 2; do
    got=$(curl -sf "$BASE/rbd/$IMG@${IDS[$i]}.raw" | sha256sum | cut -d' ' -f1)
    expect_eq "$got" "$(file_sum "$TMPD/p$i.raw")" "point $((i + 1)): the whole raw equals the export"
done
got=$(curl -sf "$BASE/rbd/$IMG.raw" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$(file_sum "$TMPD/p2.raw")" "/POOL/IMAGE.raw is the newest point"
check "200 random Range reads equal the exports" python3 "$TEST_DIR/range_check.py" "$BASE" 200 \
    "/rbd/$IMG@${IDS[0]}.raw=$TMPD/p0.raw" "/rbd/$IMG@${IDS[1]}.raw=$TMPD/p1.raw" \
    "/rbd/$IMG@${IDS[2]}.raw=$TMPD/p2.raw"

curl -sI "$BASE/rbd/$IMG@${IDS[1]}.raw" | tr -d '\r' >"$TMPD/head"
expect_eq "$(sed -n 's/^Content-Length: //Ip' "$TMPD/head")" 41943040 "HEAD gives the size"
check "HEAD: Accept-Ranges: bytes" grep -qi '^Accept-Ranges: bytes$' "$TMPD/head"
check "HEAD: the ETag is the backup id" grep -qi "^ETag: \"${IDS[1]}\"$" "$TMPD/head"
check "HEAD: Last-Modified" grep -qi '^Last-Modified: .* GMT$' "$TMPD/head"

curl -s -D "$TMPD/h416" -o /dev/null -r 41943040- "$BASE/rbd/$IMG@${IDS[1]}.raw"
expect_eq "$(head -n1 "$TMPD/h416" | cut -d' ' -f2)" 416 "a range past the end: 416"
check "416 names the size" grep -qi '^Content-Range: bytes \*/41943040' "$TMPD/h416"
expect_eq "$(status_of -r 0-1,5-6 "$BASE/rbd/$IMG@${IDS[0]}.raw")" 200 \
    "several ranges: the whole image (200)"

curl -sv -o /dev/null -r 0-9 "$BASE/rbd/$IMG.raw" -o /dev/null -r 10-19 "$BASE/rbd/$IMG.raw" \
    2>"$TMPD/keepalive"
check "keep-alive: a second request reuses the connection" \
    grep -q "Re-using existing connection" "$TMPD/keepalive"
curl -sf "$BASE/" >"$TMPD/list.json"
expect_eq "$(jq -r --arg i "rbd/$IMG" '.images[] | select(.image == $i) |
    [.backups[] | "\(.id) \(.size) \(.url)"] | join(",")' "$TMPD/list.json")" \
    "${IDS[0]} 25165824 /rbd/$IMG@${IDS[0]}.raw,${IDS[1]} 41943040 /rbd/$IMG@${IDS[1]}.raw,${IDS[2]} 37748736 /rbd/$IMG@${IDS[2]}.raw" \
    "GET / lists the image's backups: ids, sizes, URLs"
expect_eq "$(curl -sf "$BASE/rbd/$IMG/" | jq -r '.images | length')" 1 "GET /POOL/IMAGE/ lists it"

expect_eq "$(status_of "$BASE/rbd/$IMG@20000101T000000Z.raw")" 404 "unknown backup: 404"
body=$(curl -s "$BASE/rbd/$IMG@20000101T000000Z.raw")
check "404: one line of JSON with an error" test "$(printf '%s\n' "$body" | wc -l)" = 1 -a \
    -n "$(printf '%s' "$body" | jq -r .error)"
expect_eq "$(status_of "$BASE/rbd/nosuch-$TAG.raw")" 404 "unknown image: 404"
expect_eq "$(status_of --path-as-is "$BASE/rbd/../$IMG.raw")" 400 "a path with ..: 400"
expect_eq "$(status_of "$BASE/a/b/c/d.raw")" 400 "a path that is no spec: 400"
expect_eq "$(status_of -X POST "$BASE/rbd/$IMG.raw")" 405 "POST: 405"

# ---- qemu-img over http (its curl block driver)
# -m 1: qemu-img 7.2's curl driver stalls now and then with several requests in flight
# against a fast server (it takes one finished transfer per socket event).
if timeout 120 qemu-img convert -m 1 -f raw -O raw "$BASE/rbd/$IMG@${IDS[1]}.raw" \
        "$TMPD/qemu.raw" 2>"$TMPD/qemu.err"; then
    expect_eq "$(file_sum "$TMPD/qemu.raw")" "$(file_sum "$TMPD/p1.raw")" \
        "qemu-img convert http://.../POOL/IMAGE@ID.raw equals the export"
elif grep -qiE "unknown protocol|curl" "$TMPD/qemu.err"; then
    ok "# SKIP qemu-img has no curl block driver: $(head -n1 "$TMPD/qemu.err")"
else
    not_ok "qemu-img convert over http"
    diag "$(cat "$TMPD/qemu.err")"
fi
rm -f "$TMPD/qemu.raw"

# ---- port in use
PORT=${BASE##*:}
rb serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMPD/inuse.err"
expect_eq "$?" 11 "port in use: exit 11"
expect_eq "$(cat "$TMPD/inuse.err")" \
    "rbd2s3: serve: cannot listen on 127.0.0.1:$PORT: Address already in use" \
    "port in use: one line"

# ---- SIGTERM
t0=$(date +%s%N)
stop_serve
expect_eq "$?" 0 "SIGTERM: exit 0"
ms=$((($(date +%s%N) - t0) / 1000000))
check "SIGTERM: stopped in ${ms} ms (< 3000)" test "$ms" -lt 3000

# ---- a bearer token; a non-loopback address needs one
printf 'tok-%s\n' "$TAG" >"$TMPD/token"
chmod 644 "$TMPD/token"
rb serve --listen 127.0.0.1:0 --token-file "$TMPD/token" >/dev/null 2>"$TMPD/tokmode.err"
expect_eq "$?" 2 "a token file open to others: exit 2"
check "its line says why" grep -q "token file .*open to group or others" "$TMPD/tokmode.err"
chmod 600 "$TMPD/token"
rb serve --listen 0.0.0.0:0 >/dev/null 2>"$TMPD/noloop.err"
expect_eq "$?" 2 "0.0.0.0 without a token: exit 2"
expect_eq "$(wc -l <"$TMPD/noloop.err")" 1 "0.0.0.0 without a token: one line"
if start_serve s2 --listen 0.0.0.0:0 --token-file "$TMPD/token"; then
    BASE=http://127.0.0.1:${BASE##*:}
    expect_eq "$(status_of "$BASE/rbd/$IMG.raw")" 401 "token set: 401 without it"
    expect_eq "$(status_of -H "Authorization: Bearer wrong" "$BASE/rbd/$IMG.raw")" 401 \
        "token set: 401 with a wrong one"
    expect_eq "$(status_of -H "Authorization: Bearer tok-$TAG" -r 0-99 "$BASE/rbd/$IMG.raw")" \
        206 "token set: 206 with it"
    expect_eq "$(status_of -H "Authorization: Bearer tok-$TAG" "$BASE/")" 200 \
        "token set: the listing with it"
    stop_serve
    expect_eq "$?" 0 "SIGTERM: exit 0 (token)"
else
    not_ok "serve with a token starts"
fi

# ---- the config file's [serve] section; IPv6 loopback
printf '[serve]\nlisten = [::1]:0\n' >"$TMPD/serve.conf"
SERVE_PRE=(-c "$TMPD/serve.conf")
if start_serve s5; then
    check "[serve] listen = [::1]:0 is taken ($BASE)" grep -q '^serving on http://\[::1\]:' \
        "$TMPD/s5.out"
    expect_eq "$(status_of -g -r 0-9 "$BASE/rbd/$IMG.raw")" 206 "a Range over IPv6"
    stop_serve
else
    not_ok "serve with [serve] listen = [::1]:0 starts"
fi
SERVE_PRE=()
printf '[serve]\nlisen = 127.0.0.1:0\n' >"$TMPD/bad.conf"
rb -c "$TMPD/bad.conf" serve >/dev/null 2>"$TMPD/badconf.err"
expect_eq "$?" 2 "an unknown key in [serve]: exit 2"

# ---- --max-connections: one held connection takes the only place
if start_serve s6 --listen 127.0.0.1:0 --max-connections 1; then
    PORT=${BASE##*:}
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    sleep 0.5
    curl -s --max-time 5 -o /dev/null -r 0-9 "$BASE/rbd/$IMG.raw"
    rc=$?
    check "--max-connections 1: a second connection is refused (curl exit $rc)" test "$rc" -ne 0
    exec 3>&-
    for _ in $(seq 50); do
        code=$(status_of -r 0-9 "$BASE/rbd/$IMG.raw")
        [ "$code" = 206 ] && break
        sleep 0.2
    done
    expect_eq "$code" 206 "--max-connections 1: served once the place is free"
    stop_serve
else
    not_ok "serve --max-connections 1 starts"
fi

# ---- TLS with a self-signed certificate
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$TMPD/tls.key" -out "$TMPD/tls.crt" \
        >/dev/null 2>&1 &&
        start_serve s3 --listen 127.0.0.1:0 --tls-cert "$TMPD/tls.crt" --tls-key "$TMPD/tls.key"
then
    check "TLS: serving on https://" grep -q '^serving on https://' "$TMPD/s3.out"
    got=$(curl -sf --cacert "$TMPD/tls.crt" "$BASE/rbd/$IMG@${IDS[0]}.raw" | sha256sum |
          cut -d' ' -f1)
    expect_eq "$got" "$(file_sum "$TMPD/p0.raw")" "TLS: the whole raw equals the export"
    stop_serve
else
    not_ok "serve with TLS starts"
fi

# ---- a damaged chunk of the newest backup: an error or a cut body, never wrong bytes
rb --format json show "$SRC@${IDS[2]}" --chunks >"$TMPD/show.json" 2>/dev/null
read -r COFF CLEN PACK POFF PLEN < <(jq -r '[.chunks[] | select(.kind != "zero" and
    .offset >= 4194304)][0] | "\(.offset) \(.length) \(.pack) \(.pack_offset) \(.stored)"' \
    "$TMPD/show.json")
KEY=$(jq -r ".data_objects[$PACK].key" "$TMPD/show.json")
require "the newest backup has a data chunk past 4 MiB ($KEY at $POFF)" \
    test -n "$KEY" -a "$KEY" != null -a "$PLEN" -gt 64
require "download $KEY" s3api get-object --bucket "$BUCKET" --key "$KEY" "$TMPD/obj"
python3 - "$TMPD/obj" "$((POFF + PLEN / 2))" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = int(sys.argv[2])
for i in range(at, at + 16):
    data[i] ^= 0xA5
open(sys.argv[1], "wb").write(data)
PY
require "upload it damaged" s3api put-object --bucket "$BUCKET" --key "$KEY" --body "$TMPD/obj"
if start_serve s4 --listen 127.0.0.1:0; then
    URL="$BASE/rbd/$IMG@${IDS[2]}.raw"
    code=$(curl -s -o "$TMPD/part" -w '%{http_code}' -r "$COFF-$((COFF + CLEN - 1))" "$URL")
    expect_eq "$code" 502 "a Range over the damaged chunk: 502"
    curl -sf -o "$TMPD/whole" "$URL"
    rc=$?
    check "the whole raw: curl fails (exit $rc)" test "$rc" -ne 0
    n=$(stat -c %s "$TMPD/whole" 2>/dev/null || echo 0)
    check "the whole raw is cut before the damaged chunk ($n bytes, chunk at $COFF)" \
        test "$n" -le "$COFF"
    check "what came is the image's bytes" cmp -n "$n" "$TMPD/whole" "$TMPD/p2.raw"
    stop_serve
    expect_eq "$?" 0 "SIGTERM after the damage: exit 0"
    check "the damage is named on stderr" grep -q "$KEY\|checksum\|damaged\|digest" \
        "$TMPD/s4.err"
else
    not_ok "serve starts again"
fi

done_testing
