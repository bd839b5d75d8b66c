#!/usr/bin/env python3
"""objtool.py - byte flips, forged manifests and raw images for the fault suite.

    objtool.py flip IN OUT            XOR one random byte of IN with a random non-zero
                                      value; prints "OFFSET OLD NEW" (OUT has IN's size)
    objtool.py forge IN OUT [K=V...]  rewrite a manifest.json: each K=V sets a field
                                      (dotted path, e.g. image.name=evil, id=2026...;
                                      objects=KEY,KEY,... replaces the data object keys;
                                      index=KEY the index key), then recompute its checksum
                                      as rbd2s3 does (json-c plain: no blanks, "/" as "\\/")
    objtool.py rawgen SIZE RAW DIFF   RAW: SIZE bytes (MiB) with random data in a few
                                      ranges and zeros elsewhere; DIFF: the same as an
                                      `rbd export-diff` v1 stream to snapshot "s1"
"""
import hashlib
import json
import os
import random
import struct
import sys


def flip(src, dst):
    data = bytearray(open(src, "rb").read())
    if not data:
        sys.exit("objtool: flip: empty object")
    rnd = random.SystemRandom()
    off = rnd.randrange(len(data))
    old = data[off]
    data[off] ^= rnd.randrange(1, 256)
    open(dst, "wb").write(bytes(data))
    print(off, old, data[off])


def plain(obj):
    """json-c's JSON_C_TO_STRING_PLAIN form of obj."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


def set_path(doc, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        doc = doc[k]
    old = doc.get(keys[-1])
    if isinstance(old, int) and not isinstance(old, bool):
        value = int(value)
    doc[keys[-1]] = value


def forge(src, dst, assigns):
    doc = json.loads(open(src, "rb").read().decode())
    for a in assigns:
        k, _, v = a.partition("=")
        if k == "objects":
            tmpl = doc["data_objects"][0]
            doc["data_objects"] = [dict(tmpl, key=key) for key in v.split(",")]
        elif k == "index":
            doc["index"]["key"] = v
        else:
            set_path(doc, k, v)
    doc.pop("checksum", None)
    digest = hashlib.sha256(plain(doc).encode()).hexdigest()
    doc["checksum"] = "sha256:" + digest
    open(dst, "wb").write(plain(doc).encode())


def rawgen(size_mib, raw, diff):
    size = size_mib << 20
    rnd = random.SystemRandom()
    ranges = []
    pos = 0
    while pos < size:
        n = min(size - pos, rnd.randrange(1, 5) << 20)
        if rnd.random() < 0.7:
            ranges.append((pos, n))
        pos += n
    img = bytearray(size)
    for off, n in ranges:
        img[off:off + n] = os.urandom(n)
    open(raw, "wb").write(bytes(img))
    with open(diff, "wb") as out:
        out.write(b"rbd diff v1\n")
        name = b"s1"
        out.write(b"t" + struct.pack("<I", len(name)) + name)
        out.write(b"s" + struct.pack("<Q", size))
        for off, n in ranges:
            out.write(b"w" + struct.pack("<QQ", off, n) + bytes(img[off:off + n]))
        out.write(b"e")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "flip" and len(args) == 2:
        flip(*args)
    elif cmd == "forge" and len(args) >= 2:
        forge(args[0], args[1], args[2:])
    elif cmd == "rawgen" and len(args) == 3:
        rawgen(int(args[0]), args[1], args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
