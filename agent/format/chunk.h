/* chunk.h - one chunk of image data, encoded (zero runs found at sparse-size granules,
 * digest and lz4 of the data runs) and decoded (one stored record back to checked bytes).
 * Pure functions, no I/O, safe on any thread. */
#ifndef RBD2S3_CHUNK_H
#define RBD2S3_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/digest.h"
#include "agent/format/index.h"
#include "agent/format/seal.h"

#define CHUNK_SPARSE_MIN 4096u
/* The largest chunk the format allows: every writer (backup, import-diff) refuses a
 * larger chunk size, and every reader refuses a data record or a manifest chunk size
 * beyond it (zero records may span many chunks). */
#define CHUNK_SIZE_MAX (64ULL << 20)

/* One run of a chunk: all zeros, or data with its hash and stored form. */
typedef struct chunk_piece {
    uint64_t off;             /* within the chunk */
    uint64_t len;
    int zero;
    int raw;                  /* data stored as is: the chunk's bytes [off, off + len) */
    size_t comp_off;          /* !raw: the stored bytes are comp[comp_off, + comp_len) */
    uint32_t comp_len;
    uint8_t digest[DIGEST_LEN]; /* of the uncompressed bytes (data runs) */
} chunk_piece;

/* An encoder: the runs of the last chunk and the stored bytes of its compressed runs. */
typedef struct chunk_enc {
    uint64_t sparse;          /* granule: the sparse size, at most the chunk size */
    digest_kind digest;       /* of the data runs */
    unsigned char *comp;      /* cap bytes */
    size_t cap;
    chunk_piece *pieces;      /* max_pieces */
    size_t max_pieces;
    size_t n;                 /* runs of the last chunk_encode */
} chunk_enc;

/* 1 if buf[0..len) is all zero bytes. */
int chunk_is_zero(const unsigned char *buf, size_t len);

/* Buffers for chunks of at most chunk bytes (1 to CHUNK_SIZE_MAX) at granule sparse (a
 * power of two, at least CHUNK_SPARSE_MIN; the chunk size or more checks whole chunks),
 * data runs digested with dk. 0, -EINVAL (chunk out of bounds) or -ENOMEM; free with
 * chunk_enc_free (also after a failure, and on a zeroed encoder). */
int chunk_enc_init(chunk_enc *e, uint64_t chunk, uint64_t sparse, digest_kind dk);
void chunk_enc_free(chunk_enc *e);

/* Split data[0..len), which sits at image offset off, into runs: a granule (the image's
 * [k * sparse, (k + 1) * sparse), clipped to the chunk) that holds only zeros joins a
 * zero run, any other a data run; data runs get their digest and are lz4-compressed
 * into e->comp, or stored raw when a 64 KiB sample or the whole does not shrink. Writes
 * the runs in order into e->pieces and returns their number e->n (0 only for len 0);
 * adjacent runs are never of the same kind. */
size_t chunk_encode(chunk_enc *e, const unsigned char *data, size_t len, uint64_t off);

/* The counterpart of chunk_encode for one data record r of a chunk index: its stored
 * bytes stored[0..stored_len) back to its r->length raw bytes, checked against the
 * record's digest. A raw record's bytes are the stored ones (*out = stored, buf unused,
 * may be NULL); a compressed record's are lz4-decompressed into buf[0..cap) (*out = buf).
 * Returns 0 with *out set; -EINVAL for a record no valid index holds or a buffer too
 * small (a zero record, length 0 or over CHUNK_SIZE_MAX, stored_len other than its
 * stored_length or 0, raw with stored_length other than length, length over cap);
 * -EBADMSG when the stored bytes do not decompress to exactly length bytes; -EILSEQ when
 * the bytes do not match the digest. *out is left alone on failure. */
int chunk_decode(const index_rec *r, const unsigned char *stored, size_t stored_len,
                 unsigned char *buf, size_t cap, const unsigned char **out);

/* The backup that a record belongs to, for sealing and opening its stored bytes. */
typedef struct chunk_owner {
    const seal_key *dk;       /* its data key: NULL for a plain backup */
    const char *backup_id;
    const char *image_id;
} chunk_owner;

/* The place that seals data record r of backup o (seal.h: associated data and nonce):
 * r's object, offset in it, image offset, length and flags (INDEX_FLAG_SEALED
 * included). Cannot fail. */
void chunk_place(const chunk_owner *o, const index_rec *r, seal_place *p);

/* Every reader's decoding of one data record r of backup o: chunk_decode of a plain
 * backup's record; a sealed one is first opened in place with o->dk (stored[0..
 * stored_len - SEAL_TAG_LEN) then holds its plain stored form: stored is changed), then
 * decoded as chunk_decode does. Returns chunk_decode's codes, and -ENOKEY (a sealed
 * record and no data key), -EPERM (a plain record in an encrypted backup: o->dk set),
 * -EKEYREJECTED (the stored bytes do not open at the record's place under o->dk: forged,
 * moved or damaged). No byte of a record that fails is usable; *out untouched then. */
int chunk_read(const chunk_owner *o, const index_rec *r, unsigned char *stored,
               size_t stored_len, unsigned char *buf, size_t cap, const unsigned char **out);

/* The message of a chunk_read failure rc (static text). Cannot fail. */
const char *chunk_read_error(int rc);

#endif
