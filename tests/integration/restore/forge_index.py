#!/usr/bin/env python3
"""forge_index.py - an index that decodes but is not the one its manifest names.

Usage: forge_index.py ORIG RAW RECORDS OUT_RAW OUT

ORIG is an index as the agent stored it, RAW its decompressed bytes, RECORDS the
numbers of its data records (one per line). The forger changes one digest byte of a
data record and encodes the result exactly as agent/format/index.c does (liblz4's
frame API: 64 KiB linked blocks, block and content checksums, default level; the
16-byte header and each 72-byte record fed one at a time), so that the forgery has
the original's length. It first proves that encoding RAW gives ORIG byte for byte. A
changed byte can make or break an lz4 match (digests of equal chunks repeat), so it
tries records and bit patterns in turn until the length is the original's.
Writes OUT_RAW (the changed records) and OUT (the forged index); exits 1 otherwise.
"""
import ctypes
import ctypes.util
import sys

HDR, REC, DIGEST_AT, DIGEST_LEN = 16, 72, 40, 32


class FrameInfo(ctypes.Structure):
    _fields_ = [("blockSizeID", ctypes.c_int), ("blockMode", ctypes.c_int),
                ("contentChecksumFlag", ctypes.c_int), ("frameType", ctypes.c_int),
                ("contentSize", ctypes.c_ulonglong), ("dictID", ctypes.c_uint),
                ("blockChecksumFlag", ctypes.c_int)]


class Prefs(ctypes.Structure):
    _fields_ = [("frameInfo", FrameInfo), ("compressionLevel", ctypes.c_int),
                ("autoFlush", ctypes.c_uint), ("favorDecSpeed", ctypes.c_uint),
                ("reserved", ctypes.c_uint * 3)]


LZ4 = ctypes.CDLL(ctypes.util.find_library("lz4") or "liblz4.so.1")
LZ4.LZ4F_isError.argtypes = [ctypes.c_size_t]
LZ4.LZ4F_getVersion.restype = ctypes.c_uint
LZ4.LZ4F_compressBound.restype = ctypes.c_size_t
LZ4.LZ4F_compressBound.argtypes = [ctypes.c_size_t, ctypes.POINTER(Prefs)]
for name in ("LZ4F_compressBegin", "LZ4F_compressUpdate", "LZ4F_compressEnd"):
    getattr(LZ4, name).restype = ctypes.c_size_t
LZ4.LZ4F_compressBegin.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.POINTER(Prefs)]
LZ4.LZ4F_compressUpdate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
LZ4.LZ4F_compressEnd.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.c_void_p]
LZ4.LZ4F_freeCompressionContext.argtypes = [ctypes.c_void_p]


def encode(raw):
    """The agent's encoding of the decompressed index RAW."""
    prefs = Prefs()
    prefs.frameInfo.blockSizeID = 4             # LZ4F_max64KB
    prefs.frameInfo.blockMode = 0               # LZ4F_blockLinked
    prefs.frameInfo.contentChecksumFlag = 1
    prefs.frameInfo.blockChecksumFlag = 1
    cap = 64 + LZ4.LZ4F_compressBound(len(raw), ctypes.byref(prefs))
    buf = ctypes.create_string_buffer(cap)
    cctx = ctypes.c_void_p()
    if LZ4.LZ4F_createCompressionContext(ctypes.byref(cctx), LZ4.LZ4F_getVersion()) != 0:
        sys.exit("forge_index: no lz4 compression context")
    n = LZ4.LZ4F_compressBegin(cctx, buf, cap, ctypes.byref(prefs))
    pieces = [raw[:HDR]] + [raw[i:i + REC] for i in range(HDR, len(raw), REC)]
    for piece in pieces:
        n += LZ4.LZ4F_compressUpdate(cctx, ctypes.byref(buf, n), cap - n, piece,
                                     len(piece), None)
    n += LZ4.LZ4F_compressEnd(cctx, ctypes.byref(buf, n), cap - n, None)
    LZ4.LZ4F_freeCompressionContext(cctx)
    return buf.raw[:n]


def main(orig_path, raw_path, records_path, out_raw_path, out_path):
    orig = open(orig_path, "rb").read()
    raw = open(raw_path, "rb").read()
    if encode(raw) != orig:
        sys.exit("forge_index: re-encoding the index does not give the stored bytes")
    for rec in (int(x) for x in open(records_path)):
        for pos in range(DIGEST_AT, DIGEST_AT + DIGEST_LEN):
            for bits in (0x5A, 0x01, 0x80, 0xFF):
                forged = bytearray(raw)
                forged[HDR + rec * REC + pos] ^= bits
                enc = encode(bytes(forged))
                if len(enc) == len(orig):
                    open(out_raw_path, "wb").write(forged)
                    open(out_path, "wb").write(enc)
                    return
    sys.exit("forge_index: no one-byte change keeps the index at %d bytes" % len(orig))


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__.strip().splitlines()[2])
    main(*sys.argv[1:])
