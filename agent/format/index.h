/* index.h - the chunk index of a backup: fixed binary records in an lz4 frame.
 *
 * Object layout: an LZ4 frame (content and block checksums on) whose decompressed content is a
 * 16-byte header ("RBD2SIDX", u32 version = 2, u32 record size = 72) followed by
 * records sorted by image offset, each little-endian:
 *   u64 offset, u64 length, u32 obj (the N of data.N), u32 flags (bit 0: zero, bit 1: stored raw,
 *   bit 2: XXH3-128 digest, bit 3: sealed), u64 obj_offset, u32 stored_length, u32 reserved (0),
 *   u8 digest[32] (of the uncompressed bytes: SHA-256, or with bit 2 the canonical
 *   XXH3-128 in the first 16 bytes and zeros after; all zero for zero records). = 72 bytes.
 * Zero records have obj = obj_offset = stored_length = 0.
 * In an encrypted backup every data record is sealed (bit 3): its stored bytes are the
 * raw or lz4 form sealed with seal_chunk (agent/format/seal.h), SEAL_TAG_LEN longer, and
 * the whole frame is sealed with seal_index; a plain backup's index has no bit 3.
 * Version 1 (written before 2026-12-01) is read too; it has no bit 2, so SHA-256 only.
 */
#ifndef RBD2S3_INDEX_H
#define RBD2S3_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/digest.h"

#define INDEX_REC_SIZE 72
#define INDEX_FLAG_ZERO 1u
#define INDEX_FLAG_RAW 2u   /* stored uncompressed (stored_length == length) */
#define INDEX_FLAG_XXH3 4u  /* digest is XXH3-128, not SHA-256 */
#define INDEX_FLAG_SEALED 8u /* stored bytes sealed (seal_chunk): SEAL_TAG_LEN longer */

typedef struct index_rec {
    uint64_t offset;        /* image offset */
    uint64_t length;        /* uncompressed length */
    uint32_t obj;           /* the data object: data.<obj> */
    uint32_t flags;         /* INDEX_FLAG_ZERO */
    uint64_t obj_offset;    /* offset of the stored chunk in the data object */
    uint32_t stored_length; /* stored length in the data object */
    uint8_t digest[DIGEST_LEN];
} index_rec;

/* The kind of a data record's digest. */
digest_kind index_rec_digest(const index_rec *r);

/* Set a data record's digest d of kind k (the flag that names the kind with it). */
void index_rec_set_digest(index_rec *r, digest_kind k, const uint8_t d[DIGEST_LEN]);

/* 1 when a record's sizes are within what the format allows, else 0: a zero record
 * always; a data record of at most CHUNK_SIZE_MAX bytes, stored in more than its tag (0,
 * or SEAL_TAG_LEN when sealed) in bytes that end within 2^64, raw exactly its length plus
 * tag, compressed in at most LZ4_COMPRESSBOUND of it plus tag (every length fits an int
 * for lz4). */
int index_rec_sizes_ok(const index_rec *r);

/* 1 if data[0..r->length) is the record's uncompressed bytes by its digest. */
int index_rec_data_ok(const index_rec *r, const void *data);

/* Writer: appends records (offsets must increase and not overlap: -EINVAL otherwise;
 * also -EINVAL for length 0, unknown flags, ZERO with pack fields or hash set,
 * ZERO with RAW, XXH3 or SEALED, RAW with stored_length != length (+ SEAL_TAG_LEN when
 * SEALED), a data record longer than
 * CHUNK_SIZE_MAX (agent/format/chunk.h), stored in 0 bytes, stored bytes ending past 2^64
 * (obj_offset + stored_length wraps) or, compressed, in more than
 * LZ4_COMPRESSBOUND(length) (+ SEAL_TAG_LEN when SEALED); the reader refuses the same
 * records)
 * and produces the compressed object in memory (index_writer_new) or hands its bytes to a
 * sink as they are made (index_writer_new_sink: memory bounded whatever the count). */
typedef struct index_writer index_writer;
/* 0, -ENOMEM or -EIO; *out is freed with index_writer_free. */
int index_writer_new(index_writer **out);
/* Receives the next len bytes of the frame (len > 0); 0, or a negative errno that the
 * writer returns from the call that fed it (and keeps: the writer is then failed). */
typedef int (*index_sink_fn)(void *arg, const unsigned char *data, size_t len);
/* A writer that passes the frame to sink as LZ4F produces it (the header at once, a block
 * about every 64 KiB of records, the end at index_writer_finish), holding at most one
 * block. Same returns as index_writer_new, or the sink's error. */
int index_writer_new_sink(index_sink_fn sink, void *arg, index_writer **out);
int index_writer_add(index_writer *w, const index_rec *rec);
/* Finish the frame; *data and *len stay owned by the writer until index_writer_free. A
 * sink writer gives *data NULL and *len the frame's whole length (all sent to the sink). */
int index_writer_finish(index_writer *w, const unsigned char **data, size_t *len);
uint64_t index_writer_count(const index_writer *w);
void index_writer_free(index_writer *w);

/* Reader: decodes a whole index object held in memory (as downloaded), streaming
 * records out of the frame without materialising them all. */
typedef struct index_reader index_reader;
/* Returns 0, -EINVAL (bad magic/version/frame) or -ENOMEM. The reader keeps a
 * pointer to data, which must outlive it. */
int index_reader_new(const unsigned char *data, size_t len, index_reader **out);
/* Gives the next piece of a frame read as a stream: 0 with *data and *len (len 0: no
 * more; data stays valid until the next call), or a negative errno that the reader
 * returns (and keeps). */
typedef int (*index_source_fn)(void *arg, const unsigned char **data, size_t *len);
/* A reader of the frame that source gives piece by piece (the header is read here). Same
 * returns as index_reader_new, or the source's error. */
int index_reader_new_source(index_source_fn source, void *arg, index_reader **out);
/* 1 and *rec filled, 0 at the end (the source, if any, then said it has no more), negative
 * on a corrupt/truncated stream, on records out of order, or the source's error. */
int index_reader_next(index_reader *r, index_rec *rec);
void index_reader_free(index_reader *r);

/* Read a whole index into a malloc'ed array (for restore planning); caller frees
 * *recs (NULL when n = 0). */
int index_load(const unsigned char *data, size_t len, index_rec **recs, size_t *n);

/* A stream of records in increasing offset order, from wherever they come (an index
 * object read with ranged GETs, an array in memory): next(arg, rec) returns 1 with *rec
 * filled, 0 at the end, or a negative errno (the error already recorded by the source).
 * The chain merge (agent/restore/) reads its sources through this. */
typedef struct index_cursor {
    int (*next)(void *arg, index_rec *rec);
    void *arg;
} index_cursor;

/* A cursor over recs[0..n) (the array must outlive it): *pos is its position, set to 0
 * by the caller before the first next. Cannot fail. */
typedef struct index_array_cursor {
    const index_rec *recs;
    size_t n, pos;
} index_array_cursor;
index_cursor index_array_cursor_of(index_array_cursor *a);

#endif
