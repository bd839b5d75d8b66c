#!/usr/bin/env python3
"""gen_image.py - deterministic benchmark data for tests/bench/run.sh.

  gen_image.py image FILE SIZE [--seed N]
      Write a sparse file of SIZE bytes in 4 MiB blocks: 30% of the blocks are never
      written (holes), 30% hold incompressible random bytes and 40% compressible text
      (log-like lines of words and numbers, lz4 -1 ratio about 4x). The kinds are
      interleaved across the image (a seeded shuffle), not three contiguous regions.
      Prints "blocks=N holes=N random=N text=N".

  gen_image.py diff SIZE --count N --len L [--seed N]      > stream
      An `rbd export-diff` v1 stream (no from/to snapshot records, so `rbd import-diff`
      applies it to the image head) of N writes of L random bytes at distinct,
      L-aligned, seeded-random offsets below SIZE.

  gen_image.py fill OFF LEN [--seed N]                     > stream
      An export-diff v1 stream writing LEN random bytes at OFF (in 4 MiB records).

SIZE, OFF, LEN accept K/M/G suffixes (powers of 1024). Same arguments, same bytes.
"""
import argparse
import os
import random
import struct
import sys

BLOCK = 4 << 20

WORDS = ("alpha beta gamma delta epsilon request response worker queue volume "
         "snapshot object backup restore client server session timeout retry "
         "commit index chunk upload download latency bytes status ok warn error "
         "info debug trace pool image cluster monitor osd placement group").split()
LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")


def num(s):
    m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = s.strip()
    if s and s[-1].upper() in m:
        return int(s[:-1]) * m[s[-1].upper()]
    return int(s)


def text_block(rng, n, seq):
    """n bytes of log-like text: 128 distinct message lines of words and numbers,
    picked at random, each after an increasing sequence number (lz4 -1: ~4x)."""
    ch = rng.choice
    ri = rng.randrange
    pool = ["%s %s-%d %s %s %s bytes=%d" % (ch(LEVELS), ch(WORDS), ri(64), ch(WORDS),
                                            ch(WORDS), ch(WORDS), ri(1 << 20))
            for _ in range(128)]
    out = []
    size = 0
    while size < n:
        seq += ri(1, 100)
        line = "%d %s\n" % (seq, ch(pool))
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def cmd_image(a):
    size = num(a.size)
    if size % BLOCK:
        sys.exit("gen_image.py: SIZE must be a multiple of 4 MiB")
    nblk = size // BLOCK
    rng = random.Random(a.seed)
    nhole = nblk * 30 // 100
    nrand = nblk * 30 // 100
    kinds = ["h"] * nhole + ["r"] * nrand + ["t"] * (nblk - nhole - nrand)
    rng.shuffle(kinds)
    with open(a.file, "wb") as f:
        f.truncate(size)
        for i, k in enumerate(kinds):
            if k == "h":
                continue
            # one generator per block: a block's bytes depend only on seed and index
            brng = random.Random(a.seed * 1000003 + i)
            data = brng.randbytes(BLOCK) if k == "r" else text_block(brng, BLOCK, i * 10**9)
            f.seek(i * BLOCK)
            f.write(data)
    print("blocks=%d holes=%d random=%d text=%d" % (
        nblk, kinds.count("h"), kinds.count("r"), kinds.count("t")))


def write_rec(out, off, data):
    out.write(b"w" + struct.pack("<QQ", off, len(data)) + data)


def cmd_diff(a):
    size, cnt, ln = num(a.size), a.count, num(a.len)
    slots = size // ln
    if cnt > slots:
        sys.exit("gen_image.py: more writes than slots")
    rng = random.Random(a.seed)
    offs = sorted(rng.sample(range(slots), cnt))
    out = sys.stdout.buffer
    out.write(b"rbd diff v1\n")
    for s in offs:
        write_rec(out, s * ln, rng.randbytes(ln))
    out.write(b"e")


def cmd_fill(a):
    off, ln = num(a.off), num(a.len)
    rng = random.Random(a.seed)
    out = sys.stdout.buffer
    out.write(b"rbd diff v1\n")
    while ln > 0:
        n = min(ln, BLOCK)
        write_rec(out, off, rng.randbytes(n))
        off += n
        ln -= n
    out.write(b"e")


def main():
    p = argparse.ArgumentParser(description="benchmark data for rbd2s3")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("image")
    s.add_argument("file")
    s.add_argument("size")
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_image)
    s = sub.add_parser("diff")
    s.add_argument("size")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--len", default="64K")
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_diff)
    s = sub.add_parser("fill")
    s.add_argument("off")
    s.add_argument("len")
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_fill)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
