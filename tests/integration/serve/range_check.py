#!/usr/bin/env python3
"""range_check.py - random Range reads of served points against their exported files.

Usage: range_check.py BASE_URL COUNT PATH=FILE [PATH=FILE...]
Sends COUNT GETs (one keep-alive connection), each a random point and a random range
among "bytes=A-B", "bytes=A-" (near the end) and "bytes=-N"; each answer must be a 206
with the right Content-Range and exactly the file's bytes. Prints one line per failure
and "N ranges ok"; exits 1 on any failure."""
import http.client
import os
import random
import sys
import urllib.parse


def main():
    base = urllib.parse.urlsplit(sys.argv[1])
    count = int(sys.argv[2])
    points = []
    for arg in sys.argv[3:]:
        path, f = arg.split("=", 1)
        points.append((path, f, os.path.getsize(f)))
    rnd = random.Random(int.from_bytes(os.urandom(4), "little"))
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
    bad = 0
    for i in range(count):
        path, f, size = rnd.choice(points)
        kind = rnd.random()
        if kind < 0.8:
            a = rnd.randrange(0, size)
            b = min(size - 1, a + rnd.choice([0, 1, 511, 4095, 65535, 1 << 20, 3 << 20])
                    + rnd.randrange(0, 4096))
            hdr, start, end = "bytes=%d-%d" % (a, b), a, b
        elif kind < 0.9:
            a = size - rnd.randrange(1, 1 << 20)
            hdr, start, end = "bytes=%d-" % a, a, size - 1
        else:
            n = rnd.randrange(1, 1 << 20)
            hdr, start, end = "bytes=-%d" % n, size - n, size - 1
        conn.request("GET", path, headers={"Range": hdr})
        resp = conn.getresponse()
        body = resp.read()
        with open(f, "rb") as fh:
            fh.seek(start)
            want = fh.read(end - start + 1)
        cr = resp.getheader("Content-Range")
        wcr = "bytes %d-%d/%d" % (start, end, size)
        if resp.status != 206 or cr != wcr or body != want:
            bad += 1
            print("range %s of %s: status %d, Content-Range %s (want %s), %d bytes (want %d)%s"
                  % (hdr, path, resp.status, cr, wcr, len(body), len(want),
                     "" if body == want else ", bytes differ"))
    print("%d ranges ok, %d bad" % (count - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
