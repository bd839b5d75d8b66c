#!/usr/bin/env python3
"""find_plain.py - look for plaintext in the objects of a backup, for tests.

usage: find_plain.py NEEDLE_HEX CHUNKS_JSON SHOW_JSON OBJDIR

NEEDLE_HEX is the slice to look for (hex). CHUNKS_JSON is `rbd2s3 --format json show
IMAGE@ID --chunks`, SHOW_JSON `rbd2s3 --format json show IMAGE@ID`; OBJDIR holds every
data object of the backup under its key's last component ("data.N"). The needle is
searched in each object's raw bytes and in each data record's bytes decoded as lz4 (a
pure-Python LZ4 block decoder, the agent's chunk form), at the record's place and with
the 16-byte tag left off: a plain backup shows its plaintext, a sealed one must not.
Prints one line per hit and "hits N" last; exit 0.
"""
import json
import os
import sys


def more_length(src, i, v):
    """An LZ4 length nibble v, extended by bytes at src[i] while it is 15 (then 255s)."""
    if v != 15:
        return v, i
    while True:
        if i >= len(src):
            raise ValueError("truncated length")
        b = src[i]
        i += 1
        v += b
        if b != 255:
            return v, i


def lz4_block(src, limit):
    """Decode an LZ4 block; raises ValueError on anything malformed or past limit."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        tok = src[i]
        i += 1
        lit, i = more_length(src, i, tok >> 4)
        if i + lit > n:
            raise ValueError("literals past the end")
        out += src[i:i + lit]
        i += lit
        if i == n:
            break
        if i + 2 > n:
            raise ValueError("truncated offset")
        off = src[i] | (src[i + 1] << 8)
        i += 2
        if off == 0 or off > len(out):
            raise ValueError("bad offset")
        ml, i = more_length(src, i, tok & 15)
        ml += 4
        while ml > 0:
            k = min(off, ml)
            start = len(out) - off
            out += out[start:start + k]
            ml -= k
        if len(out) > limit:
            raise ValueError("longer than the record")
    return bytes(out)


def main(argv):
    needle = bytes.fromhex(argv[1])
    chunks = json.load(open(argv[2]))["chunks"]
    show = json.load(open(argv[3]))
    objdir = argv[4]
    objs = {}
    for n, o in enumerate(show["data_objects"]):
        with open(os.path.join(objdir, o["key"].rsplit("/", 1)[-1]), "rb") as f:
            objs[n] = f.read()
    hits = 0
    for n, data in objs.items():
        if needle in data:
            hits += 1
            print("object data.%d holds the needle as is" % n)
    for c in chunks:
        if c["kind"] == "zero":
            continue
        data = objs[c["pack"]]
        stored = data[c["pack_offset"]:c["pack_offset"] + c["stored"]]
        for cand in (stored, stored[:-16]):
            try:
                plain = cand if c["kind"] == "raw" else lz4_block(cand, c["length"])
            except ValueError:
                continue
            if needle in plain:
                hits += 1
                print("record at image offset %d decodes to the needle" % c["offset"])
                break
    print("hits %d" % hits)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
