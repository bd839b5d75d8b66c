/* idxstream.h - a backup's chunk index streamed to and from the bucket, in memory bounded
 * whatever its record count: uploaded as it is made (a multipart upload, parts of `part
 * size`), read back as an index_cursor over ranged GETs.
 *
 * The object is the one writer.c has always written (index.h: the lz4 frame; in an
 * encrypted backup sealed as seal_index does); the manifest keeps its size and SHA-256.
 *
 * Integrity before use: idxstream_open reads the whole object once (a first pass) and
 * checks its size and SHA-256 against the manifest, its GCM tag (sealed), its records
 * (order, fields), their count and their sealed flags, keeping the SHA-256 of each range;
 * the cursor then reads it again and checks each range against its first-pass SHA-256
 * before decoding a byte of it. A caller never gets a record of an index that failed. */
#ifndef RBD2S3_IDXSTREAM_H
#define RBD2S3_IDXSTREAM_H

#include "agent/common/context.h"
#include "agent/format/index.h"

/* ---- Upload ---- */

/* The index of one backup being uploaded (opaque). Uses ctx->s3 from the calling thread
 * only (it drives the engine while one of its parts is in flight). */
typedef struct idxstream_upload idxstream_upload;

/* Start uploading the index object key, sealed under data key dk (NULL: plain; the key
 * must outlive the upload). Makes no request until a part is full. *out is freed with
 * idxstream_upload_free. 0, or -1 (error recorded). */
int idxstream_upload_new(ag_ctx *ctx, const char *key, const seal_key *dk,
                         idxstream_upload **out);

/* The index_sink_fn (index.h) of an upload: arg is the idxstream_upload. Buffers the
 * bytes, sealing them when the backup is encrypted, and uploads a part (Content-MD5, the
 * client's Object Lock retention) each time part size bytes are there. 0, or -EIO with
 * the error recorded in the upload's ctx (the upload is then failed). */
int idxstream_upload_sink(void *arg, const unsigned char *data, size_t len);

/* Finish the object once the frame is all given to the sink: the tag of a sealed index
 * (bound to backup_id, image_id and records), the last part, the completion (an index
 * smaller than one part goes up as one PUT). *size and sha256 (hex) receive those of the
 * object as stored. 0, or -1 (error recorded). */
int idxstream_upload_finish(idxstream_upload *u, const char *backup_id, const char *image_id,
                            uint64_t records, uint64_t *size, char sha256[65]);

/* Take back what was sent: abort the multipart upload, or delete the object once it is
 * complete (best effort, no error recorded). Safe on NULL; free it afterwards. */
void idxstream_upload_abort(idxstream_upload *u);
/* Free (no request is made; an upload neither finished nor aborted stays in the bucket
 * until prune removes it). Safe on NULL. */
void idxstream_upload_free(idxstream_upload *u);

/* ---- Reader ---- */

/* A backup's index being read (opaque). Uses ctx->s3 from the calling thread only. */
typedef struct idxstream_reader idxstream_reader;

#define IDXSTREAM_RANGE (4u << 20)  /* the default size of a ranged GET */

/* Open the index of manifest m (an encrypted backup's with its data key dk, cat_entry.dk)
 * with ranged GETs of range bytes (0: IDXSTREAM_RANGE), holding about range bytes and the
 * lz4 state, and run the first pass (see above). m and dk must outlive the reader. 0, or
 * -1 with the error recorded in ctx: AG_EKEY for an encrypted backup and dk NULL,
 * AG_EINTEGRITY naming the key for a size, checksum, tag, record or count mismatch (as
 * catalog_load_index), the S3 error for a missing object. */
int idxstream_open(ag_ctx *ctx, const manifest *m, const seal_key *dk, size_t range,
                   idxstream_reader **out);

/* The records of an open reader, in offset order, as an index_cursor (index.h): next
 * gives 1 and a record, 0 at the end (exactly m->index_records were given), or a negative
 * errno with the error recorded in ctx (AG_EINTEGRITY naming the key when the object
 * changed since the first pass; the S3 error when a GET fails). Cannot fail itself. */
index_cursor idxstream_cursor(idxstream_reader *r);

/* Free (safe on NULL). */
void idxstream_close(idxstream_reader *r);

#endif
