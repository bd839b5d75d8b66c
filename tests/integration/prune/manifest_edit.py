#!/usr/bin/env python3
"""manifest_edit.py - forge rbd2s3 manifests for tests: change members, re-sign.

usage: manifest_edit.py IN OUT [--set PATH=JSON]... [--resign]
       manifest_edit.py IN --check      (exit 0 if our checksum equals the stored one)

PATH is dotted (image.name, data_objects.0.key, parent.snapshot); JSON is a JSON value
("\"text\"", 12, null). --resign recomputes the "checksum" member the way rbd2s3 does:
SHA-256 of the document without it, serialised like json-c's plain form (member order
kept, no blanks, '/' escaped). Without --resign the old checksum stays (a mismatch).
"""
import hashlib
import json
import sys


def checksum(doc):
    body = {k: v for k, v in doc.items() if k != "checksum"}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("/", "\\/")
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def set_path(doc, path, value):
    parts = path.split(".")
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    last = parts[-1]
    if isinstance(cur, list):
        idx = int(last)
        if idx == len(cur):
            cur.append(value)
        else:
            cur[idx] = value
    else:
        cur[last] = value


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    if argv[2:] == ["--check"]:
        return 0 if checksum(doc) == doc.get("checksum") else 1
    out, resign = argv[2], False
    args = argv[3:]
    i = 0
    while i < len(args):
        if args[i] == "--resign":
            resign = True
        elif args[i] == "--set":
            path, _, value = args[i + 1].partition("=")
            set_path(doc, path, json.loads(value))
            i += 1
        else:
            sys.exit("manifest_edit.py: unknown argument " + args[i])
        i += 1
    if resign:
        doc["checksum"] = checksum(doc)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
